"""Privacy: per-site retention periods by kind of data, and the managers' visit-record search for investigations."""


def init_app(app):
    """Load the model, add the managers' page and its time filter."""
    from portal.privacy import models  # noqa: F401
    from portal.privacy.routes import bp

    app.register_blueprint(bp)
    app.add_template_filter(_site_iso, "site_iso")


def _site_iso(text, tz_name):
    """An ISO time from the API's shapes, shown in the site's zone."""
    from portal.core.timeutil import local_text, parse_iso

    return local_text(parse_iso(text), tz_name) if text else ""
