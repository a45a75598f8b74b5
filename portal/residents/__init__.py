"""Residents: activation by a one-time SMS link, who has not activated, the unit page (move in, move out), roll export."""


def init_app(app):
    """Load the models, register the pages, the commands and the roll import's activation hook."""
    from portal.residents import commands, models  # noqa: F401
    from portal.residents.operations import on_imported
    from portal.residents.routes import activate_bp, bp
    from portal.sites.roll_import import ON_RESIDENTS_IMPORTED

    app.register_blueprint(bp)
    app.register_blueprint(activate_bp)
    if on_imported not in ON_RESIDENTS_IMPORTED:  # one hook however many apps a process builds
        ON_RESIDENTS_IMPORTED.append(on_imported)
