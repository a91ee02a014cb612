"""Lab configuration (pure): what `lab up` hands to the server and to each
host's agent is valid for their option schemas."""
from __future__ import annotations

import pytest

from neutrino import config as config_mod
from neutrino.agent_options import LINUXBRIDGE_AGENT_SCHEMA, parse_mappings
from neutrino.lab.instances import tap_mac, tap_name
from neutrino.lab.state import LabState, loopback_url
from neutrino.lab.topology import plan_topology
from neutrino.options import SERVER_SCHEMA


@pytest.fixture
def state(tmp_path):
    st = LabState(lab_dir=str(tmp_path), prefix="nlabc123-", n_hosts=2, transport="rabbit",
                  rabbit_url="rabbit://guest:guest@localhost:5672/", control_exchange="cx")
    topo = plan_topology(2, st.prefix, str(st.topology_dir))
    st.topology_dir.mkdir(parents=True)
    (st.topology_dir / "topology.json").write_text(topo.to_json())
    st.save()
    return st


def test_agent_ini_is_valid_and_maps_the_lab_nics(state, tmp_path):
    state.write_agent_configs()
    cfg = config_mod.load(LINUXBRIDGE_AGENT_SCHEMA, [str(state.agent_ini_path("host2"))])
    assert cfg.DEFAULT.host == "host2" and cfg.DEFAULT.control_exchange == "cx"
    assert cfg.DEFAULT.transport_url == "rabbit://guest:guest@127.0.0.1:5672/"
    assert parse_mappings(cfg.linux_bridge.physical_interface_mappings) == {
        "physnet1": "eth1", "external": "eth2"}
    assert cfg.vxlan.local_ip == "10.255.0.12" and cfg.vxlan.enable_vxlan
    assert cfg.agent.namespace_prefix == "nlabc123-host2-"
    assert LabState.load(state.lab_dir).control_exchange == "cx"


def test_server_overrides_are_valid(state):
    cfg = config_mod.load(SERVER_SCHEMA, [], state.server_overrides())
    assert cfg.ml2.tenant_network_types == ("vxlan",)
    assert cfg.DEFAULT.bind_host == "127.0.0.1"


def test_inproc_lab_has_its_own_bus(state):
    state.transport = "inproc"
    assert state.transport_url == "inproc://lab-nlabc123"
    assert state.agent_transport_url == state.transport_url


def test_unknown_host(state):
    with pytest.raises(KeyError):
        state.host_info("host9")
    with pytest.raises(KeyError):
        state.host_info("router")


def test_loopback_url_keeps_credentials_port_and_vhost():
    assert loopback_url("rabbit://u:p@10.0.0.5:5673,u:p@10.0.0.6:5673/vh?heartbeat=5") == \
        "rabbit://u:p@127.0.0.1:5673/vh?heartbeat=5"


def test_vif_names():
    assert tap_name("e9e29a83-ef12-4000-8000-000000000000") == "tape9e29a83-ef"
    assert tap_mac("fa:16:3e:b5:73:0d") == "fe:16:3e:b5:73:0d"


def test_agent_options_reject_bad_mappings():
    with pytest.raises(config_mod.ConfigError, match="label:device"):
        config_mod.load(LINUXBRIDGE_AGENT_SCHEMA, [], {"linux_bridge": {
            "physical_interface_mappings": "physnet1"}})
    with pytest.raises(config_mod.ConfigError, match="mapped twice"):
        config_mod.load(LINUXBRIDGE_AGENT_SCHEMA, [], {"linux_bridge": {
            "physical_interface_mappings": "a:eth1,a:eth2"}})
    with pytest.raises(config_mod.ConfigError, match="local_ip"):
        config_mod.load(LINUXBRIDGE_AGENT_SCHEMA, [], {"vxlan": {"local_ip": "nope"}})


def test_security_groups_are_on_unless_asked_off(state):
    state.write_agent_configs()
    on = config_mod.load(LINUXBRIDGE_AGENT_SCHEMA, [str(state.agent_ini_path("host1"))])
    assert on.securitygroup.enable_security_group
    assert on.securitygroup.firewall_driver == "iptables"
    state.firewall = False
    state.write_agent_configs()
    off = config_mod.load(LINUXBRIDGE_AGENT_SCHEMA, [str(state.agent_ini_path("host1"))])
    assert not off.securitygroup.enable_security_group
    assert off.securitygroup.firewall_driver == "noop"


def test_labs_saved_before_the_default_changed_keep_their_firewall(state):
    import json
    path = state.path / "lab.json"
    data = json.loads(path.read_text())
    del data["firewall"]
    path.write_text(json.dumps(data))
    assert LabState.load(state.lab_dir).firewall is False
    data["extra"] = {"firewall": True}
    path.write_text(json.dumps(data))
    assert LabState.load(state.lab_dir).firewall is True


def test_keystone_lab_runs_the_embedded_identity_with_the_labs_admin_password(state):
    from neutrino.lab.identity import new_passwords
    assert config_mod.load(SERVER_SCHEMA, [], state.server_overrides()).DEFAULT.auth_strategy \
        == "noauth"
    state.auth, state.passwords = "keystone", new_passwords()
    state.port = 9999
    cfg = config_mod.load(SERVER_SCHEMA, [], state.server_overrides())
    assert cfg.DEFAULT.auth_strategy == "keystone" and cfg.identity.embedded
    assert cfg.identity.admin_password == state.passwords["admin"]
    assert state.identity_url == "http://127.0.0.1:9999/identity/v3"
    assert set(state.passwords) == {"admin", "demo"}
    assert state.passwords["admin"] != state.passwords["demo"]
    # lab.json holds the passwords: root only
    state.save()
    assert (state.path / "lab.json").stat().st_mode & 0o077 == 0


def test_openrc_is_the_seeds_admin_openrc():
    from neutrino.lab.identity import openrc_lines
    lines = openrc_lines("http://127.0.0.1:9696/identity/v3", "demo", "s3cret x")
    exports = dict(line[len("export "):].split("=", 1) for line in lines
                   if line.startswith("export "))
    assert exports == {"OS_USERNAME": "demo", "OS_PASSWORD": "'s3cret x'",
                       "OS_PROJECT_NAME": "demo", "OS_USER_DOMAIN_NAME": "Default",
                       "OS_PROJECT_DOMAIN_NAME": "Default",
                       "OS_AUTH_URL": "http://127.0.0.1:9696/identity/v3",
                       "OS_IDENTITY_API_VERSION": "3", "OS_IMAGE_API_VERSION": "2",
                       "OS_REGION_NAME": "RegionOne", "OS_INTERFACE": "public"}
    # a noauth environment sourced before must not win over the password
    unset = next(line for line in lines if line.startswith("unset "))
    assert {"OS_AUTH_TYPE", "OS_ENDPOINT", "OS_TOKEN", "OS_CLOUD"} <= set(unset.split())
    with pytest.raises(KeyError):
        openrc_lines("http://x/identity/v3", "nobody", "pw")


def test_lab_up_flags():
    from neutrino.cli.main import build_parser
    parse = build_parser().parse_args
    assert parse(["lab", "up"]).firewall is True
    assert parse(["lab", "up"]).auth == "noauth"
    assert parse(["lab", "up", "--no-firewall"]).firewall is False
    assert parse(["lab", "up", "--firewall"]).firewall is True      # the old flag, a no-op
    assert parse(["lab", "up", "--auth", "keystone"]).auth == "keystone"
    assert parse(["lab", "instance", "create", "--network", "n", "--project", "demo",
                  "vm"]).project == "demo"


def test_the_iptables_backend_reaches_the_agents_and_their_firewall(state):
    from neutrino.agent.l2.firewall.apply import FirewallKernel
    from neutrino.agent.l2.firewall.model import FwConf
    state.write_agent_configs()
    auto = config_mod.load(LINUXBRIDGE_AGENT_SCHEMA, [str(state.agent_ini_path("host1"))])
    assert FwConf.from_config(auto).iptables_backend == "auto"
    state.iptables_backend = "legacy"
    state.write_agent_configs()
    legacy = config_mod.load(LINUXBRIDGE_AGENT_SCHEMA, [str(state.agent_ini_path("host1"))])
    conf = FwConf.from_config(legacy)
    assert conf.iptables_backend == "legacy"
    kernel = FirewallKernel("nowhere", backend=conf.iptables_backend)
    assert kernel.save == {4: "iptables-legacy-save", 6: "ip6tables-legacy-save"}
    assert kernel.restore == {4: "iptables-legacy-restore", 6: "ip6tables-legacy-restore"}
    with pytest.raises(config_mod.ConfigError, match="iptables_backend"):
        config_mod.load(LINUXBRIDGE_AGENT_SCHEMA, [], {"securitygroup": {
            "iptables_backend": "xtables"}})
