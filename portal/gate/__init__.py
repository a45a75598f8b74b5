"""Gate decisions: QR, keypad code and plate verification that is fast, exact and fails closed."""


def init_app(app):
    """Set the gate's defaults and build the shared keypad throttle (the API module is imported by portal.api)."""
    from portal.gate import cache, models, throttle, writelock  # noqa: F401 - models: the cache's triggers

    app.config.setdefault("GATE_DECISION_DEADLINE", 3.0)
    throttle.init_app(app)
    writelock.install()
    cache.install()
