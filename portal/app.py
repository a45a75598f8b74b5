"""Application factory, built from named steps."""

import importlib
import json
import logging
import os
import secrets
import sys
from urllib.parse import urlencode

import click
from flask import request, session
from flask_babel import get_locale, gettext
from flask_login import current_user

from portal import config as config_module
from portal.core import crypto, direct, lean, migrate
from portal.core.errors import register_errorhandlers
from portal.core.i18n import N_, local_name
from portal.core.security import register_security
from portal.core.timeutil import site_time
from portal.extensions import babel, csrf, db, limiter, login_manager

# Each feature package may define init_app(app) to add blueprints, commands and hooks.
FEATURES = [
    "sites",
    "accounts",
    "passes",
    "notify",
    "audit",
    "devices",
    "events",
    "watchlist",
    "vehicles",
    "permits",
    "faces",
    "gate",
    "bridge",
    "desk",
    "alarms",
    "emergency",
    "walkins",
    "incidents",
    "shifts",
    "feedback",
    "reports",
    "demo",
    "staff",
    "ops",
    "residents",
    "lookup",
    "privacy",
    "patrol",
    "api",
]

log = logging.getLogger(__name__)


def create_app(config=None, **overrides):
    """Build the portal application; overrides win over the config object."""
    app = lean.PortalFlask(
        __name__,
        template_folder=str(config_module.BASE_DIR / "templates"),
        instance_path=str(config_module.INSTANCE_DIR),
        instance_relative_config=False,
    )
    from portal.core.converters import BoundedInt

    app.url_map.converters["int"] = BoundedInt
    app.config.from_object(config or _default_config())
    app.config.update(overrides)
    configure_logging(app)
    register_fresh_g(app)
    register_request_context(app)
    load_secrets(app)
    register_extensions(app)
    register_features(app)
    register_errorhandlers(app)
    register_security(app)
    app.serve_direct = direct.serve  # a lean route's ordinary requests, answered without Flask's machinery
    register_transaction(app)
    register_commands(app)
    return app


def _default_config():
    env = os.environ.get("PORTAL_ENV", "production")
    return {"development": config_module.DevelopmentConfig, "test": config_module.TestConfig}.get(env, config_module.Config)


def register_request_context(app):
    """Request ids on every request, and the client's address from PROXY_COUNT trusted proxies (nginx)."""
    from werkzeug.middleware.proxy_fix import ProxyFix

    from portal.core import logs

    logs.register_request_ids(app)  # after register_fresh_g, which empties g first
    hops = int(app.config.get("PROXY_COUNT") or 0)
    if hops > 0:
        # Only as many X-Forwarded-* entries as there are proxies are believed: a client's own are ignored.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


def register_fresh_g(app):
    """Start every request with an empty g, even when an app context is already pushed.

    Flask reuses an outer app context (scripts, tests) for requests, and with it g, where
    flask-login caches the user and CSRF caches its token.
    """
    app.before_request(lean.keep(lean.fresh_g))


def configure_logging(app):
    """JSON lines with the request id (LOG_FORMAT=text for people); link secrets and phone numbers masked."""
    from portal.core import logs

    logs.install(app.config.get("LOG_FORMAT", "json"), os.environ.get("LOG_LEVEL", "INFO"))


def load_secrets(app):
    """SECRET_KEY and DATA_KEY from the environment, or made once into instance/ for local use."""
    missing = [k for k in ("SECRET_KEY", "DATA_KEY") if not app.config.get(k)]
    production = os.environ.get("PORTAL_ENV", "production") == "production" and not app.config.get("TESTING")
    if missing and production and not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # A server database means production: keys made up on one host would lock out the others
        # and lose every encrypted field on the next deploy.
        raise RuntimeError(f"{' and '.join(missing)} must be set in the environment when DATABASE_URL is a server database")
    if missing:
        path = os.path.join(app.instance_path, "secrets.json")
        os.makedirs(app.instance_path, exist_ok=True)
        stored = {}
        if os.path.exists(path):
            with open(path) as fh:
                stored = json.load(fh)
        for key in missing:
            stored.setdefault(key, secrets.token_urlsafe(32))
            app.config[key] = stored[key]
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(stored, fh)
        log.warning("%s not set; using keys kept in %s (set them in production)", ",".join(missing), path)
    crypto.configure(
        app.config["DATA_KEY"],
        key_id=int(app.config.get("DATA_KEY_ID") or 1),
        old_keys=crypto.parse_keys(app.config.get("DATA_OLD_KEYS")),
        index_key=app.config.get("DATA_INDEX_KEY") or None,
    )


def _select_locale():
    lang = request.args.get("lang")
    if lang in ("zh", "en"):
        session["lang"] = lang
        return lang
    if session.get("lang") in ("zh", "en"):
        return session["lang"]
    # The browser's language wins for pages; the saved locale is for SMS and surveys sent to the person.
    browser = request.accept_languages.best_match(["zh", "en"])
    if browser:
        return browser
    if current_user and current_user.is_authenticated:
        return current_user.locale
    return "zh"


def _bind_migrations(app):
    """Flask-Migrate: at once in tests and scripts, on the command line when a `flask db` command runs.

    Never in a gunicorn worker, which never migrates: importing Alembic was a tenth of a worker's start,
    paid again on every worker restart.
    """
    if "gunicorn" in sys.modules:
        return
    if click.get_current_context(silent=True) is None:
        migrate.bind(app)
    else:
        app.cli.add_command(migrate.LazyCommands(app))


def register_extensions(app):
    """Bind the bare extension instances."""
    from portal.core import connections, wake

    connections.install()
    wake.install()  # after a commit that changed passes or devices, wake the access bridge
    db.init_app(app)
    _bind_migrations(app)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = N_("Please log in to see this page.")
    login_manager.localize_callback = gettext  # flashed in the visitor's language, not flask-login's English
    login_manager.login_message_category = "error"
    login_manager.session_protection = None  # our server-side sessions do this job
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False  # checked in core.security, see there
    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(
        app,
        locale_selector=_select_locale,
        default_translation_directories=str(config_module.BASE_DIR / "portal" / "translations"),
    )
    app.jinja_env.globals["get_locale"] = get_locale
    app.jinja_env.globals["lang_url"] = _lang_url
    app.jinja_env.globals["named"] = local_name
    app.jinja_env.filters["site_time"] = site_time


def _lang_url(lang):
    """This page in another language, its filters kept (a bare ?lang= would drop them)."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"] + [("lang", lang)]
    return f"{request.path}?{urlencode(args)}"


def register_features(app):
    """Import each feature package; its init_app adds blueprints and commands."""
    for name in FEATURES:
        try:
            module = importlib.import_module(f"portal.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"portal.{name}":
                continue
            raise
        init = getattr(module, "init_app", None)
        if init is not None:
            init(app)


def register_transaction(app):
    """One commit per request, in one place (portal.core.transaction); anything that failed or was refused is rolled back."""
    from portal.core import transaction

    # Kept on the lean path: the gate's keypad writes commit here.
    app.after_request(lean.keep(transaction.finish))


def register_commands(app):
    """Commands shared by all features."""
    from portal.core.commands import worker

    app.cli.add_command(worker)
