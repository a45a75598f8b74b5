"""Gate decisions: QR, keypad code and plate verification that is fast, exact and fails closed."""


def init_app(app):
    """The gate's defaults, the shared keypad throttle, the spool's recovery (the API module is imported by portal.api)."""
    from portal.events import ahead
    from portal.gate import cache, models, spool, throttle, writelock  # noqa: F401 - models: the cache's triggers

    app.config.setdefault("GATE_DECISION_DEADLINE", 3.0)
    throttle.init_app(app)
    writelock.install()
    cache.install()
    ahead.on_recover(app, spool.recover)
