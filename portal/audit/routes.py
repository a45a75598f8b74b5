"""The audit log for managers: who did what, filtered by actor, action, object and time; CSV export."""

import json
from datetime import date, datetime, time, timedelta

from flask import Blueprint, Response, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import and_

from portal.accounts.models import MANAGER_ROLES, STAFF_ROLES, User
from portal.accounts.queries import sees_every_site, site_condition
from portal.accounts.sessions import page_roles
from portal.audit import queries
from portal.audit.models import AuditEntry
from portal.audit.operations import record
from portal.core.converters import is_id
from portal.core.timeutil import local_text, zone
from portal.extensions import db
from portal.reports.exports import to_csv
from portal.sites.models import Site

bp = Blueprint("audit", __name__, url_prefix="/team/audit")

KIND_LABELS = {"system": _l("System"), "device": _l("Device"), "visitor": _l("Visitor or anonymous")}
HEADER = (_l("Time"), _l("Actor"), _l("Action"), _l("Object"), _l("Object id"), _l("Community"), _l("IP address"), _l("Details"))


def _sites():
    """The sites the viewer audits, and the one chosen (an all-sites admin may pick one with ?site_id=)."""
    scope = site_condition(current_user, AuditEntry.site_id)
    chosen = None
    if current_user.site_id is not None:
        chosen = db.session.get(Site, current_user.site_id)
    else:
        wanted = request.args.get("site_id", type=int)
        if wanted and is_id(wanted) and sees_every_site(current_user):
            chosen = db.session.get(Site, wanted)
            scope = AuditEntry.site_id == (chosen.id if chosen else -1)
    return scope, chosen


def _day(name, tz, errors):
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    try:
        return datetime.combine(date.fromisoformat(raw), time(0), tzinfo=zone(tz))
    except ValueError:
        errors[name] = _("Write the date as YYYY-MM-DD, e.g. 2026-12-01.")
        return None


def filters(tz):
    """The filters of the query string, cleaned; bad ones are left out with a message in the page's language."""
    errors = {}
    args = request.args
    actor = (args.get("actor") or "").strip()
    if actor.isdigit():
        actor = int(actor) if is_id(int(actor)) else None
    elif actor not in KIND_LABELS:
        actor = None
    since, until = _day("from", tz, errors), _day("to", tz, errors)
    if since and until and until < since:
        errors["to"] = _("The end date is before the start date.")
        until = None
    return {
        "actor": actor,
        "action": (args.get("action") or "").strip()[:48] or None,
        "object_type": (args.get("object") or "").strip()[:24] or None,
        "object_id": (args.get("object_id") or "").strip()[:40] or None,
        "since": since,
        "until": until + timedelta(days=1) if until else None,  # the end date is included
    }, errors


def actor_names(ids):
    """user id -> how the log names them: staff by name and login; a resident only by number (no personal data)."""
    users = db.session.scalars(db.select(User).where(User.id.in_(set(ids) or {-1}))).all()
    return {u.id: f"{u.display_name} ({u.login})" if u.role in STAFF_ROLES else _("Resident #%(id)s", id=u.id) for u in users}


def _actor_text(entry, names):
    if entry.actor_id is not None:
        return names.get(entry.actor_id, f"#{entry.actor_id}")
    return str(KIND_LABELS.get(entry.actor_kind, entry.actor_kind))


def _details(entry):
    return json.dumps(entry.details or {}, ensure_ascii=False, sort_keys=True, default=str)


def _request():
    """(scope, chosen site, its zone, filters, filter errors) of this request."""
    scope, chosen = _sites()
    tz = chosen.timezone if chosen is not None else "Asia/Shanghai"
    f, errors = filters(tz)
    return scope, chosen, tz, f, errors


@bp.get("/")
@page_roles(*MANAGER_ROLES)
def index():
    """The filtered entries, a page at a time."""
    scope, chosen, tz, f, errors = _request()
    page = max(1, min(request.args.get("page", 1, type=int) or 1, 100000))
    rows, more = queries.page_of(queries.search(scope, **f), page)
    names = actor_names([r.actor_id for r in rows if r.actor_id] + ([f["actor"]] if isinstance(f["actor"], int) else []))
    staff = db.session.scalars(
        db.select(User)
        .where(User.role.in_(STAFF_ROLES), and_(site_condition(current_user, User.site_id)) | (User.role == "admin"))
        .order_by(User.login)
    ).all()
    site_names = {s.id: s for s in db.session.scalars(db.select(Site).where(Site.id.in_({r.site_id for r in rows} or {-1})))}
    args = {k: v for k, v in request.args.items() if k not in ("page", "lang")}
    html = render_template(
        "audit/index.html",
        rows=rows,
        page=page,
        more=more,
        names=names,
        actor_text=_actor_text,
        details=_details,
        when=lambda r: local_text(r.at, tz, "%Y-%m-%d %H:%M:%S"),
        staff=staff,
        kinds=KIND_LABELS,
        actions=queries.distinct_values(scope, AuditEntry.action),
        object_types=queries.distinct_values(scope, AuditEntry.object_type),
        site_names=site_names,
        chosen=chosen,
        f=request.args,
        errors=errors,
        page_url=lambda n: url_for("audit.index", **args, page=n),
        csv_url=url_for("audit.export", **args),
    )
    return html, 400 if errors else 200, {"Cache-Control": "no-store"}


@bp.get("/audit.csv")
@page_roles(*MANAGER_ROLES)
def export():
    """The filtered entries as CSV (at most 10,000 rows, newest first); the export is itself audited."""
    scope, chosen, tz, f, _errors = _request()
    rows = db.session.scalars(queries.search(scope, **f).limit(queries.EXPORT_MAX)).all()
    names = actor_names([r.actor_id for r in rows if r.actor_id])
    sites = {s.id: s.slug for s in db.session.scalars(db.select(Site))}
    body = to_csv(
        HEADER,
        (
            (
                local_text(r.at, tz, "%Y-%m-%d %H:%M:%S"),
                _actor_text(r, names),
                r.action,
                r.object_type,
                r.object_id,
                sites.get(r.site_id, ""),
                r.ip,
                _details(r),
            )
            for r in rows
        ),
    )
    filters_used = {k: v for k, v in request.args.items() if k != "lang"}
    record(
        "audit.export",
        "site",
        chosen.id if chosen else None,
        site_id=chosen.id if chosen else None,
        rows=len(rows),
        filters=filters_used,
    )
    name = f"audit-{chosen.slug if chosen else 'all'}.csv"
    return Response(
        body,
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )
