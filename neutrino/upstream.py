"""Neutron 25.2.3's options: names and types per file and section.

neutrino/etc/upstream_options.json is made by scripts/gen_upstream_options.py
from neutron's own option definitions. Every command accepts each option of
it (an operator's files load unchanged); those its schema does not use are
reported as ignored (neutrino.config.Config.unused). An option in none of
them is still an error.

`python -m neutrino.upstream` prints the docs/configuration.md list of the
upstream options neutrino ignores (tests/unit/test_upstream_options.py keeps
the two in step).
"""
from __future__ import annotations

import functools
import json
import os
import sys
from typing import Mapping

PATH = os.path.join(os.path.dirname(__file__), "etc", "upstream_options.json")

# Upstream file -> the schema of the neutrino command that reads it.
FILE_SCHEMAS = {
    "neutron.conf": "neutrino.options.SERVER_SCHEMA",
    "ml2_conf.ini": "neutrino.options.SERVER_SCHEMA",
    "linuxbridge_agent.ini": "neutrino.agent_options.LINUXBRIDGE_AGENT_SCHEMA",
    "l3_agent.ini": "neutrino.agent_options.L3_AGENT_SCHEMA",
    "dhcp_agent.ini": "neutrino.agent_options.DHCP_AGENT_SCHEMA",
    "metadata_agent.ini": "neutrino.agent_options.METADATA_AGENT_SCHEMA",
}


@functools.lru_cache(maxsize=None)
def catalogue() -> Mapping[str, Mapping[str, Mapping[str, str]]]:
    """{file: {section: {option: type}}}"""
    with open(PATH, encoding="utf-8") as handle:
        return json.load(handle)["files"]


@functools.lru_cache(maxsize=None)
def sections() -> Mapping[str, Mapping[str, str]]:
    """{section: {option: type}} over all six files: upstream agents are
    commonly given neutron.conf too, so each command accepts every file's
    options."""
    merged: dict[str, dict[str, str]] = {}
    for per_file in catalogue().values():
        for section, opts in per_file.items():
            merged.setdefault(section, {}).update(opts)
    return merged


def normalize(name: str) -> str:
    """oslo.config reads `log-file` and `log_file` as one option."""
    return name.replace("-", "_")


def _schema(dotted: str):
    import importlib
    module, _, attr = dotted.rpartition(".")
    return getattr(importlib.import_module(module), attr, None)


def unused_by_file() -> dict[str, dict[str, list[str]]]:
    """{file: {section: [option, ...]}}: upstream's options that the neutrino
    command reading that file accepts and does not use."""
    out: dict[str, dict[str, list[str]]] = {}
    for fname, per_section in catalogue().items():
        schema = _schema(FILE_SCHEMAS[fname])
        used = set()
        if schema is not None:
            used = {(s.name, o.name) for s in schema.sections.values() for o in s.opts
                    if not o.ignored}
        for section, opts in per_section.items():
            names = sorted(o for o in opts if (section, o) not in used)
            if names:
                out.setdefault(fname, {})[section] = names
    return out


# A value of each type, as an operator would write one (for test files).
SAMPLE_VALUES = {"string": "sample", "integer": "3", "boolean": "true", "float": "2.5",
                 "list": "sample1,sample2", "dict": "key1:value1,key2:value2",
                 "port": "9999", "host": "controller.example.org", "ip": "192.0.2.10",
                 "uri": "http://controller.example.org:5000/v3", "multistring": "sample"}


def render(value) -> str:
    """A schema default as a file would spell it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return ",".join(str(v) for v in value)
    return str(value)


def sample_file(fname: str) -> dict[str, dict[str, str]]:
    """{section: {option: value}} setting every option upstream's `fname`
    defines: the neutrino default where its command uses the option (a
    value neutrino accepts), a value of the upstream type otherwise."""
    schema = _schema(FILE_SCHEMAS[fname])
    ours = {(s.name, o.name): o for s in schema.sections.values() for o in s.opts}
    out: dict[str, dict[str, str]] = {}
    for section, opts in catalogue()[fname].items():
        values = out.setdefault(section, {})
        for name, kind in opts.items():
            opt = ours.get((section, name))
            values[name] = render(opt.default) if opt is not None else SAMPLE_VALUES[kind]
    return out


def unused_markdown() -> str:
    lines = []
    for fname, per_section in unused_by_file().items():
        lines.append(f"#### `{fname}`")
        lines.append("")
        for section, names in per_section.items():
            lines.append(f"- `[{section}]` " + ", ".join(f"`{n}`" for n in names))
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    sys.stdout.write(unused_markdown())
