"""Agents refuse a configuration that cannot work on their host (issue 12):
exit status 1 and "<reason>. Agent terminated!", as upstream's agents, instead
of logging an error and reporting themselves alive. Each runs in a namespace
of this test (its host) that has one interface, one bridge and one address;
the checks come before the agent joins the bus, so no broker is involved."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess

import pytest

from tests.dataplane.upstream_files import BIN, write_ini

pytestmark = pytest.mark.root


@pytest.fixture
def host(netns):
    ns = netns("host")
    for argv in (["link", "add", "eth-ok", "type", "veth", "peer", "name", "eth-okp"],
                 ["link", "add", "br-ok", "type", "bridge"],
                 ["addr", "add", "192.0.2.7/24", "dev", "eth-ok"],
                 ["link", "set", "eth-ok", "up"]):
        subprocess.run(["ip", "-n", ns, *argv], check=True, capture_output=True)
    return ns


def run_agent(host: str, tmp_path, cmd: str, sections: dict,
              path: str | None = None) -> subprocess.CompletedProcess:
    base = {"DEFAULT": {"host": "startup-check", "state_path": str(tmp_path),
                        # never reached: the checks run first
                        "transport_url": "rabbit://guest:guest@127.0.0.1:1/"}}
    for section, values in sections.items():
        base.setdefault(section, {}).update(values)
    ini = write_ini(tmp_path / "agent.ini", base)
    env = dict(os.environ, PATH=path) if path is not None else None
    return subprocess.run([shutil.which("ip"), "netns", "exec", host, str(BIN / cmd),
                           "--config-file", ini], capture_output=True, text=True, timeout=60,
                          env=env)


LB_OK = {"linux_bridge": {"physical_interface_mappings": "physnet1:eth-ok",
                          "bridge_mappings": "physnet2:br-ok"},
         "vxlan": {"enable_vxlan": "true", "local_ip": "192.0.2.7"}}


@pytest.mark.parametrize("change,reason", [
    ({"linux_bridge": {"physical_interface_mappings": "physnet1:eth-missing"}},
     "Interface eth-missing for physical network physnet1 does not exist"),
    ({"linux_bridge": {"bridge_mappings": "physnet2:br-missing"}},
     "Bridge br-missing for physical network physnet2 does not exist"),
    ({"vxlan": {"local_ip": "192.0.2.99"}},
     "[vxlan] local_ip 192.0.2.99 is on no interface"),
])
def test_linuxbridge_agent_terminates(host, tmp_path, change, reason):
    sections = {k: dict(v) for k, v in LB_OK.items()}
    for section, values in change.items():
        sections[section].update(values)
    proc = run_agent(host, tmp_path, "neutrino-linuxbridge-agent", sections)
    assert proc.returncode == 1, proc.stderr
    assert reason in proc.stderr
    assert "Agent terminated!" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_linuxbridge_checks_pass_on_a_host_that_has_everything(host, tmp_path):
    """The same files with the devices present get past the checks: the
    agent goes on to the bus (here unreachable), it is not terminated."""
    proc = subprocess.Popen(
        ["ip", "netns", "exec", host, str(BIN / "neutrino-linuxbridge-agent"),
         "--config-file", write_ini(tmp_path / "ok.ini", {
             "DEFAULT": {"host": "startup-ok", "state_path": str(tmp_path),
                         "transport_url": "rabbit://guest:guest@127.0.0.1:1/"}, **LB_OK})],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        try:
            out, _ = proc.communicate(timeout=8)
        except subprocess.TimeoutExpired:
            out = ""                       # still running: past the checks
        assert "Agent terminated" not in out, out
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)   # its own session: the agent and helpers
            proc.wait(timeout=10)


def test_linuxbridge_agent_terminates_without_its_iptables_backends_tools(host, tmp_path):
    """[securitygroup] iptables_backend = legacy on a host whose PATH has no
    iptables-legacy: refused at start, not at the first filter."""
    (tmp_path / "bin").mkdir()
    sections = {k: dict(v) for k, v in LB_OK.items()}
    sections["securitygroup"] = {"firewall_driver": "iptables", "iptables_backend": "legacy"}
    proc = run_agent(host, tmp_path, "neutrino-linuxbridge-agent", sections,
                     path=str(tmp_path / "bin"))
    assert proc.returncode == 1, proc.stderr
    assert ("[securitygroup] iptables_backend 'iptables-legacy-restore' is not an executable"
            in proc.stderr)
    assert "Agent terminated!" in proc.stderr


def test_dhcp_agent_terminates_without_dnsmasq(host, tmp_path):
    proc = run_agent(host, tmp_path, "neutrino-dhcp-agent",
                     {"DEFAULT": {"dnsmasq_binary": "/nonexistent/dnsmasq"}})
    assert proc.returncode == 1, proc.stderr
    assert "[DEFAULT] dnsmasq_binary '/nonexistent/dnsmasq' is not an executable" in proc.stderr
    assert "Agent terminated!" in proc.stderr


def test_agent_configuration_errors_exit_2(host, tmp_path):
    proc = run_agent(host, tmp_path, "neutrino-linuxbridge-agent",
                     {"vxlan": {"local_ipp": "192.0.2.7"}})
    assert proc.returncode == 2
    assert "configuration error: unknown option [vxlan] local_ipp" in proc.stderr


def test_an_address_of_another_namespace_is_not_the_hosts(host, tmp_path):
    """local_ip is looked for where the agent runs: an address the machine's
    own namespace holds (read, never touched) does not count."""
    from neutrino.dataplane.rtnl_fast import ipv4_addresses
    theirs = [addr for _, addr, _ in ipv4_addresses(None) if not addr.startswith("127.")]
    if not theirs:
        pytest.skip("the machine's namespace has no IPv4 address besides loopback")
    sections = {k: dict(v) for k, v in LB_OK.items()}
    sections["vxlan"]["local_ip"] = theirs[0]
    proc = run_agent(host, tmp_path, "neutrino-linuxbridge-agent", sections)
    assert proc.returncode == 1, proc.stderr
    assert f"[vxlan] local_ip {theirs[0]} is on no interface" in proc.stderr
