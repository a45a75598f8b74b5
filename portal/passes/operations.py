"""Writes on passes: issue, revoke, extend, resend; signing keys; erasure and the retention purge. Views call these only."""

import secrets

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import current_app, url_for
from flask_babel import force_locale, gettext
from sqlalchemy import String, cast, delete, or_, select, update

from portal.audit.operations import record
from portal.core import crypto
from portal.core.errors import Refused
from portal.core.i18n import local_name
from portal.core.timeutil import local_text, utcnow
from portal.emergency.models import RollCallEntry
from portal.events.models import AccessEvent
from portal.extensions import db
from portal.notify.models import Message
from portal.notify.operations import queue_sms
from portal.passes import codes, keys
from portal.passes.labels import schedule_text
from portal.passes.models import Pass, SigningKey
from portal.passes.retention import PERSONAL_DETAILS, scrubbed
from portal.passes.schema import MAX_WINDOW, site_limit
from portal.permits.queries import approval_required, contractor_limit
from portal.walkins.models import WalkIn


def link_for(token):
    """Absolute URL of the visitor's pass page."""
    base = current_app.config.get("PUBLIC_BASE_URL")
    path = url_for("passes.visitor_page", token=token)
    return base.rstrip("/") + path if base else url_for("passes.visitor_page", token=token, _external=True)


def issue_pass(host, unit, values):
    """Create a pass for a host's unit from validated values and queue its SMS."""
    site = unit.building.site
    ensure_key(site)
    now = utcnow()
    token = secrets.token_urlsafe(24)
    p = Pass(
        site_id=site.id,
        unit_id=unit.id,
        host_id=host.id,
        link_hash=crypto.token_hash(token),
        link_token=token,
        otp_secret=codes.new_otp_secret(),
        keypad_no=codes.allocate_keypad_no(site.id, now),
        **values,
    )
    p.visitor_phone_idx = crypto.blind_index("phone", p.visitor_phone) if p.visitor_phone else None
    p.visitor_id_idx = crypto.blind_index("id", p.visitor_id_number) if p.visitor_id_number else None
    p.visitor_phone_last4 = p.visitor_phone[-4:] if p.visitor_phone else None
    db.session.add(p)
    db.session.flush()
    record(
        "pass.create",
        "pass",
        p.id,
        site_id=site.id,
        kind=p.kind,
        unit_id=unit.id,
        valid_from=p.valid_from.isoformat(),
        valid_until=p.valid_until.isoformat(),
        status=p.status,
    )
    # A pass waiting for a manager is sent once approved: a link that the gate refuses helps nobody.
    if p.notify == "sms" and p.visitor_phone and p.status == "active":
        send_pass_sms(p, purpose="pass")
    return p


def approve_pass(p, by):
    """A manager lets a contractor pass that waits for approval work; its SMS goes out now."""
    if p.state() != "awaiting_approval":
        raise Refused("not_awaiting_approval", "This pass is not waiting for approval.", kind="conflict")
    p.status, p.approved_by_id, p.approved_at = "active", by.id, utcnow()
    p.version += 1  # the bridge pushes it to the devices now
    record("pass.approve", "pass", p.id, site_id=p.site_id)
    if p.notify == "sms" and p.visitor_phone:
        send_pass_sms(p, purpose="pass")
    return p


def sms_text(p):
    """Short bilingual SMS with the link; no codes in the SMS body, they rotate."""
    site = p.site
    start = local_text(p.valid_from, p.timezone, "%m-%d %H:%M")
    end = local_text(p.valid_until, p.timezone, "%m-%d %H:%M")
    url = link_for(p.link_token)
    params = dict(start=start, end=end, url=url)
    texts = []
    for lang in ("zh", "en"):
        with force_locale(lang):
            params["site"] = local_name(site)  # each half names the community in its own language
            params["unit"] = p.unit.label  # the building's English name in the English half
            if p.schedule:  # a Tuesday visit on a Mon/Wed/Fri pass is refused: the visitor must know the days
                texts.append(
                    gettext(
                        "[%(site)s] You are invited to %(unit)s, %(start)s to %(end)s, only %(when)s. Your pass: %(url)s",
                        when=schedule_text(p.schedule),
                        **params,
                    )
                )
            else:
                texts.append(
                    gettext("[%(site)s] You are invited to %(unit)s, %(start)s to %(end)s. Your pass: %(url)s", **params)
                )
    zh, en = texts
    return zh if zh == en else f"{zh}\n{en}"


def send_pass_sms(p, purpose="pass"):
    """Queue the pass link to the visitor's phone."""
    if not p.visitor_phone:
        raise Refused("no_phone", "This pass has no phone number to send to.")
    return queue_sms(p.visitor_phone, sms_text(p), purpose, pass_id=p.id, site_id=p.site_id)


def resend_pass(p, by):
    """Send the link again, for example when the first SMS did not arrive."""
    if p.state() in ("revoked", "expired", "used_up"):
        raise Refused("pass_not_live", "This pass can no longer be used, so it is not sent again.", kind="conflict")
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
        raise Refused("pass_not_live", "Only a pass that has not ended can be extended.", kind="conflict")
    if new_until <= p.valid_until:
        raise Refused(
            "invalid",
            "The new end must be later than the current one.",
            fields={"valid_until": ("window_order", "The new end must be later than the current one.")},
        )
    if new_until - p.valid_from > MAX_WINDOW:
        raise Refused(
            "invalid",
            "A pass can last at most one year.",
            fields={"valid_until": ("window_too_long", "A pass can last at most one year.")},
        )
    too_long = site_limit(p.site, p.kind, p.valid_from, new_until)
    if too_long:
        raise Refused("invalid", too_long[1], fields={"valid_until": too_long}, **too_long[2])
    old = p.valid_until
    p.valid_until = new_until
    if (
        p.kind == "contractor"
        and p.permit_id is None
        and approval_required(p.site)
        and new_until - p.valid_from > contractor_limit(p.site)
    ):
        p.status = "awaiting_approval"  # a longer stay is the manager's to approve, like a long pass at issue
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


def create_key(site, status="active"):
    """A new key for the site; stored with its private half encrypted."""
    key = Ed25519PrivateKey.generate()
    row = SigningKey(
        site_id=site.id,
        status=status,
        public_key=key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw),
        private_key=key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        ).hex(),
    )
    db.session.add(row)
    db.session.flush()
    keys.invalidate()
    return row


def ensure_key(site):
    """The site's signing key, made on first use."""
    row = keys.active_key_row(site.id)
    return row or create_key(site)


def rotate_keys(site):
    """New signing key; the old ones keep verifying until retired, so shown QRs stay valid."""
    for row in db.session.scalars(db.select(SigningKey).where(SigningKey.site_id == site.id, SigningKey.status == "active")):
        row.status = "verify"
    return create_key(site)


def retire_key(kid):
    """Stop accepting a key altogether."""
    row = db.session.get(SigningKey, kid)
    if row is not None:
        row.status = "retired"
        row.retired_at = utcnow()
        keys.invalidate()
    return row


def _scrub_events(where):
    """Access events stay for the reports, without the visitor's plate or name in their details."""
    rows = db.session.execute(select(AccessEvent.id, AccessEvent.details).where(where)).all()
    for event_id, details in rows:
        clean = {k: v for k, v in (details or {}).items() if k not in PERSONAL_DETAILS}
        db.session.execute(
            update(AccessEvent).where(AccessEvent.id == event_id).values(**scrubbed(AccessEvent.__tablename__), details=clean)
        )


def _carries_personal_data():
    """Events still holding a plate or a personal details key (so a re-run finds nothing)."""
    text = cast(AccessEvent.details, String)
    return or_(AccessEvent.plate.is_not(None), *[text.like(f'%"{key}"%') for key in PERSONAL_DETAILS])


def _anonymise(ids, now):
    db.session.execute(update(Pass).where(Pass.id.in_(ids)).values(**scrubbed(Pass.__tablename__), purged_at=now))
    db.session.execute(delete(Message).where(Message.pass_id.in_(ids)))
    db.session.execute(update(WalkIn).where(WalkIn.pass_id.in_(ids)).values(**scrubbed(WalkIn.__tablename__)))
    db.session.execute(
        update(RollCallEntry).where(RollCallEntry.pass_id.in_(ids)).values(**scrubbed(RollCallEntry.__tablename__))
    )
    _scrub_events(AccessEvent.pass_id.in_(ids) & _carries_personal_data())


def erase_now(p, reason):
    """Erasure on request: revoke the pass (devices drop it) and erase the visitor's data at once."""
    revoke_pass(p, reason="erasure requested")
    db.session.flush()
    _anonymise([p.id], utcnow())
    record("pass.erase", "pass", p.id, site_id=p.site_id, reason=reason)
    db.session.expire(p)
    return p


def purge_ended(now=None, batch=500):
    """Anonymise passes that ended their site's retention days ago (RETENTION_DAYS unless the site set its own); re-runnable."""
    from portal.sites.retention import per_site_cutoff

    now = now or utcnow()
    ended = per_site_cutoff(Pass.site_id, lambda cutoff: or_(Pass.valid_until < cutoff, Pass.revoked_at < cutoff), now)
    ids = db.session.scalars(db.select(Pass.id).where(ended, Pass.purged_at.is_(None)).limit(batch)).all()
    if not ids:
        return []
    _anonymise(ids, now)
    record("pass.purge", "pass", None, pass_ids=ids, retention_days=current_app.config["RETENTION_DAYS"])
    return ids


def scrub_events_without_pass(older, batch):
    """Retention: drop the plate and names from access events without a pass past their site's days; how many."""
    event_ids = db.session.scalars(
        select(AccessEvent.id)
        .where(AccessEvent.pass_id.is_(None), older(AccessEvent.site_id, AccessEvent.at), _carries_personal_data())
        .limit(batch)
    ).all()
    if event_ids:
        _scrub_events(AccessEvent.id.in_(event_ids))
    return len(event_ids)
