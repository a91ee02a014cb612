"""docs/configuration.md documents every option neutrino reads, and only those.

The option schemas are found by importing neutrino.options and every
neutrino/**/*options.py module and taking each `SCHEMA` / `*_SCHEMA` object
in them. For each schema the reference must have:

    ## <title> (`neutrino.options.SERVER_SCHEMA`)      the schema, by dotted name
    ### `[section]`                                     one heading per section
    | `option` | type | default | meaning |             one row per option

with the schema's default in the default column, and "no effect" in the row
of an option that is accepted only for compatibility. Each section a schema
accepts whole and ignores must be named (`[oslo_concurrency]`) in its part.

The sample files in etc/ must load with their schema, so they stay true too.
"""
from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

import neutrino
from neutrino import config
from neutrino.config import Schema

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "configuration.md"
ETC = ROOT / "etc"
PACKAGE = Path(neutrino.__file__).resolve().parent

# Defaults computed from the machine (hostname, $NEUTRINO_STATE_PATH): the
# reference describes them in words.
MACHINE_DEFAULTS = {("DEFAULT", "host"), ("DEFAULT", "state_path"),
                    ("DEFAULT", "metadata_workers")}      # half the CPUs

# Sample files -> the schema they are read with (files of one command together).
SAMPLES = {
    ("neutron.conf", "ml2_conf.ini"): "neutrino.options.SERVER_SCHEMA",
    ("linuxbridge_agent.ini",): "neutrino.agent_options.LINUXBRIDGE_AGENT_SCHEMA",
    ("dhcp_agent.ini",): "neutrino.agent_options.DHCP_AGENT_SCHEMA",
    ("l3_agent.ini",): "neutrino.agent_options.L3_AGENT_SCHEMA",
    ("metadata_agent.ini",): "neutrino.agent_options.METADATA_AGENT_SCHEMA",
    ("lbaas_agent.ini",): "neutrino.agent.lb.options.LB_AGENT_SCHEMA",
}


def option_modules() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "options.py" or path.name.endswith("_options.py"):
            rel = path.relative_to(PACKAGE.parent).with_suffix("")
            names.append(".".join(rel.parts))
    return names


def schemas() -> dict[str, Schema]:
    found: dict[str, Schema] = {}
    seen: set[int] = set()
    for modname in option_modules():
        module = importlib.import_module(modname)
        for name, value in sorted(vars(module).items()):
            if not isinstance(value, Schema) or id(value) in seen:
                continue
            if name == "SCHEMA" or name.endswith("_SCHEMA"):
                seen.add(id(value))
                found[f"{modname}.{name}"] = value
    return found


def render_default(value) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return ",".join(str(v) for v in value) if value else "(empty)"
    if value == "":
        return "(empty)"
    return str(value)


def suggested_row(opt) -> str:
    kind = {"to_bool": "boolean", "to_list": "list", "string": "string",
            "integer": "integer", "choice": "choice"}.get(opt.conv.__name__, "string")
    meaning = ("Accepted for compatibility (no effect). " if opt.ignored else "") + opt.help
    return f"| `{opt.name}` | {kind} | `{render_default(opt.default)}` | {meaning} |"


class Block:
    """The part of the reference about one schema."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.rows: dict[tuple[str, str], list[str]] = {}


_H2 = re.compile(r"^## .*`(neutrino\.[\w.]+)`")
_H3 = re.compile(r"^### .*`\[([^\]]+)\]`")
_ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|")


def parse_doc(text: str) -> dict[str, Block]:
    blocks: dict[str, Block] = {}
    block: Block | None = None
    section: str | None = None
    for line in text.splitlines():
        if line.startswith("## "):
            m = _H2.match(line)
            block = blocks.setdefault(m.group(1), Block()) if m else None
            section = None
            continue
        if block is None:
            continue
        block.text.append(line)
        if line.startswith("### "):
            m = _H3.match(line)
            section = m.group(1) if m else None
            continue
        m = _ROW.match(line)
        if m and section is not None:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            block.rows[(section, m.group(1))] = cells
    return blocks


@pytest.fixture(scope="module")
def doc() -> dict[str, Block]:
    return parse_doc(DOC.read_text(encoding="utf-8"))


def test_schemas_are_found():
    assert "neutrino.options.SERVER_SCHEMA" in schemas()


@pytest.mark.parametrize("schema_name", sorted(schemas()))
def test_every_option_is_documented(doc, schema_name):
    schema = schemas()[schema_name]
    block = doc.get(schema_name)
    assert block is not None, (
        f"docs/configuration.md has no '## ... (`{schema_name}`)' part: document the "
        "options of this schema there")
    problems = []
    for section in schema.sections.values():
        for opt in section.opts:
            row = block.rows.get((section.name, opt.name))
            if row is None:
                problems.append(f"[{section.name}] {opt.name}: not documented; under "
                                f"### `[{section.name}]` add a row like\n      "
                                + suggested_row(opt))
                continue
            if len(row) < 4:
                problems.append(f"[{section.name}] {opt.name}: row needs 4 columns "
                                "(option, type, default, meaning)")
                continue
            default = row[2].strip().strip("`")
            if ((section.name, opt.name) not in MACHINE_DEFAULTS
                    and default != render_default(opt.default)):
                problems.append(f"[{section.name}] {opt.name}: default documented as "
                                f"{default!r}, the schema has {render_default(opt.default)!r}")
            if opt.ignored and "no effect" not in row[3].lower():
                problems.append(f"[{section.name}] {opt.name}: accepted for compatibility "
                                "only, the row must say 'no effect'")
    text = "\n".join(block.text)
    for name in sorted(schema.ignored_sections):
        if f"[{name}]" not in text:
            problems.append(f"section [{name}] is accepted and ignored: name it")
    assert not problems, f"docs/configuration.md vs {schema_name}:\n  " + "\n  ".join(problems)


def test_no_documented_option_is_stale(doc):
    found = schemas()
    problems = []
    for schema_name, block in doc.items():
        schema = found.get(schema_name)
        if schema is None:
            problems.append(f"`{schema_name}` is documented but no such schema exists")
            continue
        known = {(s.name, o.name) for s in schema.sections.values() for o in s.opts}
        for key in block.rows:
            if key not in known:
                problems.append(f"{schema_name}: [{key[0]}] {key[1]} is documented but "
                                "not in the schema")
    assert not problems, "docs/configuration.md:\n  " + "\n  ".join(problems)


def test_every_sample_file_has_a_schema():
    covered = {name for files in SAMPLES for name in files}
    samples = sorted(p.name for p in ETC.iterdir() if p.suffix in (".conf", ".ini"))
    assert samples, "etc/ has no sample configuration"
    assert not [s for s in samples if s not in covered], (
        "add the sample files of etc/ to SAMPLES in this test")


@pytest.mark.parametrize("files,schema_name", sorted(SAMPLES.items()))
def test_sample_files_load(files, schema_name):
    schema = schemas().get(schema_name)
    assert schema is not None, f"{schema_name} does not exist"
    paths = [ETC / f for f in files]
    assert all(p.exists() for p in paths), f"etc/ lacks {', '.join(files)}"
    cfg = config.load(schema, [str(p) for p in paths])
    if schema_name == "neutrino.options.SERVER_SCHEMA":
        # What neutrino-server checks at start-up beyond the option types.
        from neutrino.plugins.ml2.mech import MechanismManager
        from neutrino.plugins.ml2.segments import SegmentManager
        SegmentManager(cfg)
        MechanismManager(cfg)


def test_api_doc_lists_every_served_extension():
    """docs/api.md names every alias GET /v2.0/extensions lists (in backticks)."""
    from neutrino.api.extensions import extensions
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    missing = [e["alias"] for e in extensions() if f"`{e['alias']}`" not in text]
    assert not missing, f"docs/api.md does not mention the served extensions {missing}"
