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
