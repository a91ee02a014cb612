"""lbaas_agent.ini: the sample file loads with the LB agent's schema and
every option in it is one the agent reads; the state directory defaults
under state_path."""
from __future__ import annotations

from pathlib import Path

from neutrino import config
from neutrino.agent.lb.agent import lbaas_dir
from neutrino.agent.lb.options import LB_AGENT_SCHEMA

SAMPLE = Path(__file__).resolve().parents[2] / "etc" / "lbaas_agent.ini"


def test_sample_loads_and_uses_every_option():
    cfg = config.load(LB_AGENT_SCHEMA, [str(SAMPLE)])
    assert not cfg.unused
    assert cfg.haproxy.stats_poll_interval == 1
    assert lbaas_dir(cfg) == Path("/var/lib/neutrino/lbaas")


def test_state_path_override():
    cfg = config.load(LB_AGENT_SCHEMA, [], {"DEFAULT": {"state_path": "/srv/n"},
                                            "haproxy": {"loadbalancer_state_path": "/srv/lb"}})
    assert lbaas_dir(cfg) == Path("/srv/lb")
    cfg = config.load(LB_AGENT_SCHEMA, [], {"DEFAULT": {"state_path": "/srv/n"}})
    assert lbaas_dir(cfg) == Path("/srv/n/lbaas")
