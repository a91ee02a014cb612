"""GET /v2.0/extensions against what real Neutron 25.2.3 (ML2 with Linux
bridge and the service plugins named in the reference file) returns.

The reference was read off a real neutron-server; neutrino serves the same
list, plus neutron-fwaas's two aliases (a separate package upstream, built in
here), minus what only OVS/OVN can do — each such alias named in
docs/api.md with its reason."""
from __future__ import annotations

import json
import os
import re

import pytest

from tests.api.helpers import expect
from tests.machine import missing

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REFERENCE = os.path.join(os.path.dirname(ROOT), "shared", "bench", "neutron-25-extensions.json")
API_DOC = os.path.join(ROOT, "docs", "api.md")

# Built in, where upstream needs the neutron-fwaas package.
ADDED = {"fwaas_v2", "standard-attr-fwaas-v2"}


def _reference() -> set[str]:
    if not os.path.exists(REFERENCE):
        missing(f"the reference list is not on this machine: {REFERENCE}")
    with open(REFERENCE, encoding="utf-8") as handle:
        return set(json.load(handle)["aliases"])


def _excluded_in_docs() -> set[str]:
    """The aliases docs/api.md's "Left out: OVS/OVN only" table names."""
    with open(API_DOC, encoding="utf-8") as handle:
        text = handle.read()
    match = re.search(r"^## Left out: OVS/OVN only\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    if match is None:
        return set()
    return set(re.findall(r"^\| `([^`]+)` \|", match.group(1), re.M))


def test_extension_list_matches_neutron_25(api):
    served = {e["alias"] for e in expect(api.admin.get("extensions"), 200)["extensions"]}
    reference = _reference()
    excluded = _excluded_in_docs()
    assert excluded <= reference, f"docs/api.md excludes unknown aliases {excluded - reference}"
    missing = reference - excluded - served
    extra = served - reference - ADDED
    assert not missing and not extra, (
        f"not served (and not documented as OVS/OVN only): {sorted(missing)}; "
        f"served beyond Neutron 25: {sorted(extra)}")
    assert not (excluded & served), f"documented as left out but served: {excluded & served}"


def test_every_alias_is_shown_by_its_name(api):
    for alias in _reference() - _excluded_in_docs():
        body = expect(api.member_a.get(f"extensions/{alias}"), 200)
        assert body["extension"]["alias"] == alias
