"""The access bridge's tables and command line (`bridge run|status`, `devices add|list|remove|resync`)."""


def init_app(app):
    """Load models, install the wake-up hook and register the CLI groups."""
    from access_bridge import wakeup
    from portal.bridge import models  # noqa: F401

    try:  # the edge's tables (event cursors, offline receipts) live beside ours
        from portal.bridge import edge_models  # noqa: F401
    except ImportError:
        pass
    from portal.bridge.commands import bridge_cli, devices_cli

    wakeup.install()
    app.cli.add_command(bridge_cli)
    app.cli.add_command(devices_cli)
