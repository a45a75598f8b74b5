"""The OpenAPI 3 document, assembled from what the API routes declare."""

from flask import jsonify

from portal.api.blueprint import PATHS, api_route

ERROR = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "messages": {"type": "object", "properties": {"en": {"type": "string"}, "zh": {"type": "string"}}},
                "fields": {"type": "object"},
            },
        }
    },
}


def document():
    """The whole OpenAPI document."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Visitor and access portal API",
            "version": "1.0.0",
            "description": "Residents' passes, gate decisions, the security desk and feedback.",
        },
        "servers": [{"url": "/"}],
        "paths": dict(sorted(PATHS.items())),
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "User token from POST /api/v1/auth/token (prefix vpu_).",
                },
                "deviceToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Device token (prefix vpd_), bound to a site and its gates.",
                },
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "session",
                    "description": "Browser session; state changes also need X-CSRFToken.",
                },
            },
            "schemas": {"Error": ERROR},
            "responses": {
                "Error": {
                    "description": "Error",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                }
            },
        },
    }


@api_route("/openapi.json", summary="This document", tag="meta", auth="none")
def openapi_json():
    """Serve the OpenAPI document."""
    return jsonify(document())
