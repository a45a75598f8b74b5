"""WSGI entry point: `gunicorn wsgi:app` and `flask --app wsgi ...`."""
import gc

# Loading the app makes a few hundred thousand objects that live as long as the process; the collector's
# full passes over them while they are made were a quarter of every worker's and command's start-up.
gc.disable()
try:
    from portal.app import create_app

    app = create_app()
finally:
    gc.enable()
