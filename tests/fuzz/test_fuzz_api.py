"""Schemathesis over /openapi.json against a real server, per operation and
per backend (SQLite, PostgreSQL): valid and invalid requests (schemathesis's
positive and negative modes, NUL bytes included), as the admin and as a
member, with seed ids swapped in for most of the random UUIDs.

Checked on every response:
- no 5xx (and no dropped connection);
- every 4xx body in the API's error format: {"NeutronError": {"type",
  "message", "detail"}} on /v2.0, Keystone's {"error": {"code", "title",
  "message"}} under /identity;
- a rejected write (POST/PUT/PATCH/DELETE answered 4xx) changes nothing: the
  collections it touches (ids, revision numbers, update times) and the item
  itself read the same before and after.

Deterministic: hypothesis runs derandomized with no example database, so CI
sees the same requests every time. NEUTRINO_FUZZ_EXAMPLES (default 12) is the
number of examples per operation and backend. Failures are collected for the
whole operation and printed with a curl line each (and at the end of the
run, in the "fuzz failures" section).
"""
from __future__ import annotations

import json
import os
import re
import uuid

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from neutrino.api import openapi
from tests.fuzz.conftest import FAILURES

EXAMPLES = int(os.environ.get("NEUTRINO_FUZZ_EXAMPLES", "12"))
SCHEMA = schemathesis.openapi.from_dict(openapi.document(identity=True, token_auth=True))
OPERATIONS = {op.label: op for op in (r.ok() for r in SCHEMA.get_all_operations())}
WRITES = {"POST", "PUT", "PATCH", "DELETE"}

# What a write on a collection may change besides itself.
RELATED = {
    "networks": ("networks", "subnets", "ports"),
    "subnets": ("subnets", "networks", "ports"),
    "ports": ("ports", "networks", "floatingips"),
    "security-groups": ("security-groups", "security-group-rules"),
    "security-group-rules": ("security-group-rules", "security-groups"),
    "routers": ("routers", "ports", "floatingips"),
    "floatingips": ("floatingips", "ports", "routers"),
    "agents": ("agents",),
}
LIST_FIELDS = {"agents": ("id", "admin_state_up", "description")}
# Body keys that name another resource: the seed collection to draw from.
FOREIGN_KEYS = {"network_id": "networks", "subnet_id": "subnets", "port_id": "ports",
                "security_group_id": "security-groups", "remote_group_id": "security-groups",
                "router_id": "routers", "floating_network_id": "external"}


def _is_uuid(value) -> bool:
    try:
        uuid.UUID(value)
        return True
    except (TypeError, ValueError, AttributeError):
        return False


class Substitution:
    """Swaps seed ids in for random UUIDs (in the path and the body)."""

    def __init__(self, target, pick: int):
        self.target, self.seeds, self.pick = target, target.seeds, pick

    def seed(self, collection: str) -> str | None:
        if collection == "external":
            return self.seeds.external_net
        ids = self.seeds.ids.get(collection)
        return ids[self.pick % len(ids)] if ids else None

    def body(self, value):
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                if key in FOREIGN_KEYS and _is_uuid(item):
                    out[key] = self.seed(FOREIGN_KEYS[key]) or item
                elif key in ("project_id", "tenant_id") and isinstance(item, str) and self.pick % 2:
                    out[key] = self.target.project  # an owner that exists, both keys alike
                elif key == "security_groups" and isinstance(item, list) and item and all(
                        _is_uuid(i) for i in item):
                    out[key] = [self.seed("security-groups")]
                else:
                    out[key] = self.body(item)
            return out
        if isinstance(value, list):
            return [self.body(v) for v in value]
        return value

    def apply(self, case) -> None:
        params = case.path_parameters or {}
        m = re.match(r"^/v2\.0/([a-z-]+)/\{id\}", case.path)
        if m and "id" in params:
            collection = m.group(1)
            if case.method == "DELETE" and case.path == f"/v2.0/{collection}/{{id}}":
                params["id"] = self.seeds.fresh(collection) or params["id"]
            else:
                params["id"] = self.seed(collection) or params["id"]
        if "tag" in params and m and params.get("id") and self.pick % 2:
            # A tag that is there (set again first: a DELETE may have taken it).
            params["tag"] = "fuzz-tag"
            self.target.client.put(f"/v2.0/{m.group(1)}/{params['id']}/tags/fuzz-tag",
                                   headers=self.target.admin)
        if "nid" in params:
            params["nid"] = self.seed("networks")
        if "rid" in params:
            params["rid"] = self.seed("routers")
        if "project_id" in params and self.pick % 2:
            params["project_id"] = self.target.project
        if isinstance(case.body, (dict, list)):
            case.body = self.body(case.body)


def _canonical(body):
    """Lists of items sorted by id: a listing's order is not what we compare."""
    if isinstance(body, dict):
        return {k: _canonical(v) for k, v in body.items()}
    if isinstance(body, list):
        items = [_canonical(v) for v in body]
        if all(isinstance(i, dict) and "id" in i for i in items):
            items.sort(key=lambda i: str(i["id"]))
        return items
    return body


def _snapshot_paths(case) -> list[str]:
    path = case.formatted_path
    if path.startswith("/identity/"):
        return ["/identity/v3/projects", "/identity/v3/users", "/identity/v3/roles",
                "/identity/v3/role_assignments"]
    parts = path.split("/")  # "", "v2.0", collection, id, ...
    if len(parts) < 3 or parts[1] != "v2.0":
        return []
    collection = parts[2]
    if collection == "quotas":
        out = ["/v2.0/quotas"]
        if len(parts) > 3 and parts[3] not in ("tenant", "project"):
            out.append(f"/v2.0/quotas/{parts[3]}")
        return out
    out = []
    for related in RELATED.get(collection, ()):
        fields = LIST_FIELDS.get(related, ("id", "revision_number", "updated_at"))
        out.append(f"/v2.0/{related}?" + "&".join(f"fields={f}" for f in fields))
    if len(parts) > 3:
        out.append(f"/v2.0/{collection}/{parts[3]}")
        if len(parts) > 4 and parts[4] == "tags":
            out.append(f"/v2.0/{collection}/{parts[3]}/tags")
    if collection == "agents" and len(parts) > 4:
        out.append(f"/v2.0/agents/{parts[3]}/{parts[4]}")
    return out


def _snapshot(target, paths: list[str]) -> dict:
    out = {}
    for path in paths:
        resp = target.client.get(path, headers=target.admin)
        try:
            body = _canonical(resp.json())
        except ValueError:
            body = resp.text
        out[path] = (resp.status_code, body)
    return out


def _diff(before: dict, after: dict) -> str:
    lines = []
    for path, (status, body) in before.items():
        if after.get(path) != (status, body):
            lines.append(f"    {path}:\n      before: {json.dumps(body)[:600]}\n"
                         f"      after:  {json.dumps(after.get(path)[1])[:600]}")
    return "\n".join(lines)


def _octavia_not_implemented(path: str, resp) -> bool:
    """Octavia answers 501 ProviderUnsupportedOption (a Client fault) for
    valid input its provider cannot serve (SOURCE_IP_PORT, ...)."""
    if "/lbaas/" not in path:
        return False
    try:
        body = resp.json()
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("faultcode") == "Client" and \
        "does not support a requested option" in str(body.get("faultstring"))


def _error_format_problem(path: str, resp) -> str | None:
    """Why a 4xx body is not in the API's error format, or None."""
    try:
        body = resp.json()
    except ValueError:
        return "the body is not JSON"
    if path.startswith("/identity"):
        err = body.get("error") if isinstance(body, dict) else None
        if not isinstance(err, dict) or err.get("code") != resp.status_code or not all(
                isinstance(err.get(k), str) for k in ("title", "message")):
            return "not Keystone's {\"error\": {\"code\", \"title\", \"message\"}}"
        return None
    if "/lbaas/" in path or path.startswith("/load-balancer"):    # the Octavia API
        if not isinstance(body, dict) or set(body) != {"faultcode", "faultstring",
                                                       "debuginfo"} \
                or body["faultcode"] != "Client" or not isinstance(body["faultstring"], str):
            return "not Octavia's {\"faultcode\", \"faultstring\", \"debuginfo\"}"
        return None
    err = body.get("NeutronError") if isinstance(body, dict) else None
    if not isinstance(err, dict) or set(err) != {"type", "message", "detail"} or not all(
            isinstance(err[k], str) for k in ("type", "message", "detail")):
        return "not {\"NeutronError\": {\"type\", \"message\", \"detail\"}}"
    if not err["type"]:
        return "an empty NeutronError type"
    return None


def _strategy(op):
    strategies = []
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        try:
            strategies.append(op.as_strategy(generation_mode=mode))
        except Exception:  # noqa: BLE001 - nothing to negate (no parameters at all)
            continue
    return st.one_of(strategies)


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_operation(fuzz_target, label):
    op = OPERATIONS[label]
    target = fuzz_target
    session = requests.Session()
    failures: dict[tuple, str] = {}
    counts = {"sent": 0, "unsendable": 0}
    strategy = _strategy(op)

    def record(kind: str, key: tuple, case, who: str, resp, detail: str = "") -> None:
        if key in failures:
            return
        curl = case.as_curl_command(base_url=target.url)
        body = resp.text[:800] if resp is not None else ""
        status = resp.status_code if resp is not None else "-"
        text = (f"[{target.backend}] {label} as {who}: {kind}\n    {curl}\n"
                f"    -> HTTP {status} {body}" + (f"\n{detail}" if detail else ""))
        failures[key] = text
        FAILURES.append(text.splitlines()[0] + "\n    " + curl + f"\n    -> HTTP {status}")

    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def run(data):
        case = data.draw(strategy, label="case")
        who = data.draw(st.sampled_from(("admin", "admin", "member")), label="as")
        pick = data.draw(st.integers(0, 5), label="seed")
        if pick:
            Substitution(target, pick).apply(case)
        headers = dict(target.admin if who == "admin" else target.member)
        # The caller's token, whatever the generator made of the security parameter.
        case.headers = {k: v for k, v in (case.headers or {}).items()
                        if k.lower() != "x-auth-token"}
        case.headers.update(headers)
        if case.headers and "X-Subject-Token" in case.headers and pick % 2:
            # Sometimes a real token, so that validation succeeds: a throwaway
            # one for DELETE (revoking the caller's own would end the run).
            case.headers["X-Subject-Token"] = (
                target.fresh_token() if case.method.upper() == "DELETE"
                else headers["X-Auth-Token"])
        write = case.method.upper() in WRITES
        before = _snapshot(target, _snapshot_paths(case)) if write else None
        try:
            resp = case.call(base_url=target.url, session=session, headers=headers,
                             timeout=60)
        except (requests.exceptions.InvalidHeader, requests.exceptions.InvalidURL,
                UnicodeError, ValueError):
            counts["unsendable"] += 1  # the client refuses to send it: nothing to test
            return
        except requests.exceptions.ConnectionError as exc:
            record("connection dropped", ("conn",), case, who, None,
                   f"    {exc}\n    server log:\n{target.server.log_tail(30)}")
            return
        counts["sent"] += 1
        status = resp.status_code
        counts[status] = counts.get(status, 0) + 1
        if status == 501 and _octavia_not_implemented(case.path, resp):
            status = 400    # Octavia's documented answer for an option its provider lacks
        if status >= 500:
            err = ""
            try:
                err = resp.json().get("NeutronError", {}).get("type", "")
            except (ValueError, AttributeError):
                pass
            record(f"HTTP {status}", ("5xx", status, err), case, who, resp,
                   "    server log:\n" + target.server.log_tail(25))
            return
        if 400 <= status < 500 and case.method.upper() != "HEAD":
            problem = _error_format_problem(case.path, resp)
            if problem:
                record(f"error body {problem}", ("format", status), case, who, resp)
        if write and 400 <= status < 500:
            after = _snapshot(target, list(before))
            if after != before:
                record("rejected write changed state", ("state", status), case, who, resp,
                       _diff(before, after))

    try:
        run()
    finally:
        session.close()
    if os.environ.get("NEUTRINO_FUZZ_VERBOSE"):
        print(f"\n[{target.backend}] {label}: {counts}")
    assert counts["sent"] > 0, f"{label}: no request could be sent ({counts})"
    if failures:
        pytest.fail("\n\n".join(list(failures.values())[:10]), pytrace=False)
