"""The multi-host lab's configuration (pure): with --l2pop, --db, --servers
and --l3-hosts, what `lab up` writes is valid for the server's and the
agents' option schemas and says what was asked."""
from __future__ import annotations

import pytest

from neutrino import config as config_mod
from neutrino.agent_options import LINUXBRIDGE_AGENT_SCHEMA
from neutrino.lab import database
from neutrino.lab.state import LabState
from neutrino.lab.topology import plan_topology
from neutrino.options import SERVER_SCHEMA

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/neutrino_lab_nlabc123_0a1b2c"


@pytest.fixture
def state(tmp_path):
    st = LabState(lab_dir=str(tmp_path), prefix="nlabc123-", n_hosts=3, transport="rabbit",
                  rabbit_url="rabbit://guest:guest@localhost:5672/", control_exchange="cx",
                  port=9696, db="postgresql", db_url=PG, servers=2, l2pop=True,
                  l3_hosts=["host3"])
    topo = plan_topology(3, st.prefix, str(st.topology_dir))
    st.topology_dir.mkdir(parents=True)
    (st.topology_dir / "topology.json").write_text(topo.to_json())
    st.save()
    return st


def test_agents_get_l2population_and_only_host3_an_l3_agent(state):
    state.write_agent_configs()
    for host in state.host_names():
        cfg = config_mod.load(LINUXBRIDGE_AGENT_SCHEMA, [str(state.agent_ini_path(host))])
        assert cfg.vxlan.l2_population and cfg.vxlan.arp_responder
    assert [h for h in state.host_names() if state.l3_agent_ini_path(h).exists()] == ["host3"]
    loaded = LabState.load(state.lab_dir)
    assert (loaded.db, loaded.db_url, loaded.servers, loaded.l2pop, loaded.l3_hosts) == (
        "postgresql", PG, 2, True, ["host3"])


def test_extra_server_config_is_the_runtime_s_on_its_own_port(state):
    assert state.extra_server_names() == ["server2"]
    path = state.server_ini_path("server2")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(state.server_ini("server2", 41000))
    cfg = config_mod.load(SERVER_SCHEMA, [str(path)])     # unknown options would fail here
    assert cfg.DEFAULT.bind_port == 41000 and cfg.DEFAULT.control_exchange == "cx"
    assert cfg.database.connection == PG
    assert cfg.ml2.mechanism_drivers == ("linuxbridge", "l2population")
    assert cfg.DEFAULT.transport_url == state.rabbit_url
    assert state.server_urls()[0] == "http://127.0.0.1:9696"


def test_without_l2pop_the_seed_s_multicast_setup(tmp_path):
    st = LabState(lab_dir=str(tmp_path), prefix="nlabc124-", n_hosts=1, transport="inproc")
    cfg = config_mod.load(SERVER_SCHEMA, [], st.server_overrides())
    assert cfg.ml2.mechanism_drivers == ("linuxbridge",)
    assert cfg.database.connection == ""          # SQLite in the lab directory


def test_database_names_and_refusals():
    assert database.create("sqlite", "nlabc123-") == ""
    with pytest.raises(ValueError):
        database.create("oracle", "nlabc123-")
    with pytest.raises(ValueError, match="not a lab database"):
        database.drop("postgresql", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    database.drop("sqlite", "")                    # nothing to drop
