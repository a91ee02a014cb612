"""GET /openapi.json: a valid OpenAPI 3 document that describes exactly the
routes the app serves (every path and method, both ways), served without
authentication like the version document, with the identity subset only
where the embedded identity is served."""
from __future__ import annotations

import pytest
from openapi_spec_validator import validate
from starlette.routing import Route

from neutrino.api import openapi
from neutrino.api.app import build_app
from neutrino.api.resources import NETWORK, PORT, SUBNET
from neutrino.service import build_server_core

IGNORED_METHODS = {"HEAD"}  # starlette adds HEAD to every GET route by itself


def _app(tmp_path, auth_strategy: str):
    state = tmp_path / auth_strategy
    state.mkdir()
    core, auth = build_server_core([], {
        "DEFAULT": {"auth_strategy": auth_strategy, "state_path": str(state)},
        "database": {"connection": f"sqlite:///{state}/neutrino.sqlite"},
        "identity": {"admin_password": "openapi-test-pw"},
        "oslo_policy": {"policy_file": str(state / "absent.yaml")}})
    return core, build_app(core, auth)


@pytest.fixture(scope="module", params=["keystone", "noauth"])
def served(request, tmp_path_factory):
    import warnings
    with warnings.catch_warnings():  # starlette would rather have httpx2
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    core, app = _app(tmp_path_factory.mktemp("openapi"), request.param)
    with TestClient(app) as client:
        yield request.param, app, client
    core.db.dispose()


def _app_operations(app) -> set[tuple[str, str]]:
    ops = set()
    for route in app.routes:
        if route.path.startswith("/dashboard"):   # the web page's own routes, not the API
            continue
        assert isinstance(route, Route), route
        methods = set(route.methods or ())
        if "GET" in methods:  # starlette's own HEAD: compared only where described
            methods -= IGNORED_METHODS
        ops.update((route.path, method) for method in methods)
    return ops


def _doc_operations(doc) -> set[tuple[str, str]]:
    return {(path, method.upper()) for path, item in doc["paths"].items()
            for method in item if method != "parameters"}


def test_served_without_auth_and_valid(served):
    strategy, _, client = served
    resp = client.get("/openapi.json")  # no token, even with auth_strategy = keystone
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    doc = resp.json()
    validate(doc)  # raises on anything that is not OpenAPI 3.0
    assert doc["openapi"].startswith("3.")
    if strategy == "keystone":
        assert doc["security"] == [{"keystone": []}]
        assert doc["components"]["securitySchemes"]["keystone"]["name"] == "X-Auth-Token"
        # The ways in need no token.
        assert doc["paths"]["/identity/v3/auth/tokens"]["post"]["security"] == []
        assert doc["paths"]["/"]["get"]["security"] == []
        assert client.get("/v2.0/networks").status_code == 401
    else:
        assert "security" not in doc


def test_every_route_described_and_nothing_else(served):
    strategy, app, client = served
    doc = client.get("/openapi.json").json()
    served_ops, described = _app_operations(app), _doc_operations(doc)
    assert served_ops - described == set(), "served but not described"
    get_routes = {p for p, m in served_ops if m == "GET"}
    assert {(p, m) for p, m in described - served_ops
            if not (m == "HEAD" and p in get_routes)} == set(), "described but not served"
    has_identity = any(p.startswith("/identity") for p, _ in described)
    assert has_identity == (strategy == "keystone")


def test_bodies_from_the_attribute_maps():
    doc = openapi.document()
    schemas = doc["components"]["schemas"]
    create, update = schemas["PortCreate"], schemas["PortUpdate"]
    assert set(create["properties"]) == {x.name for x in PORT.attrs if x.post} | {"tags"}
    assert set(update["properties"]) == {x.name for x in PORT.attrs if x.put}
    assert create["required"] == ["network_id"]
    assert create["additionalProperties"] is False
    assert "status" not in create["properties"]  # read-only
    assert schemas["SubnetCreate"]["required"] == ["network_id", "ip_version"]
    assert schemas["SubnetCreate"]["properties"]["ip_version"]["enum"] == [4, 6]
    assert schemas["NetworkCreate"]["properties"]["admin_state_up"]["type"] == "boolean"
    assert schemas["NetworkCreate"]["properties"]["name"]["maxLength"] == 255
    # Single and bulk create, the update wrapper.
    post = doc["paths"]["/v2.0/networks"]["post"]["requestBody"]["content"][
        "application/json"]["schema"]
    single, bulk = post["oneOf"]
    assert single["required"] == ["network"] and bulk["required"] == ["networks"]
    assert bulk["properties"]["networks"]["items"] == {
        "$ref": "#/components/schemas/NetworkCreate"}
    put = doc["paths"]["/v2.0/networks/{id}"]["put"]["requestBody"]["content"][
        "application/json"]["schema"]
    assert put["properties"]["network"] == {"$ref": "#/components/schemas/NetworkUpdate"}


def test_list_parameters_and_errors():
    doc = openapi.document()
    listing = doc["paths"]["/v2.0/subnets"]["get"]
    names = {p["name"] for p in listing["parameters"]}
    assert {"fields", "limit", "marker", "page_reverse", "sort_key", "sort_dir",
            "tags", "tags-any", "not-tags", "not-tags-any"} <= names
    filters = {x.name for x in SUBNET.attrs if x.filter and x.name != "tags"}
    assert filters <= names
    assert "allocation_pools" not in names  # not filterable
    sort_key = next(p for p in listing["parameters"] if p["name"] == "sort_key")
    assert "cidr" in sort_key["schema"]["items"]["enum"]
    assert "tags" not in sort_key["schema"]["items"]["enum"]
    shared = next(p for p in doc["paths"]["/v2.0/networks"]["get"]["parameters"]
                  if p["name"] == "shared")
    assert shared["schema"]["items"]["type"] == "boolean"
    assert listing["responses"]["400"] == {"$ref": "#/components/responses/NeutronError"}
    error = doc["components"]["schemas"]["NeutronError"]["properties"]["NeutronError"]
    assert error["required"] == ["type", "message", "detail"]
    ident = openapi.document(identity=True)["paths"]["/identity/v3/auth/tokens"]["post"]
    assert ident["responses"]["401"] == {"$ref": "#/components/responses/KeystoneError"}
    assert NETWORK.attr("router:external").filter


def test_types_for_attributes_the_table_does_not_name():
    """An attribute that TYPES does not list still gets a type from its
    converter or validator (for attributes added later)."""
    from neutrino.api import attributes as a
    from neutrino.api.resources import Resource
    res = Resource("thing", "things", (
        a.Attr("flag", post=True, convert=a.to_boolean),
        a.Attr("count", post=True, convert=a.to_int),
        a.Attr("label", post=True, validate=a.string(40)),
        a.Attr("mode", post=True, validate=a.values("x", "y")),
        a.Attr("blob", post=True)), not_found="X")
    s = {x.name: openapi.attr_schema(res, x) for x in res.attrs}
    assert s["flag"] == {"type": "boolean"}
    assert s["count"] == {"type": "integer"}
    assert s["label"] == {"type": "string", "maxLength": 40}
    assert s["mode"] == {"type": "string", "enum": ["x", "y"]}
    assert "type" not in s["blob"]
