"""The OpenAPI document covers every API endpoint that exists, with every method."""

import re


def test_openapi_covers_every_api_route(app, client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if method.lower() not in paths.get(path, {}):
                missing.append(f"{method} {path}")
    assert missing == []


def test_openapi_paths_exist_in_app(app, client):
    doc = client.get("/api/v1/openapi.json").get_json()
    rules = {re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", r.rule) for r in app.url_map.iter_rules()}
    assert set(doc["paths"]) <= rules
    for path, ops in doc["paths"].items():
        for op in ops.values():
            assert op["summary"], path
            assert "responses" in op


def test_path_parameters_match_the_path_templates(client):
    """Each {name} in a path is declared as a path parameter of that name (not "item_id>/approve")."""
    doc = client.get("/api/v1/openapi.json").get_json()
    wrong = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            declared = sorted(p["name"] for p in op.get("parameters", []) if p["in"] == "path")
            if declared != sorted(re.findall(r"{(\w+)}", path)):
                wrong.append((method, path, declared))
    assert wrong == []
