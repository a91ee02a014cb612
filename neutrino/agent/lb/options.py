"""lbaas_agent.ini: the options of neutrino-lb-agent, with the names of
upstream's retired LBaaS v2 agent where one existed ([DEFAULT]
interface_driver, periodic_interval; [haproxy] loadbalancer_state_path,
send_gratuitous_arp) and neutrino's own for the rest."""
from __future__ import annotations

from neutrino.config import Opt, Schema, Section, choice, int_range, string


def _agent_default_opts():
    # neutrino.agent_options imports this module at its end: import lazily
    from neutrino.agent_options import AGENT_DEFAULT
    return AGENT_DEFAULT.opts


def _seconds(lo: float = 0):
    from neutrino.agent_options import seconds
    return seconds(lo)


LB_DEFAULT = Section("DEFAULT", _agent_default_opts() + (
    Opt("interface_driver", choice("linuxbridge", "neutron.agent.linux.interface."
                                   "BridgeInterfaceDriver"), "linuxbridge",
        "How VIP ports are plugged: linuxbridge (a veth whose tap<port> end the Linux "
        "bridge agent of this host puts on the network's bridge)."),
    Opt("periodic_interval", int_range(1), 10, "Accepted for compatibility; see "
        "[agent] resync_interval.", ignored=True),
    Opt("device_driver", string, "", "Accepted for compatibility (haproxy in a namespace "
        "is the only driver).", ignored=True),
))

LB_AGENT = Section("agent", (
    Opt("report_interval", _seconds(0), 30,
        "Seconds between heartbeats to the server (0: never report)."),
    Opt("resync_interval", int_range(1), 60,
        "Seconds between full fetches of this host's load balancers."),
    Opt("namespace_prefix", string, "",
        "Prefix of the qlbaas- namespace names (the lab uses it to keep hosts apart)."),
))

LB_HAPROXY = Section("haproxy", (
    Opt("loadbalancer_state_path", string, "",
        "Directory of the load balancers' files, one <lb-id>/ each with haproxy.conf, "
        "haproxy.pid and the stats socket haproxy.sock (empty: $state_path/lbaas)."),
    Opt("haproxy_binary", string, "haproxy", "The haproxy executable (2.x)."),
    Opt("stats_poll_interval", _seconds(0.2), 1,
        "Seconds between reads of each haproxy's statistics; member health and "
        "statistics that changed are reported to the server at most this often."),
    Opt("send_gratuitous_arp", int_range(0), 3,
        "Gratuitous ARPs sent when a VIP address is added, once its tap is on a bridge, "
        "spaced 0.5, 1, 2 s apart (0: none)."),
    Opt("user_group", string, "", "Accepted for compatibility (haproxy runs as the "
        "agent's user).", ignored=True),
))

LB_AGENT_SCHEMA = Schema(
    (LB_DEFAULT, LB_AGENT, LB_HAPROXY),
    ignored_sections=("oslo_concurrency", "oslo_messaging_rabbit",
                      "oslo_messaging_notifications"),
)
