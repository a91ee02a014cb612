"""A small distributed cloud per test, on services the tests start themselves.

    rabbit, postgres, mariadb   module-scoped private servers (tests/distributed/services.py)
    cloud                       per test: a fresh database on them, two
                                `neutrino-server` processes (2 API workers each)
                                and two simulated hosts, each a network namespace
                                of ours running a real `neutrino-linuxbridge-agent`
                                process, reaching the broker through a relay whose
                                socket lives in that namespace.

The machine's own RabbitMQ/PostgreSQL/MariaDB are never used: a test may
stop and start the private ones at will (the fixtures start them again
afterwards). Everything created (namespaces, processes, directories) carries
a random tag and is removed by PID and by name even when a test fails.
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import shutil
import subprocess
import sys
import tempfile
import time

import httpx
import pytest

from tests.distributed.services import MariaDBServer, PostgresCluster, RabbitNode
from tests.machine import missing

NOT_ROOT = "needs root: network namespaces for the agents' hosts"


@pytest.fixture(scope="module")
def rabbit():
    reason = RabbitNode.unavailable()
    if reason:
        missing(reason)
    node = RabbitNode()
    try:
        yield node.start()
    finally:
        node.stop_all()


def _database_fixture(cls):
    reason = cls.unavailable()
    if reason:
        missing(reason)
    server = cls()
    try:
        yield server.start()
    finally:
        server.stop_all()


@pytest.fixture(scope="module")
def postgres():
    yield from _database_fixture(PostgresCluster)


@pytest.fixture(scope="module")
def mariadb():
    yield from _database_fixture(MariaDBServer)


# --- the cloud -----------------------------------------------------------------------

def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


class Host:
    """A simulated compute host: our namespace, a broker relay into it, and
    a `neutrino-linuxbridge-agent` process running inside it."""

    def __init__(self, name: str, netns: str, base: str, rabbit: RabbitNode, exchange: str,
                 resync_interval: int):
        from neutrino.dataplane import netns as _netns
        from neutrino.lab.relay import BrokerRelay
        self.name, self.netns = name, netns
        self.dir = os.path.join(base, name)
        os.makedirs(self.dir)
        _netns.create(netns)
        self.relay = BrokerRelay(netns, ("127.0.0.1", rabbit.port),
                                 ("127.0.0.1", rabbit.port)).start()
        self.ini = os.path.join(self.dir, "linuxbridge_agent.ini")
        with open(self.ini, "w", encoding="utf-8") as handle:
            handle.write("\n".join([
                "[DEFAULT]", f"host = {name}", f"transport_url = {rabbit.url}",
                f"control_exchange = {exchange}", f"state_path = {self.dir}",
                f"log_file = {self.dir}/agent.log", "",
                "[agent]", "polling_interval = 1", "report_interval = 2",
                # so that only a reconnect (or a notification) explains convergence
                f"resync_interval = {resync_interval}", "",
                "[vxlan]", "enable_vxlan = false", "",
                "[securitygroup]", "enable_security_group = false", "firewall_driver = noop",
                ""]))
        self.proc: subprocess.Popen | None = None
        self.start_agent()

    def start_agent(self) -> None:
        with open(os.path.join(self.dir, "agent.stdout"), "ab") as out:
            self.proc = subprocess.Popen(
                ["ip", "netns", "exec", self.netns, sys.executable, "-m", "neutrino.cli.agents",
                 "--config-file", self.ini], stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True, cwd=self.dir)

    def add_taps(self, port_ids) -> None:
        """What Nova would do: a tap device per port (a veth whose peer stays here)."""
        lines = []
        for pid in port_ids:
            tap, peer = "tap" + pid[:11], "pe" + pid[:11]
            lines += [f"link add {tap} type veth peer name {peer}",
                      f"link set {peer} up", f"link set {tap} up"]
        if lines:
            subprocess.run(["ip", "-n", self.netns, "-batch", "-"], input="\n".join(lines),
                           text=True, check=True, capture_output=True, timeout=120)

    def master_of(self, port_id: str) -> str | None:
        out = subprocess.run(["ip", "-n", self.netns, "-j", "link", "show", "tap" + port_id[:11]],
                             capture_output=True, text=True, check=True, timeout=30).stdout
        return json.loads(out)[0].get("master")

    def agent_log(self, n: int = 40) -> str:
        with contextlib.suppress(OSError), open(os.path.join(self.dir, "agent.log"),
                                                encoding="utf-8", errors="replace") as handle:
            return "".join(handle.readlines()[-n:])
        return ""

    def stop_agent(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)

    def stop(self) -> None:
        from neutrino.dataplane import netns as _netns
        self.stop_agent()
        self.relay.stop()
        _netns.delete(self.netns, missing_ok=True)


class Cloud:
    """Two API servers on one database, two hosts with agents, one broker."""

    def __init__(self, rabbit: RabbitNode, db, backend: str, resync_interval: int = 3600,
                 pool_timeout: int = 4):
        from neutrino.db import migrate
        from neutrino.db.engine import Database
        from tests.api.conftest import start_server
        self.rabbit, self.dbserver, self.backend = rabbit, db, backend
        self.tag = secrets.token_hex(3)
        self.base = tempfile.mkdtemp(prefix=f"neutrino-faults-{self.tag}-")
        self.exchange = f"neutrino-faults-{self.tag}"
        self.db_url = db.create_database(f"neutrino_faults_{self.tag}")
        database = Database(self.db_url, state_path=self.base)
        try:
            migrate.upgrade(database)
        finally:
            database.dispose()
        self.servers = []
        self.hosts: list[Host] = []
        self._clients: list[httpx.Client] = []
        self.sections = sections = {
            "DEFAULT": {"transport_url": rabbit.url, "control_exchange": self.exchange,
                        "api_workers": "2"},
            "database": {"connection": self.db_url, "pool_timeout": str(pool_timeout)},
            "ml2": {"type_drivers": "local,vxlan", "tenant_network_types": "vxlan",
                    "mechanism_drivers": "linuxbridge"},
            "ml2_type_vxlan": {"vni_ranges": "1000:1999"},
            "quotas": {"quota_network": "-1", "quota_subnet": "-1", "quota_port": "-1"},
        }
        try:
            for _ in range(2):
                self.servers.append(start_server(self.base, sections))
            for i in (1, 2):
                self.hosts.append(Host(f"ft{self.tag}-h{i}", f"nft{self.tag}-h{i}", self.base,
                                       rabbit, self.exchange, resync_interval))
            self.wait_agents_alive()
        except BaseException:
            self.close()
            raise

    def restart_server(self, i: int) -> None:
        """Stop server i and start a new one (another port) in its place."""
        from tests.api.conftest import start_server
        self.servers[i].stop()
        self.servers[i] = start_server(self.base, self.sections)
        for n, client in enumerate(self._clients):
            if n % 2 == i:
                client.close()
                self._clients[n] = httpx.Client(base_url=self.servers[i].url, timeout=30)

    # --- API ---------------------------------------------------------------------
    def client(self, i: int = 0) -> httpx.Client:
        while len(self._clients) <= i:
            n = len(self._clients)
            self._clients.append(httpx.Client(base_url=self.servers[n % 2].url, timeout=30))
        return self._clients[i]

    def request(self, method: str, path: str, server: int = 0, **kw) -> httpx.Response:
        return self.client(server).request(method, path, **kw)

    def create(self, collection: str, body: dict, server: int = 0) -> dict:
        singular = collection[:-1]
        r = self.request("POST", f"/v2.0/{collection}", server, json={singular: body})
        assert r.status_code == 201, r.text
        return r.json()[singular]

    def show(self, collection: str, rid: str, server: int = 0) -> dict:
        r = self.request("GET", f"/v2.0/{collection}/{rid}", server)
        assert r.status_code == 200, r.text
        return r.json()[collection[:-1]]

    def local_network(self) -> dict:
        net = self.create("networks", {"name": f"net-{secrets.token_hex(2)}",
                                       "provider:network_type": "local"})
        self.create("subnets", {"network_id": net["id"], "cidr": "10.8.0.0/22",
                                "ip_version": 4})
        return net

    def port(self, net: dict, host: Host, server: int = 0, **extra) -> dict:
        return self.create("ports", {"network_id": net["id"], "binding:host_id": host.name,
                                     **extra}, server)

    def wait_status(self, port_ids, status: str = "ACTIVE", timeout: float = 60.0,
                    server: int = 0) -> None:
        pending = set(port_ids)
        deadline = time.monotonic() + timeout
        last = {}
        while pending:
            for pid in sorted(pending):
                last[pid] = self.show("ports", pid, server)["status"]
                if last[pid] == status:
                    pending.discard(pid)
            if not pending:
                return
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{len(pending)} port(s) not {status} after {timeout:.0f} s: "
                    + ", ".join(f"{p} {last[p]}" for p in sorted(pending)[:5]) + "\n"
                    + "\n".join(f"--- {h.name} agent log:\n{h.agent_log(20)}"
                                for h in self.hosts))
            time.sleep(0.25)

    def agents_alive(self, server: int = 0) -> dict[str, bool]:
        r = self.request("GET", "/v2.0/agents", server)
        assert r.status_code == 200, r.text
        return {a["host"]: a["alive"] for a in r.json()["agents"]}

    def wait_agents_alive(self, timeout: float = 60.0, server: int = 0) -> None:
        deadline = time.monotonic() + timeout
        want = {h.name for h in self.hosts}
        while True:
            with contextlib.suppress(httpx.HTTPError, AssertionError):
                alive = self.agents_alive(server)
                if all(alive.get(h) for h in want):
                    return
            if time.monotonic() > deadline:
                raise AssertionError("agents not alive:\n" + "\n".join(
                    f"--- {h.name}:\n{h.agent_log(20)}" for h in self.hosts))
            time.sleep(0.2)

    def sql(self, statement: str, **params) -> list[tuple]:
        """Read the database directly, as an operator would."""
        from sqlalchemy import create_engine, text
        engine = create_engine(self.db_url)
        try:
            with engine.connect() as conn:
                return [tuple(row) for row in conn.execute(text(statement), params)]
        finally:
            engine.dispose()

    def close(self) -> None:
        for client in self._clients:
            client.close()
        for host in self.hosts:
            with contextlib.suppress(Exception):
                host.stop()
        for server in self.servers:
            with contextlib.suppress(Exception):
                server.stop()
        shutil.rmtree(self.base, ignore_errors=True)


def _cloud(request, rabbit, db, backend: str):
    if os.geteuid() != 0:
        missing(NOT_ROOT)
    marker = request.node.get_closest_marker("cloud")
    cloud = Cloud(rabbit, db, backend, **(marker.kwargs if marker else {}))
    try:
        yield cloud
    finally:
        cloud.close()
        # a test may have stopped them: the next test finds them running
        rabbit.start()
        db.start()


@pytest.fixture
def cloud(request, rabbit, postgres):
    """Two servers on our PostgreSQL, two hosts' agents, our RabbitMQ."""
    yield from _cloud(request, rabbit, postgres, "postgresql")


@pytest.fixture
def cloud_mariadb(request, rabbit, mariadb):
    yield from _cloud(request, rabbit, mariadb, "mariadb")


def pytest_configure(config):
    config.addinivalue_line("markers", "cloud(**kwargs): options of the `cloud` fixture")
