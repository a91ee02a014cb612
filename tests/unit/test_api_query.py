"""neutrino.api.query.parse: filters, fields, sorting, pagination parameters."""
from __future__ import annotations

import datetime as dt

import pytest

from neutrino.api import faults
from neutrino.api.query import parse
from neutrino.api.resources import AGENT, NETWORK, PORT, SECURITY_GROUP_RULE, SUBNET


def test_empty():
    q = parse(NETWORK, [])
    assert (q.filters, q.fields, q.sorts, q.limit, q.marker, q.page_reverse, q.tags) == (
        {}, [], [], None, None, False, {})


def test_repeated_filters_or_and_conversion():
    q = parse(NETWORK, [("name", "a"), ("name", "b"), ("admin_state_up", "False"),
                        ("shared", "1"), ("mtu", "1450")])
    assert q.filters == {"name": ["a", "b"], "admin_state_up": [False], "shared": [True],
                         "mtu": [1450]}


def test_filter_conversion_errors():
    with pytest.raises(faults.InvalidInput):
        parse(NETWORK, [("admin_state_up", "maybe")])
    with pytest.raises(faults.InvalidInput):
        parse(NETWORK, [("mtu", "big")])


def test_empty_string_filter_kept():
    assert parse(NETWORK, [("description", "")]).filters == {"description": [""]}
    assert parse(PORT, [("device_owner", "")]).filters == {"device_owner": [""]}


def test_list_converter_not_applied_to_a_filter_value():
    q = parse(PORT, [("security_groups", "g1"), ("security_groups", "g2")])
    assert q.filters == {"security_groups": ["g1", "g2"]}


def test_timestamp_filters_convert():
    q = parse(NETWORK, [("created_at", "2026-11-26T14:50:01Z")])
    assert q.filters == {"created_at": [dt.datetime(2026, 11, 26, 14, 50, 1)]}
    with pytest.raises(faults.InvalidInput):
        parse(NETWORK, [("updated_at", "yesterday")])


def test_unknown_filters_400_listing_all():
    with pytest.raises(faults.HTTPBadRequest) as exc:
        parse(PORT, [("foo", "1"), ("bar", "2"), ("foo", "3")])
    assert exc.value.text == "['foo', 'bar'] is invalid attribute for filtering"
    with pytest.raises(faults.HTTPBadRequest, match="allocation_pools"):
        parse(SUBNET, [("allocation_pools", "x")])
    with pytest.raises(faults.HTTPBadRequest, match="prefixlen"):
        parse(SUBNET, [("prefixlen", "24")])  # not visible


def test_fields():
    assert parse(NETWORK, [("fields", "id"), ("fields", "name")]).fields == ["id", "name"]


@pytest.mark.parametrize("raw,limit", [("3", 3), ("0", None), (" 5", 5)])
def test_limit(raw, limit):
    assert parse(NETWORK, [("limit", raw)]).limit == limit


@pytest.mark.parametrize("raw", ["abc", "-1", "1.5", ""])
def test_bad_limit(raw):
    with pytest.raises(faults.BadRequest) as exc:
        parse(NETWORK, [("limit", raw)])
    assert exc.value.text == (f"Bad limit request: Limit must be an integer 0 or greater and "
                              f"not '{raw}'.")


def test_max_limit():
    assert parse(NETWORK, [], max_limit=100).limit == 100
    assert parse(NETWORK, [("limit", "500")], max_limit=100).limit == 100
    assert parse(NETWORK, [("limit", "5")], max_limit=100).limit == 5
    assert parse(NETWORK, [("limit", "5")], max_limit=-1).limit == 5


def test_marker_and_page_reverse():
    q = parse(NETWORK, [("marker", "m1"), ("page_reverse", "True")])
    assert (q.marker, q.page_reverse) == ("m1", True)
    assert parse(NETWORK, [("page_reverse", "false")]).page_reverse is False


def test_sorting():
    q = parse(NETWORK, [("sort_key", "name"), ("sort_dir", "desc"), ("sort_key", "id"),
                        ("sort_dir", "asc")])
    assert q.sorts == [("name", False), ("id", True)]
    assert parse(NETWORK, [("sort_key", "name")]).sorts == [("name", True)]
    with pytest.raises(faults.BadRequest):
        parse(NETWORK, [("sort_key", "name"), ("sort_key", "id"), ("sort_dir", "asc")])
    with pytest.raises(faults.HTTPBadRequest, match="invalid attribute for sort_keys"):
        parse(NETWORK, [("sort_key", "subnets")])
    with pytest.raises(faults.HTTPBadRequest, match="invalid value for sort_dirs"):
        parse(NETWORK, [("sort_key", "name"), ("sort_dir", "sideways")])


def test_tag_parameters():
    q = parse(NETWORK, [("tags", "a,b"), ("tags", "c"), ("tags-any", "x"),
                        ("not-tags", "y,z"), ("not-tags-any", "w")])
    assert q.tags == {"tags": ["a", "b", "c"], "tags-any": ["x"], "not-tags": ["y", "z"],
                      "not-tags-any": ["w"]}
    # Resources without tags: the parameters are unknown filters.
    with pytest.raises(faults.HTTPBadRequest, match="tags"):
        parse(SECURITY_GROUP_RULE, [("tags", "a")])


def test_provider_and_agent_filters():
    q = parse(NETWORK, [("provider:segmentation_id", "5000"), ("router:external", "true")])
    assert q.filters == {"provider:segmentation_id": [5000], "router:external": [True]}
    assert parse(AGENT, [("alive", "true")]).filters == {"alive": [True]}
