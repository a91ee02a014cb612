"""neutrino.config: INI loading into frozen sections, with errors that name
the section and option; neutrino.options' server schema."""
from __future__ import annotations

import dataclasses

import pytest

from neutrino.config import (ConfigError, Opt, Schema, Section, choice, int_range, load,
                             parse_argv_files, string, to_bool, to_list)
from neutrino.options import SERVER_SCHEMA


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_defaults_without_files():
    cfg = load(SERVER_SCHEMA)
    assert cfg.DEFAULT.bind_port == 9696
    assert cfg.DEFAULT.api_workers == 2
    assert cfg.DEFAULT.auth_strategy == "noauth"
    assert cfg.DEFAULT.base_mac == "fa:16:3e:00:00:00"
    assert cfg.ml2.type_drivers == ("local", "flat", "vlan", "vxlan")
    assert cfg.ml2_type_flat.flat_networks == ("*",)
    assert cfg.quotas.quota_network == 100 and cfg.quotas.quota_port == 500
    assert cfg.section("database").connection == ""
    assert cfg.files == ()


def test_values_are_converted(tmp_path):
    f = write(tmp_path, "neutron.conf", """
[DEFAULT]
bind_port = 9797
debug = yes
base_mac = FA:16:3E:00:00:00
# a comment
; another
[ml2]
type_drivers = vxlan , vlan,
tenant_network_types = vxlan
[ml2_type_vlan]
network_vlan_ranges = physnet1:100:200,physnet2
[database]
connection = mysql+pymysql://neutron:pa%%ss@db/neutron?charset=utf8
""")
    cfg = load(SERVER_SCHEMA, [f])
    assert cfg.DEFAULT.bind_port == 9797
    assert cfg.DEFAULT.debug is True
    assert cfg.DEFAULT.base_mac == "fa:16:3e:00:00:00"
    assert cfg.ml2.type_drivers == ("vxlan", "vlan")
    assert cfg.ml2_type_vlan.network_vlan_ranges == ("physnet1:100:200", "physnet2")
    # No interpolation: '%' is literal, as in oslo.config.
    assert cfg.database.connection == "mysql+pymysql://neutron:pa%%ss@db/neutron?charset=utf8"
    assert cfg.files == (f,)


def test_unknown_option_names_section_and_option(tmp_path):
    f = write(tmp_path, "n.conf", "[ml2]\ntype_driver = vxlan\n")
    with pytest.raises(ConfigError) as exc:
        load(SERVER_SCHEMA, [f])
    assert "[ml2]" in str(exc.value) and "type_driver" in str(exc.value)
    assert f in str(exc.value)


def test_unknown_section(tmp_path):
    f = write(tmp_path, "n.conf", "[ml3]\nx = 1\n")
    with pytest.raises(ConfigError, match=r"unknown section \[ml3\]"):
        load(SERVER_SCHEMA, [f])


@pytest.mark.parametrize("section,option,value", [
    ("DEFAULT", "bind_port", "ninety"), ("DEFAULT", "bind_port", "70000"),
    ("DEFAULT", "api_workers", "0"), ("DEFAULT", "debug", "maybe"),
    ("DEFAULT", "auth_strategy", "ldap"), ("DEFAULT", "base_mac", "fa:16:3e"),
    ("quotas", "quota_network", "-2"), ("database", "max_pool_size", "1.5"),
])
def test_invalid_values_name_section_and_option(tmp_path, section, option, value):
    f = write(tmp_path, "n.conf", f"[{section}]\n{option} = {value}\n")
    with pytest.raises(ConfigError) as exc:
        load(SERVER_SCHEMA, [f])
    msg = str(exc.value)
    assert f"[{section}] {option}" in msg and "invalid value" in msg and f in msg


def test_later_file_wins_and_overrides_win_last(tmp_path):
    a = write(tmp_path, "a.conf", "[DEFAULT]\nbind_port = 1111\ndebug = true\n")
    b = write(tmp_path, "b.conf", "[DEFAULT]\nbind_port = 2222\n")
    cfg = load(SERVER_SCHEMA, [a, b])
    assert cfg.DEFAULT.bind_port == 2222
    assert cfg.DEFAULT.debug is True  # from the earlier file
    cfg = load(SERVER_SCHEMA, [b, a])
    assert cfg.DEFAULT.bind_port == 1111
    cfg = load(SERVER_SCHEMA, [a, b], {"DEFAULT": {"bind_port": "3333"}})
    assert cfg.DEFAULT.bind_port == 3333
    with pytest.raises(ConfigError, match="<override>"):
        load(SERVER_SCHEMA, [], {"DEFAULT": {"bind_port": "x"}})


def test_ignored_upstream_options_and_sections_accepted(tmp_path):
    f = write(tmp_path, "neutron.conf", """
[DEFAULT]
core_plugin = ml2
service_plugins = router,segments
notify_nova_on_port_status_changes = true
rpc_backend = rabbit
verbose = True
[oslo_concurrency]
lock_path = /var/lib/neutron/tmp
[keystone_authtoken]
www_authenticate_uri = http://controller:5000
[nova]
auth_url = http://controller:5000
[securitygroup]
enable_ipset = true
[quotas]
quota_driver = neutron.db.quota.driver_nolock.DbQuotaNoLockDriver
[oslo_policy]
enforce_scope = false
""")
    cfg = load(SERVER_SCHEMA, [f])
    assert cfg.DEFAULT.core_plugin == "ml2"
    assert cfg.DEFAULT.service_plugins == ("router", "segments")


def test_ignored_options_are_documented_as_such():
    for section in SERVER_SCHEMA.sections.values():
        for opt in section.opts:
            if opt.ignored:
                assert "ccept" in opt.help, (section.name, opt.name)
            assert opt.help, (section.name, opt.name)


def test_option_names_are_case_sensitive(tmp_path):
    f = write(tmp_path, "n.conf", "[DEFAULT]\nBind_Port = 1\n")
    with pytest.raises(ConfigError, match="Bind_Port"):
        load(SERVER_SCHEMA, [f])


def test_unreadable_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        load(SERVER_SCHEMA, [str(tmp_path / "missing.conf")])
    f = write(tmp_path, "bad.conf", "bind_port = 1\n")  # no section header
    with pytest.raises(ConfigError, match="bad.conf"):
        load(SERVER_SCHEMA, [f])


def test_config_is_frozen_and_replace():
    cfg = load(SERVER_SCHEMA)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.DEFAULT.bind_port = 1
    other = cfg.replace("DEFAULT", bind_port=1234)
    assert other.DEFAULT.bind_port == 1234 and cfg.DEFAULT.bind_port == 9696
    with pytest.raises(AttributeError):
        cfg.no_such_section


@pytest.mark.parametrize("raw,value", [("1", True), ("TRUE", True), ("on", True), ("y", True),
                                       ("0", False), ("False", False), ("off", False),
                                       (" no ", False)])
def test_to_bool(raw, value):
    assert to_bool(raw) is value


def test_converters():
    assert to_list(" a, b ,,c ") == ("a", "b", "c")
    assert to_list("") == ()
    assert int_range(1, 3)(" 2 ") == 2
    for bad in ("0", "4", "x"):
        with pytest.raises(ValueError):
            int_range(1, 3)(bad)
    assert int_range(-1)("-1") == -1
    assert choice("a", "b")(" b ") == "b"
    with pytest.raises(ValueError):
        choice("a", "b")("c")
    assert string("  x ") == "x"


def test_custom_schema_and_merge():
    a = Schema([Section("s", (Opt("x", int, 1, "x"),))], ignored_sections=("i1",))
    b = Schema([Section("s", (Opt("y", str, "d", "y"),)), Section("t", (Opt("z", int, 0, "z"),))],
               ignored_sections=("i2",))
    merged = a.merged(b)
    cfg = load(merged, [], {"s": {"x": "5"}, "i1": {"anything": "1"}, "i2": {"q": "2"}})
    assert (cfg.s.x, cfg.s.y, cfg.t.z) == (5, "d", 0)


def test_parse_argv_files():
    argv = ["--config-file", "a.conf", "--debug", "--config-file=b.conf", "--config-file"]
    assert parse_argv_files(argv) == ["a.conf", "b.conf"]
