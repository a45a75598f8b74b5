"""Server-side sessions behind flask-login, so logout and disablement take effect at once."""

import functools
import secrets
from datetime import timedelta
from functools import wraps

from flask import abort, current_app, g, request, session
from flask_login import current_user, login_user, logout_user
from sqlalchemy import bindparam
from sqlalchemy.orm import joinedload

from portal.accounts import bearer
from portal.accounts.models import User, UserSession
from portal.core.crypto import token_hash
from portal.core.errors import ApiError
from portal.core.timeutil import utcnow
from portal.extensions import db, login_manager

_TOUCH_EVERY = timedelta(seconds=60)


def start_session(user):
    """Log a user in with a fresh session id."""
    sid = secrets.token_urlsafe(32)
    db.session.add(UserSession(sid_hash=token_hash(sid), user_id=user.id, ip=request.remote_addr))
    lang = session.get("lang")  # the language picked on the login page is a choice, not a credential
    session.clear()
    if lang:
        session["lang"] = lang
    g.session_sid = sid
    login_user(user)
    session.permanent = True


def end_session():
    """Log out and kill the server-side session."""
    row = getattr(g, "user_session", None)
    if row is not None:
        row.revoked_at = utcnow()
    logout_user()
    session.clear()


def end_all_sessions(user):
    """Kill every session and API token of a user (disablement, password change)."""
    now = utcnow()
    db.session.execute(
        db.update(UserSession).where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None)).values(revoked_at=now)
    )
    from portal.accounts.models import ApiToken

    db.session.execute(
        db.update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)).values(revoked_at=now)
    )


@functools.cache
def _session_and_user():
    """The session row with its user, in one query: every logged-in request asks, and a lazy load is a second trip.

    Built once, so SQLAlchemy works out its cache key once rather than on every request.
    """
    return db.select(UserSession).options(joinedload(UserSession.user)).where(UserSession.sid_hash == bindparam("sid_hash"))


@login_manager.user_loader
def _load(sid):
    if not sid or len(sid) > 100:
        return None
    row = db.session.scalar(_session_and_user(), {"sid_hash": token_hash(sid)})
    if row is None or row.revoked_at is not None or not row.user.active:
        return None
    now = utcnow()
    cfg = current_app.config
    if row.user.is_staff:
        idle, absolute = timedelta(minutes=cfg["STAFF_IDLE_MINUTES"]), timedelta(hours=cfg["STAFF_ABSOLUTE_HOURS"])
    else:
        idle = absolute = timedelta(days=cfg["RESIDENT_SESSION_DAYS"])
    if now - row.last_seen_at > idle or now - row.created_at > absolute:
        row.revoked_at = now
        return None
    if now - row.last_seen_at > _TOUCH_EVERY:
        row.last_seen_at = now
    g.session_sid = sid
    g.user_session = row
    return row.user


def api_user():
    """The user behind a bearer token or the session cookie, or None."""
    if "api_user" in g:
        return g.api_user
    plain = bearer.bearer()
    user = None
    if plain:
        row = bearer.lookup(plain, "user")
        user = row.user if row and row.user.active else None
        if user is None:
            raise ApiError(401, "unauthorized", "Log in first.")
    elif current_user.is_authenticated:
        user = current_user._get_current_object()
    g.api_user = user
    return user


def api_roles(*roles):
    """API decorator: a user with one of the roles, else 401/403 as JSON."""

    def deco(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            user = api_user()
            if user is None:
                raise ApiError(401, "unauthorized", "Log in first.")
            if roles and user.role not in roles:
                raise ApiError(403, "forbidden", "You are not allowed to do this.")
            return view(*args, **kwargs)

        return wrapper

    return deco


def page_roles(*roles):
    """Page decorator: redirect to login, or 403 for the wrong role."""

    def deco(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if roles and current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return deco


def get_user(user_id):
    """A user by id."""
    return db.session.get(User, user_id)
