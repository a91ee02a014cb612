"""`unbatched`: an agent's host-topic handler sees a `resources_changed`
batch as its changes, one at a time, in order; one that fails to be handled
does not cost the others."""
from __future__ import annotations

from neutrino.rpc.client import BATCH_METHOD, unbatched


def test_a_batch_is_handled_change_by_change_and_a_failing_one_costs_no_other():
    seen = []

    def handler(method, payload):
        if payload.get("id") == "bad":
            raise RuntimeError("agent bug")
        seen.append((method, payload["id"]))
    handle = unbatched(handler)
    handle(BATCH_METHOD, {"changes": [{"id": "a"}, {"id": "bad"}, "not a change", {"id": "b"}]})
    handle("resource_changed", {"id": "c"})           # a single notice, as before
    handle("something_else", {"id": "d"})             # other methods pass through
    assert seen == [("resource_changed", "a"), ("resource_changed", "b"),
                    ("resource_changed", "c"), ("something_else", "d")]
