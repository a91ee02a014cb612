"""What every Octavia resource handler shares: the core, the ports plugin,
policy checks and the notifications sent after a commit."""
from __future__ import annotations

from neutrino.octavia import faults, policy, scheduler, store
from neutrino.plugins.ports import PortPlugin

PROVIDER = "haproxy"
# No comma: clients compare it with an oslo DictOpt (octavia-tempest-plugin's
# enabled_provider_drivers), which cannot hold one.
PROVIDER_DESCRIPTION = "haproxy in a network namespace per load balancer (neutrino-lb-agent)"
# Accepted as well (Octavia's reference provider names), stored as given.
PROVIDER_ALIASES = ("amphora", "octavia")


class Service:
    def __init__(self, core):
        self.core = core
        self.ports = PortPlugin(core)

    @property
    def down_time(self) -> int:
        return self.core.cfg.DEFAULT.agent_down_time

    def authorize(self, ctx, resource: str, action: str, project_id: str) -> None:
        policy.authorize(self.core.policy, ctx, resource, action, project_id)

    def can(self, ctx, resource: str, action: str, project_id: str) -> bool:
        return policy.can(self.core.policy, ctx, resource, action, project_id)

    def list_scope(self, ctx, resource: str) -> str | None:
        """None: every project's objects (the -global rule passes), else the
        caller's project (after checking it may list at all)."""
        if self.can(ctx, resource, "get_all-global", ctx.project_id):
            return None
        self.authorize(ctx, resource, "get_all", ctx.project_id)
        return ctx.project_id

    def read(self, fn):
        return self.core.db.read(fn)

    def write(self, fn):
        return self.core.db.write(fn)

    def notify(self, lb_id: str, sg_id: str | None = None) -> None:
        """After a commit: the serving agent's host re-reads the load
        balancer; the VIP group's hosts re-read their firewall."""
        host = self.read(lambda conn: scheduler.lb_host(conn, lb_id))
        self.core.notifier.resource_changed("loadbalancer", lb_id, -1,
                                            hosts=(host,) if host else ())
        if sg_id:
            self.core.notifier.resource_changed("security_group", sg_id, -1)

    def fetch(self, ctx, kind: store.Kind, obj_id: str, action: str = "get_one") -> dict:
        """A row the caller may act on: 404 when absent, 403 as Octavia when
        another project's (its policy check runs against the owner)."""
        if not isinstance(obj_id, str) or not obj_id:
            raise faults.NotFound(resource=kind.label, id=obj_id)
        row = self.read(lambda conn: store.get_row(conn, kind, obj_id))
        self.authorize(ctx, kind.policy, action, row["project_id"])
        return row
