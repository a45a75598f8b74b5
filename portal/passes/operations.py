"""Writes on passes: issue, revoke, extend, resend, consume. Views call these only."""
import secrets

from flask import current_app, url_for
from flask_babel import force_locale, gettext

from portal.audit.operations import record
from portal.core import crypto
from portal.core.errors import ApiError
from portal.core.timeutil import local, utcnow
from portal.extensions import db
from portal.notify.operations import queue_sms
from portal.passes import codes, keys
from portal.passes.labels import schedule_text
from portal.passes.models import Pass
from portal.passes.schema import MAX_WINDOW


def link_for(token):
    """Absolute URL of the visitor's pass page."""
    base = current_app.config.get("PUBLIC_BASE_URL")
    path = url_for("passes.visitor_page", token=token)
    return base.rstrip("/") + path if base else url_for("passes.visitor_page", token=token, _external=True)


def issue_pass(host, unit, values):
    """Create a pass for a host's unit from validated values and queue its SMS."""
    site = unit.building.site
    keys.ensure_key(site)
    now = utcnow()
    token = secrets.token_urlsafe(24)
    p = Pass(site_id=site.id, unit_id=unit.id, host_id=host.id, link_hash=crypto.token_hash(token),
             link_token=token, otp_secret=codes.new_otp_secret(), keypad_no=codes.allocate_keypad_no(site.id, now),
             **values)
    p.visitor_phone_idx = crypto.blind_index("phone", p.visitor_phone) if p.visitor_phone else None
    p.visitor_id_idx = crypto.blind_index("id", p.visitor_id_number) if p.visitor_id_number else None
    db.session.add(p)
    db.session.flush()
    record("pass.create", "pass", p.id, site_id=site.id, kind=p.kind, unit_id=unit.id,
           valid_from=p.valid_from.isoformat(), valid_until=p.valid_until.isoformat())
    if p.notify == "sms" and p.visitor_phone:
        send_pass_sms(p, purpose="pass")
    return p


def sms_text(p):
    """Short bilingual SMS with the link; no codes in the SMS body, they rotate."""
    site = p.site
    start = local(p.valid_from, p.timezone).strftime("%m-%d %H:%M")
    end = local(p.valid_until, p.timezone).strftime("%m-%d %H:%M")
    url = link_for(p.link_token)
    params = dict(site=site.name, unit=p.unit.label, start=start, end=end, url=url)
    texts = []
    for lang in ("zh", "en"):
        with force_locale(lang):
            if p.schedule:  # a Tuesday visit on a Mon/Wed/Fri pass is refused: the visitor must know the days
                texts.append(gettext("[%(site)s] You are invited to %(unit)s, %(start)s to %(end)s, only %(when)s. "
                                     "Your pass: %(url)s", when=schedule_text(p.schedule), **params))
            else:
                texts.append(gettext("[%(site)s] You are invited to %(unit)s, %(start)s to %(end)s. Your pass: %(url)s",
                                     **params))
    zh, en = texts
    return zh if zh == en else f"{zh}\n{en}"


def send_pass_sms(p, purpose="pass"):
    """Queue the pass link to the visitor's phone."""
    if not p.visitor_phone:
        raise ApiError(400, "no_phone", "This pass has no phone number to send to.")
    return queue_sms(p.visitor_phone, sms_text(p), purpose, pass_id=p.id, site_id=p.site_id)


def resend_pass(p, by):
    """Send the link again, for example when the first SMS did not arrive."""
    if p.state() in ("revoked", "expired", "used_up"):
        raise ApiError(409, "pass_not_live", "This pass can no longer be used, so it is not sent again.")
    msg = send_pass_sms(p, purpose="resend")
    record("pass.resend", "pass", p.id, site_id=p.site_id)
    return msg


def revoke_pass(p, by=None, reason=None):
    """Revoke at once; bumps the version so the bridge deletes it from devices first."""
    if p.status == "revoked":
        return p
    p.status = "revoked"
    p.revoked_at = utcnow()
    p.revoked_by_id = by.id if by is not None else None
    p.revoke_reason = (reason or "")[:200] or None
    p.version += 1
    record("pass.revoke", "pass", p.id, site_id=p.site_id, reason=p.revoke_reason)
    return p


def extend_pass(p, new_until):
    """Move the end of a live pass later."""
    if p.state() in ("revoked", "expired"):
        raise ApiError(409, "pass_not_live", "Only a pass that has not ended can be extended.")
    if new_until <= p.valid_until:
        raise ApiError(400, "invalid", "The new end must be later than the current one.",
                       fields={"valid_until": ("window_order", "The new end must be later than the current one.")})
    if new_until - p.valid_from > MAX_WINDOW:
        raise ApiError(400, "invalid", "A pass can last at most one year.",
                       fields={"valid_until": ("window_too_long", "A pass can last at most one year.")})
    old = p.valid_until
    p.valid_until = new_until
    p.version += 1
    record("pass.extend", "pass", p.id, site_id=p.site_id, old_until=old.isoformat(), new_until=new_until.isoformat())
    return p


def revoke_issued_by(user, unit_id=None, reason="host moved out"):
    """Revoke every live pass a resident issued (for one unit, or all)."""
    q = db.select(Pass).where(Pass.host_id == user.id, Pass.status == "active", Pass.valid_until > utcnow())
    if unit_id is not None:
        q = q.where(Pass.unit_id == unit_id)
    revoked = []
    for p in db.session.scalars(q):
        revoke_pass(p, by=None, reason=reason)
        revoked.append(p)
    return revoked
