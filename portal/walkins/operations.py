"""Walk-in and item-movement writes: the guard registers, the host approves from the phone (or it times out)."""

import secrets
from datetime import timedelta

from flask import current_app, url_for
from flask_babel import force_locale, gettext
from sqlalchemy import update as sa_update

from portal.audit.operations import record
from portal.core import crypto
from portal.core import validators as v
from portal.core.converters import is_id
from portal.core.errors import Refused
from portal.core.i18n import local_name
from portal.core.timeutil import utcnow
from portal.desk.operations import screen_name
from portal.events.operations import record_event
from portal.extensions import db
from portal.notify.operations import queue_sms
from portal.passes.retention import scrubbed
from portal.permits.queries import permit_covering
from portal.sites.models import Gate
from portal.sites.queries import unit_in_site
from portal.walkins.models import ItemMovement, WalkIn
from portal.walkins.queries import residents_of

ANSWER_MINUTES = 15
MANAGER_ANSWER_HOURS = 4
WALKIN_PASS_HOURS = 2


def _unit_and_gate(site_id, data, errors):
    gate = None
    unit, gate_id = unit_in_site(data.get("unit_id"), site_id), data.get("gate_id")
    if unit is None:
        errors["unit_id"] = ("invalid_unit", "Choose a unit of this community.", {})
    if gate_id is not None:
        if is_id(gate_id):
            gate = db.session.scalar(db.select(Gate).where(Gate.id == gate_id, Gate.site_id == site_id))
        if gate is None:
            errors["gate_id"] = ("unknown_gate", "One of the gates does not exist at this community.", {})
    return unit, gate


def approval_link(kind, token):
    """Absolute link the host opens from the SMS."""
    base = current_app.config.get("PUBLIC_BASE_URL")
    if base:
        return base.rstrip("/") + url_for("host.by_link", kind=kind, token=token)
    return url_for("host.by_link", kind=kind, token=token, _external=True)


def _notify_hosts(unit, site, msgid, kind, token, **params):
    url = approval_link(kind, token)
    texts = []
    for lang in ("zh", "en"):
        with force_locale(lang):
            texts.append(gettext(msgid, site=local_name(site), unit=unit.label, url=url, **params))
    body = texts[0] if texts[0] == texts[1] else "\n".join(texts)
    for person in residents_of(unit)[:3]:
        if person.phone:
            queue_sms(person.phone, body, f"desk.{kind}", site_id=site.id)


def register_walk_in(guard, site, data):
    """Register a visitor without a pass and ask the host; an exact watchlist match refuses at once."""
    from portal.watchlist.operations import exact_hits

    errors = {}
    name = v.collect(errors, "name", v.person_name, data.get("name"))
    phone = v.collect(errors, "phone", v.phone, data.get("phone"))
    idn = v.collect(errors, "id_number", v.id_number, data.get("id_number"))
    plate = v.collect(errors, "plate", v.plate, data.get("plate"), allow_unknown=True)
    purpose = v.collect(errors, "purpose", v.clean_text, data.get("purpose"), max_len=200, required=False)
    unit, token, columns = _host_request(site, data, errors, guard)
    w = WalkIn(
        **columns,
        visitor_name=name,
        visitor_phone=phone,
        visitor_id_number=idn,
        plate=plate,
        purpose=purpose,
    )
    db.session.add(w)
    db.session.flush()
    record("desk.walkin.create", "walk_in", w.id, site_id=site.id, unit_id=unit.id)
    if exact_hits(site.id, id_number=idn, phone=phone, plate=plate):
        w.status, w.decided_at = "refused", utcnow()
        _walk_in_event(w, guard, "deny", "watchlisted", outcome="watchlisted")
        return w, None
    screen_name(site.id, name, f"walkin:{w.id}", details={"walk_in_id": w.id, "unit": unit.label})
    _notify_hosts(
        unit, site, "[%(site)s] %(name)s is at the gate to visit %(unit)s. Approve or refuse: %(url)s", "w", token, name=name
    )
    return w, token


def _walk_in_event(w, user, decision, reason, approved_by=None, outcome=None):
    details = {"walk_in_id": w.id, "visitor_name": w.visitor_name, "unit": w.unit.label}
    if outcome:
        details["outcome"] = outcome
    ev = record_event(
        site_id=w.site_id,
        gate_id=w.gate_id,
        method="walk_in",
        decision=decision,
        reason=reason,
        direction="in" if decision == "grant" else None,
        source="desk",
        approved_by=approved_by,
        actor_id=user.id if user is not None else None,
        pass_id=w.pass_id,
        plate=w.plate,
        details=details,
    )
    w.event_id = ev.id
    return ev


def _host_request(site, data, errors, guard, vacant_ok=False):
    """A request the host must answer: its unit, the token of its SMS link, and the columns every such row has.

    vacant_ok: a unit with nobody living in it is no refusal (its works' permit or a manager answers instead).
    """
    unit, gate = _unit_and_gate(site.id, data, errors)
    if errors:
        raise Refused("invalid", "Some fields are invalid.", fields=errors)
    if not vacant_ok and not residents_of(unit):
        raise Refused("no_host", "Nobody lives in this unit to approve the visit.", kind="conflict")
    token = secrets.token_urlsafe(24)
    columns = dict(
        site_id=site.id,
        unit_id=unit.id,
        gate_id=gate.id if gate else None,
        token_hash=crypto.token_hash(token),
        expires_at=utcnow() + timedelta(minutes=ANSWER_MINUTES),
        created_by_id=guard.id,
        status="pending",
    )
    return unit, token, columns


def _claim_pending(req):
    """Refuse a request already answered or timed out, else claim it for this decision."""
    if req.status != "pending":
        raise Refused("decided", "This request has already been answered.", kind="conflict")
    if req.expires_at <= utcnow():
        raise Refused("expired", "This request has timed out.", kind="conflict")
    # Claim the request with a conditional update: a host's link and a guard racing to answer
    # cannot both issue a pass (the loser sees no pending row once the winner commits).
    model = type(req)
    claimed = db.session.execute(
        sa_update(model)
        .where(model.id == req.id, model.status == "pending")
        .values(status="deciding")
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        raise Refused("decided", "This request has already been answered.", kind="conflict")


def approve_walk_in(w, user, by="host", reason=None):
    """Approve: a short single-entry pass and a walk-in access event. A guard must write why."""
    from portal.passes.operations import issue_pass

    if by == "guard":  # checked before the request is claimed, so a refused reason leaves it pending
        reason = v.check("reason", v.clean_text, reason, max_len=300)
        if len(reason) < 5:
            raise Refused(
                "invalid",
                "Some fields are invalid.",
                fields={"reason": ("too_short", "Write a reason of at least %(min)s characters.", {"min": 5})},
            )
    _claim_pending(w)
    if by == "guard":
        w.guard_reason = reason
    host = user if by == "host" and user is not None and user.role == "resident" else (residents_of(w.unit) or [None])[0]
    if host is None:
        raise Refused("no_host", "Nobody lives in this unit to approve the visit.", kind="conflict")
    now = utcnow()
    site = w.unit.building.site
    p = issue_pass(
        host,
        w.unit,
        dict(
            visitor_name=w.visitor_name,
            visitor_phone=w.visitor_phone,
            visitor_id_number=w.visitor_id_number,
            plate=w.plate,
            kind="guest",
            timezone=site.timezone,
            valid_from=now,
            valid_until=now + timedelta(hours=WALKIN_PASS_HOURS),
            schedule=None,
            max_entries=1,
            floors=[w.unit.floor],
            gate_ids=[],
            notify="sms" if w.visitor_phone else "none",
            company=None,
            work_area=None,
            note="walk-in",
        ),
    )
    w.pass_id, w.status, w.approved_by, w.decided_at = p.id, "approved", by, now
    w.decided_by_id = user.id if user is not None else None
    _walk_in_event(w, user, "grant", "walk_in", approved_by=by)
    record("desk.walkin.approve", "walk_in", w.id, site_id=w.site_id, approved_by=by, pass_id=p.id, reason=w.guard_reason)
    return w


def refuse_walk_in(w, user, by="host"):
    """The host (or the desk, when the visitor leaves) refuses; recorded as a denied walk-in."""
    _claim_pending(w)
    w.status, w.decided_at, w.approved_by = "refused", utcnow(), None
    w.decided_by_id = user.id if user is not None else None
    _walk_in_event(w, user, "deny", "walk_in", outcome=f"refused_by_{by}")
    record("desk.walkin.refuse", "walk_in", w.id, site_id=w.site_id, by=by)
    return w


def register_item(guard, site, data):
    """Log large items or renovation material going in or out, pending the host's approval."""
    errors = {}
    direction = data.get("direction")
    if direction not in ("in", "out"):
        errors["direction"] = ("invalid_direction", "Direction must be in or out.", {})
    description = v.collect(errors, "description", v.clean_text, data.get("description"), max_len=300)
    quantity = data.get("quantity", 1)
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= 10000:
        errors["quantity"] = ("invalid_quantity", "Quantity must be a number from 1 to 10000.", {})
    carrier = v.collect(errors, "carrier_name", v.person_name, data.get("carrier_name"), required=False)
    plate = v.collect(errors, "plate", v.plate, data.get("plate"), allow_unknown=True)
    unit, token, columns = _host_request(site, data, errors, guard, vacant_ok=True)
    item = ItemMovement(
        **columns,
        direction=direction,
        description=description,
        quantity=quantity,
        carrier_name=carrier,
        plate=plate,
    )
    db.session.add(item)
    db.session.flush()
    record("desk.item.create", "item_movement", item.id, site_id=site.id, unit_id=unit.id, direction=direction)
    if not residents_of(unit):
        return _vacant_unit_item(item, unit, site), None
    _notify_hosts(
        unit,
        site,
        "[%(site)s] Items for %(unit)s at the gate (%(what)s). Approve or refuse: %(url)s",
        "i",
        token,
        what=description[:40],
    )
    return item, token


def _vacant_unit_item(item, unit, site):
    """Nobody lives in the unit: the works' approved permit covers the goods, else a manager decides (no SMS to anyone)."""
    permit = permit_covering(unit.id, site)
    if permit is not None:
        item.status, item.approved_by, item.permit_id, item.decided_at = "approved", "permit", permit.id, utcnow()
        record("desk.item.approve", "item_movement", item.id, site_id=site.id, by="permit", permit_id=permit.id)
    else:
        item.expires_at = utcnow() + timedelta(hours=MANAGER_ANSWER_HOURS)  # a manager, not a host at home, answers
    return item


def decide_item(item, user, approve, by="host"):
    """The host (or, for a unit nobody lives in, a manager) approves or refuses an item movement."""
    _claim_pending(item)
    item.status = "approved" if approve else "refused"
    item.approved_by = by if approve else None
    item.decided_at, item.decided_by_id = utcnow(), user.id if user is not None else None
    record("desk.item." + ("approve" if approve else "refuse"), "item_movement", item.id, site_id=item.site_id, by=by)
    return item


def expire_pending(now=None):
    """Time out unanswered walk-ins (recorded as denied access events) and item movements."""
    now = now or utcnow()
    expired = 0
    # "deciding" is only ever seen committed when an earlier release saved a refused claim; let it time out too.
    open_ = ("pending", "deciding")
    for w in db.session.scalars(db.select(WalkIn).where(WalkIn.status.in_(open_), WalkIn.expires_at <= now)):
        w.status, w.decided_at = "expired", now
        _walk_in_event(w, None, "deny", "expired", outcome="timeout")
        record("desk.walkin.expire", "walk_in", w.id, site_id=w.site_id)
        expired += 1
    for item in db.session.scalars(db.select(ItemMovement).where(ItemMovement.status.in_(open_), ItemMovement.expires_at <= now)):
        item.status, item.decided_at = "expired", now
        record("desk.item.expire", "item_movement", item.id, site_id=item.site_id)
        expired += 1
    return expired


def purge_desk_records(older, batch):
    """Retention: erase the visitor of walk-ins and the carrier of item movements older than their site keeps them.

    older(site column, time column) is the SQL condition (portal.sites.retention: each site's own days).

    Walk-ins that led to a pass are erased with that pass (portal.passes.retention); the rest, refused or
    timed out, here. Rows already erased (their name is the purge's) are not selected again, so the purge
    can be re-run safely.
    """
    walk_in_values, item_values = scrubbed(WalkIn.__tablename__), scrubbed(ItemMovement.__tablename__)
    walk_ins = db.session.scalars(
        db.select(WalkIn.id)
        .where(
            older(WalkIn.site_id, WalkIn.created_at),
            WalkIn.pass_id.is_(None),
            WalkIn.visitor_name != walk_in_values["visitor_name"],
        )
        .limit(batch)
    ).all()
    if walk_ins:
        db.session.execute(sa_update(WalkIn).where(WalkIn.id.in_(walk_ins)).values(**walk_in_values))
    items = db.session.scalars(
        db.select(ItemMovement.id)
        .where(
            older(ItemMovement.site_id, ItemMovement.created_at),
            (ItemMovement.carrier_name.is_not(None)) | (ItemMovement.plate.is_not(None)),
        )
        .limit(batch)
    ).all()
    if items:
        db.session.execute(sa_update(ItemMovement).where(ItemMovement.id.in_(items)).values(**item_values))
    return len(walk_ins) + len(items)
