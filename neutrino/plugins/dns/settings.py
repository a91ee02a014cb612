"""The server options the DNS hooks need, found from the connection they
run on: resource-extension hooks get (conn, ...) and no core, and one
process may hold several cores (tests build apps with different options),
so each core's engine is mapped to its [DEFAULT] dns_domain."""
from __future__ import annotations

import weakref

DEFAULT_DOMAIN = "openstacklocal."     # upstream's DNS_DOMAIN_DEFAULT
_BY_ENGINE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def remember(core) -> None:
    raw = core.cfg.DEFAULT.dns_domain
    _BY_ENGINE[core.db.engine] = (fqdn_domain(raw), raw)


def fqdn_domain(value: str | None) -> str:
    """[DEFAULT] dns_domain with its trailing dot ('' when unset)."""
    if not value:
        return ""
    return value if value.endswith(".") else value + "."


def _of(conn) -> tuple[str, str]:
    engine = conn.engine
    engine = getattr(engine, "_proxied", engine)    # execution_options() wrappers
    return _BY_ENGINE.get(engine, (DEFAULT_DOMAIN, "openstacklocal"))


def dns_domain(conn) -> str:
    return _of(conn)[0]


def configured_domain(conn) -> str:
    """[DEFAULT] dns_domain as written (upstream's messages quote it so)."""
    return _of(conn)[1]


def names_enabled(domain: str) -> bool:
    """Upstream stores a port's dns_name only when [DEFAULT] dns_domain is
    set to something other than its default."""
    return bool(domain) and domain != DEFAULT_DOMAIN
