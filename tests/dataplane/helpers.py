"""Small assertions shared by dataplane tests (what a user would check)."""

from __future__ import annotations

import contextlib
import uuid

from neutrino.dataplane import netns as ns


def ping(src_netns: str, dst_ip: str, count: int = 1) -> bool:
    out = ns.run(["ping", "-c", str(count), "-W", "1", dst_ip], netns=src_netns, check=False,
                 timeout=10 + count)
    return f"{count} received" in out


def ip_d_link(netns: str, dev: str) -> str:
    return ns.run(["ip", "-d", "link", "show", "dev", dev], netns=netns)



@contextlib.contextmanager
def server_with_l2_agent(tmp_path, netns, name: str, host: str,
                         firewall_driver: str = "iptables", polling_interval: int = 1):
    """A real server core (SQLite, noauth, local networks) on an in-process
    bus, its API as a TestClient, and a "host" namespace where start_agent()
    runs a real Linux bridge agent (firewall on). Yields (client, core,
    host_ns, start_agent); everything is stopped on the way out.
    `firewall_driver`: the agent's [securitygroup] firewall_driver;
    `polling_interval`: its [agent] polling_interval (kernel rescans)."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    from neutrino import config as config_mod
    from neutrino.agent.l2.agent import LinuxBridgeAgent
    from neutrino.agent_options import LINUXBRIDGE_AGENT_SCHEMA
    from neutrino.api.app import build_app
    from neutrino.rpc.bus import make_transport
    from neutrino.rpc.client import LINUXBRIDGE_AGENT_TYPE, ServerClient
    from neutrino.rpc.server_handlers import attach_bus
    from neutrino.service import build_auth, build_core, load_server_config
    prefix = f"{name}-{uuid.uuid4().hex[:8]}"
    cfg = load_server_config([], {
        "DEFAULT": {"state_path": str(tmp_path), "auth_strategy": "noauth"},
        "ml2": {"type_drivers": "local", "tenant_network_types": "local",
                "mechanism_drivers": "linuxbridge"},
        "oslo_policy": {"policy_file": ""}})
    core = build_core(cfg)
    bus = make_transport(f"inproc://{prefix}")
    attach_bus(core, bus, prefix=prefix)
    client = TestClient(build_app(core, build_auth(cfg, core.db)))
    agent_bus = make_transport(f"inproc://{prefix}")
    state = {"agent_type": LINUXBRIDGE_AGENT_TYPE, "binary": "neutrino-linuxbridge-agent",
             "host": host, "topic": "N/A", "start_flag": True,
             "configurations": {"interface_mappings": {}, "bridge_mappings": {},
                                "tunnel_types": [], "devices": 0}}
    ServerClient(agent_bus, host, prefix).report_state(state, wait=True)
    host_ns = netns("host")
    agents = []

    def start_agent():
        acfg = config_mod.load(LINUXBRIDGE_AGENT_SCHEMA, [], {
            "DEFAULT": {"host": host, "transport_url": f"inproc://{prefix}",
                        "control_exchange": prefix},
            "agent": {"report_interval": "0", "polling_interval": str(polling_interval),
                      "resync_interval": "3600"},
            "securitygroup": {"firewall_driver": firewall_driver}})
        agent = LinuxBridgeAgent(acfg, agent_bus, netns=host_ns).start()
        agents.append(agent)
        assert agent.wait_synced(30)
        return agent

    try:
        yield client, core, host_ns, start_agent
    finally:
        for agent in agents:
            if not agent._stop.is_set():     # a test may have stopped one itself
                agent.stop()
        agent_bus.close()
        core.notifier.close()
        bus.close()
        core.db.dispose()
