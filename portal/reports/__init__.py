"""Managers' reports: KPI dashboard with SVG charts, CSV exports and the printable quarterly report."""


def init_app(app):
    """Register the report pages and the number filters their templates use."""
    from portal.reports.routes import bp

    app.register_blueprint(bp)
    app.jinja_env.filters["pct"] = pct
    app.jinja_env.filters["signed_pct"] = signed_pct
    app.jinja_env.filters["hours"] = hours


def _na():
    from flask_babel import gettext

    return gettext("n/a")


def pct(value):
    """0.9512 -> 95.1%; None -> n/a."""
    return _na() if value is None else f"{value * 100:.1f}%"


def signed_pct(value):
    """-0.2 -> -20.0%; None -> n/a."""
    return _na() if value is None else f"{value * 100:+.1f}%"


def hours(value):
    """Hours with one decimal; None -> n/a."""
    if value is None:
        return _na()
    from flask_babel import gettext

    return gettext("%(n)s h", n=f"{value:.1f}")
