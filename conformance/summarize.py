"""Summarize a tempest subunit stream: pass/fail/skip counts, every failure
with the last line of its traceback, skip reasons grouped. Runs in the
tempest venv (python-subunit, testtools).

    summarize.py results.subunit [--json out.json] [--known conformance/known_failures.yaml]

With --known, each failure is matched to a known cause (test id regex ->
cause) and the ones without a known cause are listed apart.
"""
from __future__ import annotations

import argparse
import collections
import json
import re
import sys

import subunit
import testtools


def load(path: str) -> list[dict]:
    tests: list[dict] = []
    with open(path, "rb") as stream:
        case = subunit.ByteStreamToStreamResult(stream, non_subunit_name="stdout")
        result = testtools.StreamToDict(tests.append)
        result.startTestRun()
        try:
            case.run(result)
        finally:
            result.stopTestRun()
    return tests


def _text(details: dict, key: str) -> str:
    content = details.get(key)
    if content is None:
        return ""
    try:
        return content.as_text()
    except Exception:  # noqa: BLE001
        return ""


def _short_id(test_id: str) -> str:
    return re.sub(r"\[.*\]$", "", test_id)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("subunit")
    parser.add_argument("--json")
    parser.add_argument("--known")
    args = parser.parse_args(argv)
    tests = [t for t in load(args.subunit) if t["status"] not in ("exists", "inprogress")]
    counts = collections.Counter()
    failures, skips = [], collections.Counter()
    for t in tests:
        status = t["status"]
        if status in ("success", "xfail"):
            counts["passed"] += 1
        elif status == "skip":
            counts["skipped"] += 1
            reason = _text(t["details"], "reason").strip() or "(no reason)"
            skips[reason[:160]] += 1
        else:
            counts["failed"] += 1
            tb = _text(t["details"], "traceback").strip().splitlines()
            last = next((line for line in reversed(tb) if line.strip()), "")
            failures.append({"id": _short_id(t["id"]), "error": last[:400],
                             "traceback": "\n".join(tb[-25:])})
    known = []
    if args.known:
        import yaml
        with open(args.known, encoding="utf-8") as handle:
            known = yaml.safe_load(handle) or []
    print(f"\n=== conformance: {len(tests)} tests: {counts['passed']} passed, "
          f"{counts['failed']} failed, {counts['skipped']} skipped")
    unexplained = []
    if failures:
        print("\n--- failures")
        for f in sorted(failures, key=lambda f: f["id"]):
            cause = next((k["cause"] for k in known if re.search(k["test"], f["id"])), None)
            f["known_cause"] = cause
            if cause is None:
                unexplained.append(f)
            print(f"FAIL {f['id']}\n     {f['error']}")
            if cause:
                print(f"     known: {cause}")
    if skips:
        print("\n--- skip reasons")
        for reason, n in skips.most_common():
            print(f"{n:4d}  {reason}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"counts": counts, "failures": failures,
                       "skips": dict(skips)}, handle, indent=1)
    print(f"\n{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped")
    if unexplained and known:
        print(f"{len(unexplained)} failure(s) without a known cause")
    return 0


if __name__ == "__main__":
    sys.exit(main())
