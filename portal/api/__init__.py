"""The JSON API: every feature's api.py adds routes to one blueprint."""

import importlib

from portal.api.blueprint import bp


def init_app(app):
    """Import every feature's api module, then register the blueprint."""
    from portal.app import FEATURES

    for name in FEATURES:
        if name == "api":
            continue
        try:
            importlib.import_module(f"portal.{name}.api")
        except ModuleNotFoundError as exc:
            if exc.name not in (f"portal.{name}.api", f"portal.{name}"):
                raise
    importlib.import_module("portal.api.openapi")
    app.register_blueprint(bp)
