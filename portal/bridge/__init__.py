"""The access bridge's tables and command line (`bridge run|status`, `devices add|list|remove|resync`)."""


def init_app(app):
    """Load models and register the CLI groups (the wake-up hook is portal.core.wake, installed with the extensions)."""
    from portal.bridge import models  # noqa: F401

    try:  # the edge's tables (event cursors, offline receipts) live beside ours
        from portal.bridge import edge_models  # noqa: F401
    except ImportError:
        pass
    from portal.bridge.commands import bridge_cli, devices_cli

    app.cli.add_command(bridge_cli)
    app.cli.add_command(devices_cli)
