"""Demo data for `make run` and scripts: `flask --app wsgi demo`."""


def init_app(app):
    """Register the demo command."""
    from portal.demo.commands import demo

    app.cli.add_command(demo)
