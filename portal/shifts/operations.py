"""Posts and offers: where each guard on shift is, and who is offered an incident or alarm first."""

from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from portal.audit.operations import record
from portal.core.converters import is_id
from portal.core.errors import Refused, ValidationFailed
from portal.core.timeutil import utcnow
from portal.desk.operations import current_shift
from portal.extensions import db
from portal.incidents.models import IncidentEvent
from portal.shifts import queries
from portal.shifts.models import POST_KINDS, SUBJECTS, GuardOffer, GuardPost
from portal.sites.models import Building, Gate

WIDEN_SECONDS = 60  # the nearest guards have this long before everyone on shift is offered it too


def set_post(user, site, kind, building_id=None, gate_id=None):
    """Set where I am on my running shift: a gate, a building, or on patrol."""
    shift = current_shift(user, site.id)
    if shift is None:
        raise Refused("no_shift", "You have no shift running.", kind="conflict")
    errors = {}
    if kind not in POST_KINDS:
        errors["kind"] = ("invalid_choice", "Choose a gate, a building or patrol.", {})
    building = db.session.get(Building, building_id) if kind == "building" and is_id(building_id) else None
    gate = db.session.get(Gate, gate_id) if kind == "gate" and is_id(gate_id) else None
    if kind == "building" and (building is None or building.site_id != site.id):
        errors["building_id"] = ("invalid_building", "Choose a building of this community.", {})
    if kind == "gate" and (gate is None or gate.site_id != site.id):
        errors["gate_id"] = ("invalid_gate", "Choose a gate of this community.", {})
    if errors:
        raise ValidationFailed(errors)
    post = db.session.get(GuardPost, shift.id) or GuardPost(shift_id=shift.id, site_id=site.id, guard_id=user.id)
    post.kind, post.set_at = kind, utcnow()
    post.building_id = building.id if building is not None else None
    post.gate_id = gate.id if gate is not None else None
    db.session.add(post)
    db.session.flush()
    record("shift.post", "desk_shift", shift.id, site_id=site.id, kind=kind, building_id=post.building_id, gate_id=post.gate_id)
    return post


def _offer(site_id, subject, subject_id, building_id, guard_id, wave, now):
    """One offer row; False when this guard already has it (an earlier wave or another worker)."""
    try:
        with db.session.begin_nested():
            db.session.add(
                GuardOffer(
                    site_id=site_id,
                    subject=subject,
                    subject_id=subject_id,
                    building_id=building_id,
                    guard_id=guard_id,
                    wave=wave,
                    offered_at=now,
                )
            )
            db.session.flush()
    except IntegrityError:
        return False
    return True


def offer_to_guards(site, building=None, subject="alarm", subject_id=None, now=None):
    """Offer something at a building to the nearest guards on shift; returns them (recorded when subject_id is given).

    Nearest: guards posted at that building, else guards on patrol, else everyone on shift. Everyone on shift is
    offered it WIDEN_SECONDS later by the shifts_widen_offers job, unless someone answered (close_offers).
    """
    if subject not in SUBJECTS:
        raise ValueError(subject)
    now = now or utcnow()
    guards = queries.nearest_guards(site.id, building.id if building is not None else None)
    if subject_id is not None:
        for guard in guards:
            _offer(site.id, subject, subject_id, building.id if building is not None else None, guard.id, 1, now)
        record("shift.offer", subject, subject_id, site_id=site.id, wave=1, guards=[g.id for g in guards])
    return guards


def close_offers(subject, subject_id, now=None):
    """Someone answered: the offers of this incident or alarm close and it is not widened."""
    db.session.execute(
        update(GuardOffer)
        .where(GuardOffer.subject == subject, GuardOffer.subject_id == subject_id, GuardOffer.answered_at.is_(None))
        .values(answered_at=now or utcnow()),
        execution_options={"synchronize_session": False},
    )


def widen_offers(now=None):
    """Offer what nobody answered within WIDEN_SECONDS to everyone on shift. Commits; returns the new offers."""
    now = now or utcnow()
    due = db.session.execute(
        db.select(GuardOffer.site_id, GuardOffer.subject, GuardOffer.subject_id, GuardOffer.building_id)
        .where(
            GuardOffer.answered_at.is_(None),
            GuardOffer.wave == 1,
            GuardOffer.offered_at <= now - timedelta(seconds=WIDEN_SECONDS),
            GuardOffer.offered_at > now - timedelta(days=1),
        )
        .distinct()
        .limit(1000)
    ).all()
    made = []
    for site_id, subject, subject_id, building_id in due:
        added = [g.id for g in queries.on_shift(site_id) if _offer(site_id, subject, subject_id, building_id, g.id, 2, now)]
        made += [(subject, subject_id, guard_id) for guard_id in added]
        if added and subject == "incident":  # the record's timeline shows when everyone was asked
            db.session.add(IncidentEvent(incident_id=subject_id, action="widened", at=now, details={"guards": added}))
    if made:
        record("shift.offer.widen", "site", None, offers=len(made))
    db.session.commit()
    return made
