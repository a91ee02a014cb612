"""Every server and agent command starts on configuration files that set
every option Neutron 25.2.3's files define (issue 12): neutrino-db-manage
and neutrino-server on neutron.conf + ml2_conf.ini (PostgreSQL spelled
`postgresql+psycopg2://`, as upstream's guides do), and each agent on
neutron.conf + its own file, as upstream's agents are usually started,
inside a network namespace of this test (a simulated host) that reaches the
machine's RabbitMQ through a relay socket. Each command names the upstream
options it ignores in one log line; the agents report themselves alive to
the server. `neutrino aio` loads the same files in a namespace of its own.

Names carry a random tag; processes are stopped by PID, the database is
dropped and the namespaces deleted even when the test fails.
"""
from __future__ import annotations

import re
import secrets
import socket
import subprocess

import httpx
import pytest

from tests.dataplane.upstream_files import (BIN, PgDatabase, Proc, config_args, require_rabbit,
                                            upstream_file, wait_for)

pytestmark = pytest.mark.root

AGENTS = {  # command: (upstream file, agent_type)
    "neutrino-linuxbridge-agent": ("linuxbridge_agent.ini", "Linux bridge agent"),
    "neutrino-l3-agent": ("l3_agent.ini", "L3 agent"),
    "neutrino-dhcp-agent": ("dhcp_agent.ini", "DHCP agent"),
    "neutrino-metadata-agent": ("metadata_agent.ini", "Metadata agent"),
}
UNUSED = re.compile(r"ignoring (\d+) option\(s\) that neutrino does not use: (.*)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


def make_host(netns, tag: str) -> str:
    """A namespace with what the agent files map: a physical interface, a
    bridge, and the VTEP address on an interface."""
    ns = netns(tag)
    # veth pairs inside the namespace (this kernel has no dummy driver)
    ip("-n", ns, "link", "add", "phys-up1", "type", "veth", "peer", "name", "phys-up1p")
    ip("-n", ns, "link", "add", "br-up1", "type", "bridge")
    ip("-n", ns, "link", "add", "vtep-up1", "type", "veth", "peer", "name", "vtep-up1p")
    ip("-n", ns, "addr", "add", "192.0.2.50/24", "dev", "vtep-up1")
    for dev in ("phys-up1", "br-up1", "vtep-up1"):
        ip("-n", ns, "link", "set", dev, "up")
    return ns


def unused_line(text: str, lines: int = 1) -> tuple[int, str]:
    """The last of `lines` 'ignoring ... options' lines (one per start)."""
    found = list(UNUSED.finditer(text))
    assert len(found) == lines, f"expected {lines} 'ignoring ... options' line(s):\n" + \
        text[-3000:]
    return int(found[-1].group(1)), found[-1].group(2)


def agent_overrides(tag: str, host: str, state: str, log: str) -> dict:
    return {"DEFAULT": {"host": host, "state_path": state, "log_file": log, "debug": "false",
                        "transport_url": "rabbit://guest:guest@127.0.0.1:5672/",
                        "control_exchange": f"neutrino-{tag}"},
            "agent": {"report_interval": "2", "namespace_prefix": f"{tag}-"}}


def test_every_command_starts_on_upstream_files(tmp_path, netns):
    from neutrino.lab.relay import BrokerRelay
    require_rabbit()
    tag = "up" + secrets.token_hex(3)
    db = PgDatabase()
    procs: list[Proc] = []
    relay = None
    try:
        url = db.url.replace("postgresql+psycopg://", "postgresql+psycopg2://")
        port = free_port()
        server_default = {"bind_host": "127.0.0.1", "bind_port": str(port),
                          "api_workers": "1", "state_path": str(tmp_path / "server"),
                          "log_file": str(tmp_path / "server.log"), "debug": "false",
                          "transport_url": "rabbit://guest:guest@127.0.0.1:5672/",
                          "control_exchange": f"neutrino-{tag}", "auth_strategy": "noauth"}
        neutron_conf = upstream_file(tmp_path / "neutron.conf", "neutron.conf", {
            "DEFAULT": server_default, "database": {"connection": url}})
        ml2_conf = upstream_file(tmp_path / "ml2_conf.ini", "ml2_conf.ini", {
            "DEFAULT": {"log_file": server_default["log_file"], "debug": "false"},
            "ml2": {"type_drivers": "flat,vlan,vxlan", "tenant_network_types": "vxlan"},
            "ml2_type_vxlan": {"vni_ranges": "1000:1999"}})
        server_files = [neutron_conf, ml2_conf]

        # neutrino-db-manage on an empty database spelled as upstream spells it
        proc = subprocess.run([str(BIN / "neutrino-db-manage"), *config_args(server_files),
                               "upgrade", "head"], capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        count, names = unused_line((tmp_path / "server.log").read_text())   # its log_file
        assert "[DEFAULT] rpc_workers" in names and "[DEFAULT] api_paste_config" in names
        assert "[privsep] helper_command" in names and "[agent] root_helper" in names

        server = Proc([str(BIN / "neutrino-server"), *config_args(server_files)],
                      tmp_path / "server.out")
        procs.append(server)
        api = f"http://127.0.0.1:{port}"

        def answers():
            try:
                return httpx.get(api + "/", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False
        wait_for(answers, 90, "neutrino-server answering GET /", server)
        server_log = (tmp_path / "server.log").read_text()
        server_count, server_names = unused_line(server_log, lines=2)  # db-manage's, its own
        assert server_count > 500, server_names[:300]
        for name in ("[DEFAULT] rpc_workers", "[DEFAULT] rpc_state_report_workers",
                     "[DEFAULT] api_paste_config", "[DEFAULT] use_stderr",
                     "[keystone_authtoken] collect_timing", "[nova] auth_url",
                     "[ml2] extension_drivers"):
            assert name in server_names, name

        # the agents, in a simulated host, reaching the broker through a relay
        host_ns = make_host(netns, "host")
        relay = BrokerRelay(host_ns, ("127.0.0.1", 5672), ("127.0.0.1", 5672)).start()
        host = f"{tag}-host"
        for cmd, (fname, _) in AGENTS.items():
            short = cmd.removeprefix("neutrino-")
            over = agent_overrides(tag, host, str(tmp_path / short),
                                   str(tmp_path / f"{short}.log"))
            if fname == "linuxbridge_agent.ini":
                over["linux_bridge"] = {"physical_interface_mappings": "physnet1:phys-up1",
                                        "bridge_mappings": "physnet2:br-up1"}
                over["vxlan"] = {"enable_vxlan": "true", "local_ip": "192.0.2.50"}
            if fname == "metadata_agent.ini":
                del over["agent"]["namespace_prefix"]    # it creates no namespaces
            ini = upstream_file(tmp_path / fname, fname, over)
            procs.append(Proc([str(BIN / cmd), *config_args([neutron_conf, ini])],
                              tmp_path / f"{short}.out", netns=host_ns))

        def alive_agents():
            for proc in procs:
                assert proc.alive(), proc.text()[-3000:]
            resp = httpx.get(api + "/v2.0/agents", params={"host": host}, timeout=10)
            types = {a["agent_type"] for a in resp.json()["agents"] if a["alive"]}
            return types if types >= {t for _, t in AGENTS.values()} else None
        wait_for(alive_agents, 120, f"all four agents alive on {host}")
        for cmd, (fname, _) in AGENTS.items():
            short = cmd.removeprefix("neutrino-")
            text = (tmp_path / f"{short}.log").read_text()
            assert "Agent terminated" not in text, text[-2000:]
            count, names = unused_line(text)
            # from neutron.conf, as given to upstream's agents
            assert "[DEFAULT] rpc_workers" in names and "[agent] root_helper" in names, cmd
        assert all(p.alive() for p in procs), [p.text()[-2000:] for p in procs
                                               if not p.alive()]
    finally:
        for proc in reversed(procs):
            proc.stop()
        if relay is not None:
            relay.stop()
        db.drop()


def test_aio_starts_on_upstream_files(tmp_path, netns):
    """`neutrino aio` (server + Linux bridge agent, SQLite, in-process bus) on
    the same full files, in a namespace of its own."""
    ns = make_host(netns, "aio")
    port = 9696
    log = tmp_path / "aio.log"
    neutron_conf = upstream_file(tmp_path / "neutron.conf", "neutron.conf", {
        "DEFAULT": {"bind_host": "127.0.0.1", "bind_port": str(port), "api_workers": "1",
                    "state_path": str(tmp_path / "state"), "log_file": str(log),
                    "transport_url": "inproc://", "auth_strategy": "noauth"},
        "database": {"connection": ""}})
    ml2_conf = upstream_file(tmp_path / "ml2_conf.ini", "ml2_conf.ini",
                             {"DEFAULT": {"log_file": str(log)}})
    lb_ini = upstream_file(tmp_path / "linuxbridge_agent.ini", "linuxbridge_agent.ini", {
        "DEFAULT": {"host": "aio-" + ns, "log_file": str(log)},
        "linux_bridge": {"physical_interface_mappings": "physnet1:phys-up1",
                         "bridge_mappings": "physnet2:br-up1"},
        "vxlan": {"enable_vxlan": "true", "local_ip": "192.0.2.50"},
        "agent": {"report_interval": "2"}})
    aio = Proc([str(BIN / "neutrino"), "aio", *config_args([neutron_conf, ml2_conf]),
                "--agent-config-file", lb_ini], tmp_path / "aio.out", netns=ns)
    try:
        def agents():
            out = subprocess.run(["ip", "netns", "exec", ns, "curl", "-s", "-m", "3",
                                  f"http://127.0.0.1:{port}/v2.0/agents"],
                                 capture_output=True, text=True)
            return out.returncode == 0 and '"Linux bridge agent"' in out.stdout \
                and '"alive":true' in out.stdout.replace(" ", "")
        wait_for(agents, 90, "neutrino aio answering with its agent alive", aio)
        text = log.read_text()
        lines = UNUSED.findall(text)
        assert len(lines) == 2, text[-3000:]          # the server's files, the agent's file
        assert any("[DEFAULT] rpc_workers" in names for _, names in lines)
        assert any("[vxlan] udp_srcport_min" in names for _, names in lines)
        assert aio.alive()
    finally:
        aio.stop()
