"""Neutron 25's option catalogue (neutrino/etc/upstream_options.json) and
how the commands' schemas load files that use it: every upstream option is
accepted, those a command does not use are reported, anything else is still
an error. Plus the pure pieces of the start-up decisions: the database URL
mapping, the Keystone choice, the service-credential request bodies and the
Linux bridge agent's host checks."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from neutrino import config, upstream
from neutrino.agent.startup import linuxbridge_problems
from neutrino.config import ConfigError
from neutrino.db.engine import UnusableDatabaseUrl, normalize_url
from neutrino.options import SERVER_SCHEMA

ROOT = Path(__file__).resolve().parents[2]
FILES = ("neutron.conf", "ml2_conf.ini", "linuxbridge_agent.ini", "l3_agent.ini",
         "dhcp_agent.ini", "metadata_agent.ini")


def write(tmp_path, name: str, sections: dict[str, dict[str, str]]) -> str:
    path = tmp_path / name
    with open(path, "w", encoding="utf-8") as handle:
        for section, values in sections.items():
            handle.write(f"[{section}]\n")
            for key, value in values.items():
                handle.write(f"{key} = {value}\n")
            handle.write("\n")
    return str(path)


# --- the catalogue ------------------------------------------------------------------

def test_catalogue_has_the_six_files_with_upstream_names_and_types():
    cat = upstream.catalogue()
    assert sorted(cat) == sorted(FILES)
    neutron = cat["neutron.conf"]
    # The findings of issue 12 that stopped neutrino-server and the agent.
    assert neutron["DEFAULT"]["rpc_workers"] == "integer"
    assert neutron["DEFAULT"]["rpc_state_report_workers"] == "integer"
    assert neutron["DEFAULT"]["api_paste_config"] == "string"
    assert neutron["DEFAULT"]["use_stderr"] == "boolean"
    assert neutron["agent"]["root_helper"] == "string"
    assert {"helper_command", "user", "group", "capabilities"} <= set(neutron["privsep"])
    assert "privsep_link" in neutron and "privsep_namespace" in neutron
    ka = neutron["keystone_authtoken"]
    for name in ("timeout", "default_domain_name", "default_domain_id", "domain_id",
                 "domain_name", "trust_id", "collect_timing", "split_loggers", "admin_user",
                 "auth_host", "identity_uri", "application_credential_secret", "auth_url"):
        assert name in ka, name
    assert ka["timeout"] == "float" and ka["collect_timing"] == "boolean"
    lb = cat["linuxbridge_agent.ini"]
    assert lb["vxlan"]["local_ip"] == "ip" and lb["vxlan"]["udp_dstport"] == "port"
    assert lb["linux_bridge"] == {"bridge_mappings": "list",
                                  "physical_interface_mappings": "list"}
    assert cat["l3_agent.ini"]["DEFAULT"]["agent_mode"] == "string"
    assert "dnsmasq_config_file" in cat["dhcp_agent.ini"]["DEFAULT"]
    assert "nova_metadata_host" in cat["metadata_agent.ini"]["DEFAULT"]
    assert cat["ml2_conf.ini"]["ml2"]["mechanism_drivers"] == "list"
    kinds = {k for f in cat.values() for s in f.values() for k in s.values()}
    assert kinds <= set(upstream.SAMPLE_VALUES), kinds - set(upstream.SAMPLE_VALUES)


def test_catalogue_is_names_and_types_only():
    text = (ROOT / "neutrino" / "etc" / "upstream_options.json").read_text()
    assert "help" not in text.lower().replace("helper", "")
    assert "25.2.3" in text


# --- loading ------------------------------------------------------------------------

def command_files(tmp_path, fname: str) -> list[str]:
    """What upstream's command for `fname` is given: neutron.conf, then its file."""
    neutron = write(tmp_path, "neutron.conf", upstream.sample_file("neutron.conf"))
    if fname in ("neutron.conf", "ml2_conf.ini"):
        return [neutron, write(tmp_path, "ml2_conf.ini", upstream.sample_file("ml2_conf.ini"))]
    return [neutron, write(tmp_path, fname, upstream.sample_file(fname))]


@pytest.mark.parametrize("fname", FILES)
def test_every_upstream_option_loads_and_the_unused_ones_are_reported(tmp_path, fname):
    schema = upstream._schema(upstream.FILE_SCHEMAS[fname])
    files = command_files(tmp_path, fname)
    cfg = config.load(schema, files)
    given = set()
    for name in {Path(f).name for f in files}:
        for section, opts in upstream.catalogue()[name].items():
            given |= {(section, opt) for opt in opts}
    used = {(s.name, o.name) for s in schema.sections.values() for o in s.opts if not o.ignored}
    reported = set()
    for item in cfg.unused:
        m = re.fullmatch(r"\[([^\]]+)\] (\S+)", item)
        assert m, item
        reported.add((m.group(1), m.group(2)))
    assert reported == given - used
    assert len(cfg.unused) == len(set(cfg.unused))   # once, whichever files set it
    assert ("DEFAULT", "use_stderr") in reported


def test_issue_12_findings_load_for_the_server(tmp_path):
    f = write(tmp_path, "neutron.conf", {
        "DEFAULT": {"rpc_workers": "4", "rpc_state_report_workers": "2",
                    "api_paste_config": "api-paste.ini", "use_stderr": "false",
                    "log-date-format": "%Y"},
        "agent": {"root_helper": "sudo neutron-rootwrap /etc/neutron/rootwrap.conf"},
        "privsep": {"helper_command": "sudo privsep-helper"},
        "privsep_link": {"user": "root"},
        "keystone_authtoken": {"collect_timing": "true", "split_loggers": "false",
                               "admin_user": "neutron", "auth_host": "controller",
                               "identity_uri": "http://controller:35357/"}})
    cfg = config.load(SERVER_SCHEMA, [f])
    assert cfg.unused == (
        "[DEFAULT] rpc_workers", "[DEFAULT] rpc_state_report_workers",
        "[DEFAULT] api_paste_config", "[DEFAULT] use_stderr", "[DEFAULT] log_date_format",
        "[agent] root_helper", "[privsep] helper_command", "[privsep_link] user",
        "[keystone_authtoken] collect_timing", "[keystone_authtoken] split_loggers",
        "[keystone_authtoken] admin_user", "[keystone_authtoken] auth_host",
        "[keystone_authtoken] identity_uri")


def test_agents_accept_root_helper_and_privsep(tmp_path):
    from neutrino.agent_options import LINUXBRIDGE_AGENT_SCHEMA
    f = write(tmp_path, "linuxbridge_agent.ini", {
        "agent": {"root_helper": "sudo neutron-rootwrap /etc/neutron/rootwrap.conf",
                  "root_helper_daemon": "sudo neutron-rootwrap-daemon /etc/rootwrap.conf"},
        "privsep": {"helper_command": "sudo privsep-helper"}})
    cfg = config.load(LINUXBRIDGE_AGENT_SCHEMA, [f])
    assert "[agent] root_helper" in cfg.unused and "[privsep] helper_command" in cfg.unused


@pytest.mark.parametrize("section,option", [
    ("DEFAULT", "rpc_worker"),             # a typo of an upstream option
    ("keystone_authtoken", "auth_ur1"),
    ("privsep", "helper"),
    ("nova", "passwrd"),                   # a section neutrino ignores, still checked
])
def test_an_option_in_no_upstream_file_is_still_an_error(tmp_path, section, option):
    f = write(tmp_path, "neutron.conf", {section: {option: "1"}})
    with pytest.raises(ConfigError, match=rf"unknown option \[{section}\] {option} in "):
        config.load(SERVER_SCHEMA, [f])


def test_an_unknown_section_is_still_an_error(tmp_path):
    f = write(tmp_path, "neutron.conf", {"privsep_nothing": {"user": "root"}})
    with pytest.raises(ConfigError, match=r"unknown section \[privsep_nothing\]"):
        config.load(SERVER_SCHEMA, [f])


def test_no_upstream_catalogue_when_a_schema_opts_out(tmp_path):
    schema = config.Schema([config.Section("DEFAULT", ())], upstream=False)
    f = write(tmp_path, "x.conf", {"DEFAULT": {"rpc_workers": "1"}})
    with pytest.raises(ConfigError, match="rpc_workers"):
        config.load(schema, [f])


def test_log_unused_is_one_line(tmp_path, caplog):
    import logging
    f = write(tmp_path, "neutron.conf", {"DEFAULT": {"rpc_workers": "1", "use_stderr": "1"}})
    cfg = config.load(SERVER_SCHEMA, [f])
    with caplog.at_level(logging.INFO):
        config.log_unused(cfg, logging.getLogger("t"))
        config.log_unused(config.load(SERVER_SCHEMA, []), logging.getLogger("t"))
    assert [r.getMessage() for r in caplog.records] == [
        "ignoring 2 option(s) that neutrino does not use: [DEFAULT] rpc_workers, "
        "[DEFAULT] use_stderr"]


def test_used_options_accept_upstream_typed_values():
    """Where neutrino uses an upstream option, a value of upstream's type is
    valid for neutrino too, except where neutrino supports fewer choices
    (drivers, modes) or needs a specific form (mappings, addresses)."""
    narrower = {("DEFAULT", "auth_strategy"), ("DEFAULT", "global_physnet_mtu"),
                ("DEFAULT", "base_mac"), ("DEFAULT", "pagination_max_limit"),
                ("ml2", "overlay_ip_version"), ("keystone_authtoken", "auth_type"),
                ("linux_bridge", "physical_interface_mappings"),
                ("linux_bridge", "bridge_mappings"), ("securitygroup", "firewall_driver"),
                ("DEFAULT", "interface_driver"), ("DEFAULT", "agent_mode"),
                ("DEFAULT", "dhcp_driver"), ("DEFAULT", "dnsmasq_dns_servers"),
                ("DEFAULT", "nova_metadata_protocol"),
                ("DEFAULT", "metadata_proxy_socket_mode"),
                ("DEFAULT", "l3_ha_net_cidr"), ("DEFAULT", "ha_vrrp_auth_type")}
    problems = []
    for fname, dotted in upstream.FILE_SCHEMAS.items():
        schema = upstream._schema(dotted)
        for section in schema.sections.values():
            for opt in section.opts:
                kind = upstream.sections().get(section.name, {}).get(opt.name)
                if kind is None or (section.name, opt.name) in narrower:
                    continue
                try:
                    opt.conv(upstream.SAMPLE_VALUES[kind])
                except (ValueError, TypeError) as exc:
                    problems.append(f"{fname} [{section.name}] {opt.name} ({kind}): {exc}")
    assert not problems, problems


def test_report_interval_takes_upstream_float():
    from neutrino.agent_options import LINUXBRIDGE_AGENT_SCHEMA
    cfg = config.load(LINUXBRIDGE_AGENT_SCHEMA, [], {"agent": {"report_interval": "2.5"}})
    assert cfg.agent.report_interval == 2.5


def test_docs_list_the_ignored_upstream_options():
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    m = re.search(r"<!-- upstream-ignored:begin -->\n(.*)<!-- upstream-ignored:end -->",
                  text, re.S)
    assert m, "docs/configuration.md lacks the upstream-ignored block"
    assert m.group(1) == upstream.unused_markdown(), (
        "regenerate the block with `python -m neutrino.upstream`")


# --- [database] connection ----------------------------------------------------------

@pytest.mark.parametrize("url,want", [
    ("postgresql+psycopg2://u:p@db/neutron", "postgresql+psycopg://u:p@db/neutron"),
    ("postgresql+psycopg://u:p@db/neutron", "postgresql+psycopg://u:p@db/neutron"),
    ("postgresql://u:p@db/neutron", "postgresql+psycopg://u:p@db/neutron"),
    ("mysql+pymysql://u:p@db/neutron?charset=utf8", "mysql+pymysql://u:p@db/neutron?charset=utf8"),
    ("mysql://u:p@db/neutron", "mysql+pymysql://u:p@db/neutron"),
    ("mysql+mysqldb://u:p@db/neutron", "mysql+pymysql://u:p@db/neutron"),
    ("mariadb+pymysql://u:p@db/neutron", "mysql+pymysql://u:p@db/neutron"),
])
def test_database_urls_are_mapped_to_installed_drivers(url, want):
    assert normalize_url(url, "/nonexistent") == want


def test_a_mapped_url_is_logged(caplog):
    import logging

    from neutrino.db import engine
    engine._MAPPED_LOGGED.discard("postgresql+psycopg2")
    with caplog.at_level(logging.WARNING, logger="neutrino.db.engine"):
        normalize_url("postgresql+psycopg2://u:secret@db/n", "/nonexistent")
    text = caplog.text
    assert "postgresql+psycopg2 is not installed; using postgresql+psycopg://" in text
    assert "secret" not in text


@pytest.mark.parametrize("url,message", [
    ("not a url", "is not a database URL"),
    ("oracle://u:p@db/x", "oracle:// is not supported"),
    ("mongodb://db/x", "mongodb:// is not supported"),
])
def test_unusable_database_urls_are_configuration_errors(url, message):
    with pytest.raises(UnusableDatabaseUrl, match=message) as exc:
        normalize_url(url, "/nonexistent")
    assert isinstance(exc.value, ConfigError)


# --- the Keystone choice ------------------------------------------------------------

def server_cfg(**sections):
    return config.load(SERVER_SCHEMA, [], sections)


@pytest.mark.parametrize("authtoken,identity,embedded", [
    ({}, {}, True),                                                      # nothing named
    ({"auth_url": "http://ks:5000/v3"}, {}, False),                      # upstream's meaning
    ({"www_authenticate_uri": "http://ks:5000"}, {}, False),
    ({"auth_uri": "http://ks:5000"}, {}, False),
    ({"auth_url": "http://ks:5000/v3"}, {"embedded": "true"}, True),     # asked explicitly
    ({}, {"embedded": "false"}, False),
])
def test_a_named_keystone_is_used_unless_embedded_is_asked_for(authtoken, identity, embedded):
    cfg = server_cfg(DEFAULT={"auth_strategy": "keystone"}, keystone_authtoken=authtoken,
                     identity=identity)
    assert cfg.identity.embedded is embedded


def test_auth_summary_names_the_validator():
    from neutrino.identity.opts import auth_summary
    remote = server_cfg(DEFAULT={"auth_strategy": "keystone"},
                        keystone_authtoken={"auth_url": "http://ks:5000/v3"})
    assert "validated by the Keystone at http://ks:5000/v3" in auth_summary(remote)
    assert "embedded identity" in auth_summary(server_cfg(DEFAULT={"auth_strategy": "keystone"}))
    assert "noauth" in auth_summary(server_cfg())


def authtoken(**values):
    cfg = server_cfg(DEFAULT={"auth_strategy": "keystone"},
                     keystone_authtoken={"auth_url": "http://ks/v3", **values})
    return cfg.keystone_authtoken


def body(**values):
    from neutrino.identity.validation import RemoteValidator
    validator = RemoteValidator(authtoken(**values))
    validator.check_credentials()
    return validator._auth_body()["auth"]


def test_password_body_with_project_scope():
    auth = body(username="neutron", password="pw", project_name="service",
                user_domain_name="Default", project_domain_id="dom1")
    assert auth["identity"] == {"methods": ["password"], "password": {"user": {
        "name": "neutron", "domain": {"name": "Default"}, "password": "pw"}}}
    assert auth["scope"] == {"project": {"name": "service", "domain": {"id": "dom1"}}}


def test_default_domain_applies_to_user_and_project():
    auth = body(auth_type="v3password", username="neutron", password="pw",
                project_name="service", default_domain_id="d0")
    assert auth["identity"]["password"]["user"]["domain"] == {"id": "d0"}
    assert auth["scope"]["project"]["domain"] == {"id": "d0"}


@pytest.mark.parametrize("values,scope", [
    ({"domain_name": "Default"}, {"domain": {"name": "Default"}}),
    ({"trust_id": "t1"}, {"OS-TRUST:trust": {"id": "t1"}}),
    ({"system_scope": "all"}, {"system": {"all": True}}),
])
def test_other_scopes(values, scope):
    assert body(user_id="u1", password="pw", **values)["scope"] == scope


def test_application_credential_body():
    auth = body(auth_type="v3applicationcredential", application_credential_id="ac1",
                application_credential_secret="s3cret")
    assert auth == {"identity": {"methods": ["application_credential"],
                                 "application_credential": {"id": "ac1", "secret": "s3cret"}}}
    auth = body(auth_type="v3applicationcredential", application_credential_name="svc",
                application_credential_secret="s", username="neutron")
    cred = auth["identity"]["application_credential"]
    assert cred["name"] == "svc" and cred["user"] == {"name": "neutron",
                                                      "domain": {"name": "Default"}}


def test_token_body():
    auth = body(auth_type="v3token", token="tok", project_id="p1")
    assert auth == {"identity": {"methods": ["token"], "token": {"id": "tok"}},
                    "scope": {"project": {"id": "p1"}}}


@pytest.mark.parametrize("values,message", [
    ({"auth_type": "v3applicationcredential", "application_credential_id": "x"},
     "application_credential_secret"),
    ({"auth_type": "token"}, "needs token"),
    ({"username": "neutron"}, "username .*and password"),
])
def test_missing_credentials_are_refused(values, message):
    from neutrino.identity.validation import RemoteValidator
    with pytest.raises(ValueError, match=message):
        RemoteValidator(authtoken(**values)).check_credentials()


def test_v2_auth_types_are_refused():
    with pytest.raises(ConfigError, match="auth_type"):
        server_cfg(keystone_authtoken={"auth_type": "v2password"})


def test_timeout_is_the_http_timeout():
    from neutrino.identity.validation import RemoteValidator
    v = RemoteValidator(authtoken(username="n", password="p", timeout="2.5"))
    assert v.client.timeout.connect == 2.5
    v = RemoteValidator(authtoken(username="n", password="p"))
    assert v.client.timeout.connect == 10


# --- the Linux bridge agent's host checks ---------------------------------------------

def test_linuxbridge_host_checks():
    ok = linuxbridge_problems({"physnet1": "eth1"}, {"ext": "br-ex"}, True, "192.0.2.1",
                              {"lo", "eth1", "br-ex"}, "eth1")
    assert ok == []
    problems = linuxbridge_problems({"physnet1": "eth9"}, {"ext": "br-nope"}, True,
                                    "192.0.2.1", {"lo", "eth1"}, None)
    assert problems == [
        "Interface eth9 for physical network physnet1 does not exist ([linux_bridge] "
        "physical_interface_mappings)",
        "Bridge br-nope for physical network ext does not exist ([linux_bridge] "
        "bridge_mappings)",
        "Tunneling cannot be enabled without the local_ip bound to an interface on the "
        "host: [vxlan] local_ip 192.0.2.1 is on no interface (configure it on the tunnel "
        "interface, or set [vxlan] enable_vxlan = false)"]
    # vxlan off, or no local_ip: nothing to check there
    assert linuxbridge_problems({}, {}, False, "192.0.2.1", set(), None) == []
    assert linuxbridge_problems({}, {}, True, "", set(), None) == []


def test_dashed_names_are_the_same_option(tmp_path):
    """oslo.config reads `log-file` as `log_file` (its dest)."""
    f = write(tmp_path, "neutron.conf", {"DEFAULT": {"log-file": "/tmp/x.log",
                                                     "use-syslog": "false"}})
    cfg = config.load(SERVER_SCHEMA, [f])
    assert cfg.DEFAULT.log_file == "/tmp/x.log"
    assert cfg.unused == ("[DEFAULT] use_syslog",)
