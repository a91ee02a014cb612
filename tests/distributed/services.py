"""Private RabbitMQ, PostgreSQL and MariaDB servers for the fault tests.

Each service runs from the distribution's binaries, as our own child process
(its own session, so it is stopped by its PID and the group it leads), on
free ports of 127.0.0.1, with every file (data, logs, cookie, sockets) in a
temporary directory. The machine's own brokers and databases (5672, 5432,
3306, their data and configuration files) are never read nor touched: each
service is told explicitly not to use /etc (no config files, own env file,
`--no-defaults`). A missing binary gives `unavailable()`, the exact reason
the test fails with (tests/machine.py).
"""
from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time

RABBIT_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"   # the script the Debian wrapper runs
EPMD = shutil.which("epmd") or "/usr/bin/epmd"
MARIADBD = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
MARIADB_INSTALL_DB = shutil.which("mariadb-install-db") or "/usr/bin/mariadb-install-db"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _tail(path: str, n: int = 30) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return "".join(handle.readlines()[-n:])
    except OSError:
        return ""


class ServiceError(RuntimeError):
    pass


class _Child:
    """A service process we started, in a session of its own."""

    def __init__(self, name: str, log: str):
        self.name = name
        self.log = log
        self.proc: subprocess.Popen | None = None

    def spawn(self, argv: list[str], env: dict | None = None, user: str | None = None,
              cwd: str | None = None) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(argv, env=env, user=user, cwd=cwd,
                                         stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.running else None

    def wait_ready(self, ready, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if not self.running:
                raise ServiceError(f"{self.name} exited:\n{_tail(self.log)}")
            if ready():
                return
            if time.monotonic() > deadline:
                raise ServiceError(f"{self.name} not ready after {timeout:.0f} s:\n"
                                   f"{_tail(self.log)}")
            time.sleep(0.2)

    def signal(self, sig: int, timeout: float = 30.0) -> None:
        """Send `sig` to the service's leader and wait for the whole session to end."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        # helpers the leader started (erl_child_setup, ...) are in its group
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)


# --- RabbitMQ ------------------------------------------------------------------------

class RabbitNode:
    """A RabbitMQ node of our own.

    The Debian `rabbitmq-server` wrapper cds to /var/lib/rabbitmq and su's to
    the rabbitmq user; we run the script it wraps directly, as root, with
    every location in RABBITMQ_* variables: RABBITMQ_CONF_ENV_FILE and
    RABBITMQ_CONFIG_FILE point at our files, so /etc/rabbitmq (which says
    127.0.0.1:5672) is not read. HOME is ours (the Erlang cookie is created
    there), and so is the epmd port: the node starts its own epmd, which
    `stop_all` ends with `epmd -port P -kill`."""

    def __init__(self, base: str | None = None):
        self.base = base or tempfile.mkdtemp(prefix="neutrino-rabbit-")
        self.node = f"neutrino-test-{secrets.token_hex(4)}@localhost"
        self.port = free_port()
        self.dist_port = free_port()
        self.epmd_port = free_port()
        self.user, self.password = "neutrino", secrets.token_hex(8)
        for sub in ("home", "mnesia", "log"):
            os.makedirs(os.path.join(self.base, sub), exist_ok=True)
        with open(os.path.join(self.base, "rabbitmq.conf"), "w", encoding="utf-8") as f:
            f.write(f"listeners.tcp.1 = 127.0.0.1:{self.port}\n"
                    "loopback_users = none\n"
                    f"default_user = {self.user}\ndefault_pass = {self.password}\n"
                    "log.console = true\nlog.console.level = warning\n")
        for name in ("rabbitmq-env.conf", "enabled_plugins"):
            open(os.path.join(self.base, name), "w", encoding="utf-8").close()
        self._child = _Child(f"rabbitmq {self.node}", os.path.join(self.base, "stdout.log"))

    @staticmethod
    def unavailable() -> str | None:
        for path in (RABBIT_SERVER, EPMD):
            if not os.access(path, os.X_OK):
                return f"{path} not installed (Debian package rabbitmq-server)"
        return None

    @property
    def url(self) -> str:
        return f"rabbit://{self.user}:{self.password}@127.0.0.1:{self.port}/"

    @property
    def pid(self) -> int | None:
        return self._child.pid

    def _env(self) -> dict[str, str]:
        b = self.base
        return {
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": os.path.join(b, "home"), "LANG": "C.UTF-8",
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "ERL_EPMD_PORT": str(self.epmd_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS":
                "-kernel inet_dist_use_interface {127,0,0,1}",
            "RABBITMQ_MNESIA_BASE": os.path.join(b, "mnesia"),
            "RABBITMQ_LOG_BASE": os.path.join(b, "log"),
            "RABBITMQ_CONFIG_FILE": os.path.join(b, "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": os.path.join(b, "advanced.config"),
            "RABBITMQ_CONF_ENV_FILE": os.path.join(b, "rabbitmq-env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": os.path.join(b, "enabled_plugins"),
            "RABBITMQ_PLUGINS_EXPAND_DIR": os.path.join(b, "plugins-expand"),
            "RABBITMQ_PID_FILE": os.path.join(b, "rabbit.pid"),
        }

    def _accepts_amqp(self) -> bool:
        if not _listening(self.port):
            return False
        import kombu
        try:
            with kombu.Connection(f"amqp://{self.user}:{self.password}@127.0.0.1:{self.port}//",
                                  connect_timeout=2) as conn:
                conn.ensure_connection(max_retries=1)
            return True
        except Exception:  # noqa: BLE001 - not ready yet
            return False

    def start(self, timeout: float = 90.0) -> "RabbitNode":
        if self._child.running:
            return self
        self._child.spawn([RABBIT_SERVER], env=self._env(), cwd=self.base)
        self._child.wait_ready(self._accepts_amqp, timeout)
        return self

    def ctl(self, *args: str) -> str:
        """rabbitmqctl against this node (diagnostics: list_queues, list_consumers)."""
        done = subprocess.run([os.path.join(os.path.dirname(RABBIT_SERVER), "rabbitmqctl"),
                               "-n", self.node, "-q", *args], env=self._env(),
                              capture_output=True, text=True, timeout=60, check=False)
        return done.stdout + done.stderr

    def stop(self) -> None:
        """A clean broker shutdown (SIGTERM: the node closes every client
        connection with 320 CONNECTION_FORCED, as on a service restart)."""
        self._child.signal(signal.SIGTERM, timeout=60)

    def stop_all(self) -> None:
        self.stop()
        if os.access(EPMD, os.X_OK):
            subprocess.run([EPMD, "-port", str(self.epmd_port), "-kill"],
                           env={"PATH": "/usr/bin:/bin", "HOME": os.path.join(self.base, "home")},
                           capture_output=True, timeout=10, check=False)
        shutil.rmtree(self.base, ignore_errors=True)


# --- PostgreSQL ----------------------------------------------------------------------

def _pg_bindir() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    return os.path.dirname(found[-1]) if found else None


class PostgresCluster:
    """A PostgreSQL cluster of our own: initdb into a temporary directory
    owned by the `postgres` user (postgres refuses to run as root), the
    postmaster as our child on a free port, unix socket in our directory."""

    OWNER = "postgres"

    def __init__(self):
        self.bindir = _pg_bindir()
        self.base = tempfile.mkdtemp(prefix="neutrino-pg-")
        self.data = os.path.join(self.base, "data")
        self.port = free_port()
        self._child = _Child(f"postgres :{self.port}", os.path.join(self.base, "postgres.log"))
        self._initialised = False

    @classmethod
    def unavailable(cls) -> str | None:
        if _pg_bindir() is None:
            return "no /usr/lib/postgresql/*/bin/postgres (Debian package postgresql)"
        try:
            pwd.getpwnam(cls.OWNER)
        except KeyError:
            return f"no '{cls.OWNER}' user to run the postmaster as"
        if os.geteuid() != 0:
            return "needs root to run postgres as the postgres user"
        return None

    @property
    def pid(self) -> int | None:
        return self._child.pid

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _as_owner(self, argv: list[str]) -> None:
        subprocess.run(argv, user=self.OWNER, cwd=self.base, check=True, capture_output=True,
                       env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}, timeout=120)

    def _init(self) -> None:
        owner = pwd.getpwnam(self.OWNER)
        os.chmod(self.base, 0o755)
        os.chown(self.base, owner.pw_uid, owner.pw_gid)
        try:
            self._as_owner([os.path.join(self.bindir, "initdb"), "-D", self.data, "-U",
                            "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
        except subprocess.CalledProcessError as exc:
            raise ServiceError(f"initdb failed: {exc.stderr.decode(errors='replace')}") from exc
        self._initialised = True

    def _accepts(self) -> bool:
        import psycopg
        try:
            with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres",
                                 dbname="postgres", connect_timeout=2) as conn:
                conn.execute("SELECT 1")
            return True
        except Exception:  # noqa: BLE001 - not ready yet
            return False

    def start(self, timeout: float = 60.0) -> "PostgresCluster":
        if self._child.running:
            return self
        if not self._initialised:
            self._init()
        self._child.spawn([os.path.join(self.bindir, "postgres"), "-D", self.data,
                           "-p", str(self.port), "-k", self.base,
                           "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
                           "-c", "max_connections=300", "-c", "shared_buffers=32MB"],
                          user=self.OWNER, cwd=self.base,
                          env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
        self._child.wait_ready(self._accepts, timeout)
        return self

    def stop(self) -> None:
        """Fast shutdown (SIGINT): sessions are terminated, open transactions
        rolled back -- what clients see when the database is restarted."""
        self._child.signal(signal.SIGINT, timeout=60)

    def create_database(self, name: str) -> str:
        import psycopg
        assert name.replace("_", "").isalnum()
        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres",
                             dbname="postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop_all(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)


# --- MariaDB -------------------------------------------------------------------------

class MariaDBServer:
    """A MariaDB server of our own (`--no-defaults`: /etc/mysql is not read),
    TCP on 127.0.0.1 only, without grant tables (nobody else can reach it)."""

    def __init__(self):
        self.base = tempfile.mkdtemp(prefix="neutrino-mariadb-")
        self.data = os.path.join(self.base, "data")
        self.port = free_port()
        self._child = _Child(f"mariadbd :{self.port}", os.path.join(self.base, "mariadbd.log"))
        self._initialised = False

    @staticmethod
    def unavailable() -> str | None:
        for path in (MARIADBD, MARIADB_INSTALL_DB):
            if not os.access(path, os.X_OK):
                return f"{path} not installed (Debian package mariadb-server)"
        if os.geteuid() != 0:
            return "needs root (mariadbd --user=root)"
        return None

    @property
    def pid(self) -> int | None:
        return self._child.pid

    def url(self, database: str = "") -> str:
        return f"mysql+pymysql://root@127.0.0.1:{self.port}/{database}"

    def start(self, timeout: float = 60.0) -> "MariaDBServer":
        if self._child.running:
            return self
        if not self._initialised:
            done = subprocess.run(
                [MARIADB_INSTALL_DB, "--no-defaults", f"--datadir={self.data}", "--user=root",
                 "--auth-root-authentication-method=normal", "--skip-test-db"],
                capture_output=True, timeout=120, check=False)
            if done.returncode:
                raise ServiceError("mariadb-install-db failed: "
                                   + done.stdout.decode(errors="replace")[-2000:]
                                   + done.stderr.decode(errors="replace")[-2000:])
            self._initialised = True
        self._child.spawn([MARIADBD, "--no-defaults", f"--datadir={self.data}", "--user=root",
                           f"--port={self.port}", "--bind-address=127.0.0.1",
                           f"--socket={self.base}/mysqld.sock",
                           f"--pid-file={self.base}/mysqld.pid", "--skip-grant-tables",
                           "--skip-name-resolve", "--skip-log-bin", "--max-connections=300",
                           "--innodb-buffer-pool-size=64M", "--innodb-flush-log-at-trx-commit=0"],
                          cwd=self.base)
        self._child.wait_ready(self._accepts, timeout)
        return self

    def _accepts(self) -> bool:
        import pymysql
        try:
            pymysql.connect(host="127.0.0.1", port=self.port, user="root",
                            connect_timeout=2).close()
            return True
        except Exception:  # noqa: BLE001 - not ready yet
            return False

    def stop(self) -> None:
        self._child.signal(signal.SIGTERM, timeout=60)

    def create_database(self, name: str) -> str:
        import pymysql
        assert name.replace("_", "").isalnum()
        conn = pymysql.connect(host="127.0.0.1", port=self.port, user="root", autocommit=True)
        try:
            with conn.cursor() as cur:
                cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        finally:
            conn.close()
        return self.url(name)

    def stop_all(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)
