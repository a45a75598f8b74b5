"""Operations: health, readiness and metrics endpoints; backup and restore; data key rotation."""


def init_app(app):
    """Register the endpoints and the commands."""
    from portal.ops.commands import add_key_commands, backup_command, restore_command
    from portal.ops.routes import bp

    app.register_blueprint(bp)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
    add_key_commands(app.cli)
