"""The /api/v1 blueprint and the registry its OpenAPI document is built from."""

from flask import Blueprint

from portal.core import lean

bp = Blueprint("api", __name__, url_prefix="/api/v1")
PATHS = {}


def api_route(rule, methods=("GET",), summary="", tag="", auth="user", body=None, responses=None, params=None, direct=None):
    """Register a view on the API blueprint and describe it for the OpenAPI document.

    A device route may name a direct handler for its ordinary requests (portal.core.direct).
    """

    def deco(view):
        bp.add_url_rule(rule, view_func=view, methods=list(methods))
        path = rule.replace("<int:", "{").replace("<", "{").replace(">", "}")
        for method in methods:
            op = {
                "summary": summary,
                "tags": [tag] if tag else [],
                "operationId": f"{view.__name__}_{method.lower()}",
                "responses": responses or {"200": {"description": "OK"}},
            }
            if auth == "user":
                op["security"] = [{"bearer": []}, {"session": []}]
            elif auth == "device":
                op["security"] = [{"deviceToken": []}]
                lean.route(method, bp.url_prefix + rule, direct)  # no session, CSRF, locale or limiter bookkeeping
            elif auth == "none":
                op["security"] = []
            if body is not None:
                op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
            names = [seg.split(">")[0].split(":")[-1] for seg in rule.split("<")[1:]]
            parameters = [
                {"name": n, "in": "path", "required": True, "schema": {"type": "integer" if f"<int:{n}>" in rule else "string"}}
                for n in names
            ]
            parameters += params or []
            if parameters:
                op["parameters"] = parameters
            op["responses"].setdefault("400", {"$ref": "#/components/responses/Error"})
            if auth != "none":
                op["responses"].setdefault("401", {"$ref": "#/components/responses/Error"})
            PATHS.setdefault("/api/v1" + path, {})[method.lower()] = op
        return view

    return deco
