"""The feature catalogue: every optional Neutron extension neutrino serves,
one module each. A feature module may define:

- EXTENSIONS: [(alias, name, description)] listed by GET /v2.0/extensions;
- RESOURCE_EXTENSIONS: [ResourceExtension] (neutrino.plugins.extend),
  registered when the catalogue is loaded;
- install(api) -> [Route]: new collections and actions (it adds its
  plugins and Controllers to api.plugins/api.controllers, as FWaaS does);
- openapi(schemas, paths): its part of /openapi.json;
- POLICY_RULES: {rule: text}, the defaults of its policy rules;
- QUOTA_RESOURCES: {quota name: (table, default)} counted per project.

The catalogue is explicit (no entry points): what neutrino serves is what
this tuple names, and a module that fails to import fails the server's
start, not a request.
"""
from __future__ import annotations

import importlib
from types import ModuleType

FEATURES: tuple[str, ...] = (
    "neutrino.plugins.rbac.feature",
    "neutrino.plugins.subnetpools",
    "neutrino.plugins.qos",
    "neutrino.plugins.trunk",
    "neutrino.plugins.port_attrs",
    "neutrino.plugins.dns",
    "neutrino.plugins.portforwarding",
    "neutrino.plugins.l3extras",
    "neutrino.plugins.conntrack_helpers",
    "neutrino.plugins.metering",
    "neutrino.plugins.flavors",
    "neutrino.plugins.segments",
    "neutrino.plugins.auto_allocate",
)

_LOADED: list[ModuleType] = []
_LOADING = False


def load() -> tuple[ModuleType, ...]:
    """Import every feature once (idempotent) and register its resource
    extensions; returns the modules in catalogue order."""
    global _LOADING
    if _LOADED or _LOADING:
        return tuple(_LOADED)
    _LOADING = True
    try:
        from neutrino.plugins import extend
        modules = [importlib.import_module(name) for name in FEATURES]
        for mod in modules:
            extend.register(*getattr(mod, "RESOURCE_EXTENSIONS", ()))
        _LOADED.extend(modules)
    finally:
        _LOADING = False
    return tuple(_LOADED)


def extensions() -> list[tuple[str, str, str]]:
    return [e for mod in load() for e in getattr(mod, "EXTENSIONS", ())]


def policy_rules() -> dict[str, str]:
    out: dict[str, str] = {}
    for mod in load():
        out.update(getattr(mod, "POLICY_RULES", {}))
    return out


def install(api) -> list:
    routes: list = []
    for mod in load():
        if hasattr(mod, "install"):
            routes += mod.install(api)
    return routes


def openapi(schemas: dict, paths: dict) -> None:
    for mod in load():
        if hasattr(mod, "openapi"):
            mod.openapi(schemas, paths)


def quota_resources() -> dict:
    out: dict = {}
    for mod in load():
        out.update(getattr(mod, "QUOTA_RESOURCES", {}))
    return out
