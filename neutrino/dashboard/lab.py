"""Lab-only actions of the dashboard ([dashboard] lab_dir set, admin only):
instances are the lab's namespaces (neutrino.lab.instances), made the way
`neutrino lab instance create` makes them, and ping runs inside one."""
from __future__ import annotations

import re
import threading
from typing import Any

from neutrino.api import faults

_IP = re.compile(r"^[0-9a-fA-F:.]{2,45}$")


class LabActions:
    def __init__(self, lab_dir: str):
        self.lab_dir = lab_dir
        self._ctl = None
        self._lock = threading.Lock()

    def _control(self):
        with self._lock:
            if self._ctl is None:
                from neutrino.lab.control import LabControl
                self._ctl = LabControl.load(self.lab_dir)
            return self._ctl

    @staticmethod
    def _admin(ctx) -> None:
        if not ctx.is_admin:
            raise faults.HTTPForbidden("Lab instances are managed by an admin only.")

    def list(self, ctx) -> dict[str, Any]:
        self._admin(ctx)
        return {"instances": [{"name": i.name, "host": i.host, "port_id": i.port_id,
                               "network_id": i.network_id, "ips": i.ips, "mac": i.mac}
                              for i in self._control().instances.list()]}

    def create(self, ctx, body: dict) -> dict[str, Any]:
        self._admin(ctx)
        spec = body.get("instance") if isinstance(body, dict) else None
        if not isinstance(spec, dict) or not spec.get("name") or not spec.get("network"):
            raise faults.HTTPBadRequest("An instance needs a name and a network.")
        ctl = self._control()
        host = spec.get("host") or None
        if host is not None and host not in ctl.state.host_names():
            raise faults.HTTPBadRequest(f"No lab host {host}: the hosts are "
                                        f"{', '.join(ctl.state.host_names())}.")
        try:
            inst = ctl.instances.create(str(spec["name"]), str(spec["network"]), host=host,
                                        dhcp=bool(spec.get("dhcp", False)))
        except (ValueError, KeyError) as exc:
            raise faults.HTTPBadRequest(str(exc).strip("'\"")) from None
        except Exception as exc:  # noqa: BLE001 - the API's refusal (quota, no IP...) as said
            raise faults.HTTPBadRequest(f"Instance not created: {exc}") from None
        return {"instance": {"name": inst.name, "host": inst.host, "port_id": inst.port_id,
                             "network_id": inst.network_id, "ips": inst.ips, "mac": inst.mac}}

    def delete(self, ctx, name: str) -> None:
        self._admin(ctx)
        try:
            self._control().instances.delete(name)
        except KeyError:
            raise faults.HTTPNotFound(f"No lab instance {name}.") from None

    def ping(self, ctx, body: dict) -> dict[str, Any]:
        self._admin(ctx)
        spec = body.get("ping") if isinstance(body, dict) else None
        if not isinstance(spec, dict) or not spec.get("from") or not spec.get("to"):
            raise faults.HTTPBadRequest("A ping needs 'from' (an instance) and 'to'.")
        instances = self._control().instances
        src = instances.get(str(spec["from"]))
        if src is None:
            raise faults.HTTPBadRequest(f"No lab instance {spec['from']}.")
        to = str(spec["to"])
        dst = instances.get(to)
        ip = dst.ip if dst is not None else to
        if not ip or not _IP.match(ip):
            raise faults.HTTPBadRequest(f"{to} is neither a lab instance nor an IP address.")
        out = instances.run(src.name, ["ping", "-n", "-c", "3", "-i", "0.2", "-W", "1", ip],
                            timeout=15)
        return {"ping": {"from": src.name, "to": to, "ip": ip, "ok": out.returncode == 0,
                         "output": (out.stdout + out.stderr).strip()}}
