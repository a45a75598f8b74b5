"""The one access-event table: every attempt at every gate, door, lift and terminal."""


def init_app(app):
    """Load models; the journal's writer thread recovers what killed journals left."""
    from sqlalchemy.orm import Session

    from portal.events import ahead, journal, models  # noqa: F401
    from portal.events.operations import install

    if not getattr(install, "done", False):
        install(Session)
        install.done = True
    ahead.on_recover(app, journal.recover)
