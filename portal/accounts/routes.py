"""Login and logout pages."""

from urllib.parse import urlsplit

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.accounts.auth import LoginFailed, LoginThrottled, authenticate
from portal.accounts.forms import LoginForm
from portal.accounts.sessions import end_session, start_session
from portal.audit.operations import record
from portal.extensions import db, limiter

bp = Blueprint("accounts", __name__)


def _safe_next(target):
    """Only local paths; never another host (open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    return target if not parts.netloc and not parts.scheme else None


def home_for(user):
    """Where a user lands after login; a manager or admin with no community yet, the console that opens one."""
    if user.role == "resident":
        return url_for("resident.index")
    if user.is_manager and user.site_id is None:
        from portal.sites.models import Site

        if user.role == "manager" or db.session.scalar(db.select(Site.id).limit(1)) is None:
            return url_for("places.index")
    return url_for("desk.board")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("30/minute", methods=["POST"])
def login():
    """Log in with password, and TOTP for staff."""
    form = LoginForm()
    status, headers = 200, {}
    if request.method == "POST" and form.validate():
        try:
            user = authenticate(form.login.data, form.password.data, form.otp.data)
        except (LoginFailed, LoginThrottled) as exc:  # not a refusal: what a failed login wrote is kept
            g.keep_changes = True  # the failure counter and the lock must persist, where a refusal is abandoned
            status, headers = exc.status, dict(exc.headers or {})
            # One message for any wrong factor: a separate "code needed" would confirm a staff password.
            flash(
                _("Too many failed attempts. Try again later.") if exc.status == 429 else _("Wrong login, password or code."),
                "error",
            )
        else:
            start_session(user)
            record("auth.login", "user", user.id, site_id=user.site_id, actor=user)
            return redirect(_safe_next(request.args.get("next")) or home_for(user))
    return render_template("accounts/login.html", form=form), status, headers


@bp.post("/logout")
def logout():
    """End the session on the server."""
    if current_user.is_authenticated:
        record("auth.logout", "user", current_user.id, site_id=current_user.site_id)
    end_session()
    return redirect(url_for("accounts.login"))


@bp.get("/")
def root():
    """Send people to their home page."""
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    return redirect(url_for("accounts.login"))
