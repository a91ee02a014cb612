"""A real Keystone for the tests: the `keystone` package from PyPI in its own
venv, SQLite, fernet tokens, served by waitress on a free 127.0.0.1 port.

The venv (pinned: tests/identity/keystone/requirements.txt) lives at
$NEUTRINO_KEYSTONE_VENV (default /var/tmp/neutrino-keystone-venv) and is
reused while the requirements file is unchanged; making it takes a minute or
two (PyPI). Each test session gets its own keystone.conf, database and keys
in a temp dir: db_sync, fernet_setup, credential_setup, bootstrap (about 20 s).
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
REQUIREMENTS = HERE / "requirements.txt"
VENV = Path(os.environ.get("NEUTRINO_KEYSTONE_VENV", "/var/tmp/neutrino-keystone-venv"))


def _digest() -> str:
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()


def ensure_venv(log) -> Path:
    """The Keystone venv, made (or remade) if it is missing or stale."""
    marker = VENV / ".requirements.sha256"
    VENV.parent.mkdir(parents=True, exist_ok=True)
    with open(str(VENV) + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists() and marker.read_text().strip() == _digest() \
                and (VENV / "bin" / "keystone-manage").exists():
            return VENV
        shutil.rmtree(VENV, ignore_errors=True)
        base = getattr(sys, "_base_executable", sys.executable)
        steps = [[base, "-m", "venv", str(VENV)],
                 [str(VENV / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
                  "--upgrade", "pip"],
                 [str(VENV / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
                  "-r", str(REQUIREMENTS)]]
        for cmd in steps:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
            if out.returncode != 0:
                shutil.rmtree(VENV, ignore_errors=True)
                raise RuntimeError(f"{' '.join(cmd[:3])} failed:\n{out.stdout[-3000:]}\n"
                                   f"{out.stderr[-3000:]}")
        marker.write_text(_digest())
        log(f"keystone venv ready at {VENV}")
        return VENV


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Keystone:
    ADMIN_PASSWORD = "keystone-admin-pw"

    def __init__(self, venv: Path, workdir: Path, expiration: int = 20):
        self.venv, self.dir = venv, workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.v3 = self.url + "/v3"
        self.conf = workdir / "keystone.conf"
        self.expiration = expiration
        self.proc: subprocess.Popen | None = None

    def _manage(self, *args: str) -> None:
        cmd = [str(self.venv / "bin" / "keystone-manage"), "--config-file", str(self.conf), *args]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                             env=self._env(), cwd=self.dir)
        if out.returncode != 0:
            raise RuntimeError(f"keystone-manage {args[0]} failed:\n{out.stderr[-3000:]}")

    def _env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "PYTHON"))}
        env["OS_KEYSTONE_CONFIG_FILES"] = str(self.conf)
        return env

    def setup(self) -> "Keystone":
        d = self.dir
        for sub in ("fernet", "credential", "receipts"):
            (d / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
        self.conf.write_text(f"""[DEFAULT]
log_file = {d / 'keystone.log'}
[database]
connection = sqlite:///{d / 'keystone.sqlite'}
[token]
provider = fernet
expiration = {self.expiration}
[fernet_tokens]
key_repository = {d / 'fernet'}
[fernet_receipts]
key_repository = {d / 'receipts'}
[credential]
key_repository = {d / 'credential'}
""")
        user = ["--keystone-user", "root", "--keystone-group", "root"]
        self._manage("db_sync")
        self._manage("fernet_setup", *user)
        self._manage("credential_setup", *user)
        self._manage("bootstrap", "--bootstrap-password", self.ADMIN_PASSWORD,
                     "--bootstrap-admin-url", self.v3, "--bootstrap-public-url", self.v3,
                     "--bootstrap-internal-url", self.v3, "--bootstrap-region-id", "RegionOne")
        return self

    def start(self, timeout: float = 90) -> "Keystone":
        log = open(self.dir / "waitress.log", "wb")
        self.proc = subprocess.Popen(
            [str(self.venv / "bin" / "python"), str(HERE / "run_keystone.py"), "127.0.0.1",
             str(self.port)], stdout=log, stderr=subprocess.STDOUT, env=self._env(),
            cwd=self.dir, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log_text = (self.dir / "waitress.log").read_text()
                raise RuntimeError("keystone exited:\n" + log_text[-3000:])
            try:
                if httpx.get(self.v3, timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError("keystone did not answer in time")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)

    # --- the Keystone API ------------------------------------------------------------
    def token(self, user: str, password: str, project: str | None = None) -> tuple[str, dict]:
        body: dict = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"id": "default"}, "password": password}}}}}
        if project:
            body["auth"]["scope"] = {"project": {"name": project, "domain": {"id": "default"}}}
        resp = httpx.post(self.v3 + "/auth/tokens?nocatalog", json=body, timeout=30)
        assert resp.status_code == 201, resp.text
        return resp.headers["X-Subject-Token"], resp.json()["token"]

    def admin(self) -> httpx.Client:
        token, _ = self.token("admin", self.ADMIN_PASSWORD, "admin")
        return httpx.Client(base_url=self.v3, headers={"X-Auth-Token": token}, timeout=30)

    def ensure(self, client: httpx.Client, kind: str, **attrs) -> dict:
        plural = kind + "s"
        found = client.get(f"/{plural}", params={"name": attrs["name"]}).json()[plural]
        if found:
            return found[0]
        resp = client.post(f"/{plural}", json={kind: attrs})
        assert resp.status_code == 201, resp.text
        return resp.json()[kind]

    def user(self, name: str, password: str, project: str, role: str) -> dict:
        """A user with `role` on `project` (both made if missing). A fresh admin
        token each time: tokens live only `expiration` seconds here."""
        with self.admin() as client:
            proj = self.ensure(client, "project", name=project, domain_id="default")
            user = self.ensure(client, "user", name=name, password=password,
                               domain_id="default", default_project_id=proj["id"])
            role_id = self.ensure(client, "role", name=role)["id"]
            resp = client.put(f"/projects/{proj['id']}/users/{user['id']}/roles/{role_id}")
            assert resp.status_code == 204, resp.text
        return {"user": user, "project": proj}
