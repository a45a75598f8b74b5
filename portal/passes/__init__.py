"""Visitor passes: issuing, the visitor's page, QR and keypad codes."""


def init_app(app):
    """Load models, register the visitor's pages and the resident's pages."""
    from portal.passes import jobs, labels, models  # noqa: F401
    from portal.passes.routes import resident
    from portal.passes.routes.resident import bp as resident_bp
    from portal.passes.routes.visitor import bp

    app.jinja_env.globals.update(
        state_label=labels.state_label,
        kind_label=labels.kind_label,
        schedule_text=labels.schedule_text,
        sms_label=labels.sms_label,
    )
    app.context_processor(resident.nav_counts)
    from portal.passes.commands import keys_cli

    app.register_blueprint(bp)
    app.register_blueprint(resident_bp)
    app.cli.add_command(keys_cli)
