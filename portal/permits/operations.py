"""Writes on permits (apply, approve, refuse, suspend, resume) and freight approvals; approval issues the workers' passes."""

from portal.accounts.queries import reachable_unit_ids
from portal.audit.operations import record
from portal.core import validators as v
from portal.core.errors import Refused, ValidationFailed
from portal.core.timeutil import local, utcnow
from portal.extensions import db
from portal.passes.models import Pass
from portal.passes.operations import issue_pass, revoke_pass
from portal.permits import queries
from portal.permits.models import FreightApproval, Permit, PermitDocument, PermitWorker
from portal.permits.schema import parse_application, parse_freight
from portal.walkins.queries import residents_of


def _check_applicant(user, unit):
    """A resident applies for their own unit; a manager for a unit of their site with nobody living in it."""
    if user.role == "resident":
        if unit.id not in reachable_unit_ids(user):
            raise ValidationFailed({"unit_id": ("invalid_unit", "Choose one of your units.")})
    elif residents_of(unit):
        raise Refused("unit_occupied", "Residents live in this unit: they apply for its works themselves.", kind="conflict")


def apply(user, unit, data, documents=()):
    """A resident (or a manager, for a vacant unit) applies; the permit waits for a manager."""
    _check_applicant(user, unit)
    site = unit.building.site
    values = parse_application(data, local(utcnow(), site.timezone).date())
    workers = values.pop("workers")
    permit = Permit(site_id=site.id, unit_id=unit.id, applicant_id=user.id, status="pending", **values)
    db.session.add(permit)
    db.session.flush()
    for w in workers:
        db.session.add(PermitWorker(permit_id=permit.id, **w))
    for doc in documents:
        db.session.add(
            PermitDocument(
                permit_id=permit.id,
                kind=doc.kind,
                content_type=doc.content_type,
                size=len(doc.data),
                sha256=doc.sha256,
                data=doc.data,
            )
        )
    db.session.flush()
    record("permit.apply", "permit", permit.id, site_id=site.id, unit_id=unit.id, workers=len(workers), documents=len(documents))
    return permit


def _reason(text, required):
    return v.check("reason", v.clean_text, text, max_len=300, required=required)


def _pass_values(permit, name, phone, id_number, plate):
    start, end = queries.permit_window(permit, permit.unit.building.site.timezone)
    return dict(
        visitor_name=name,
        visitor_phone=phone,
        visitor_id_number=id_number,
        plate=plate,
        kind="contractor",
        timezone=permit.unit.building.site.timezone,
        valid_from=start,
        valid_until=end,
        schedule={"days": permit.days or [1, 2, 3, 4, 5, 6, 7], "start": permit.daily_start, "end": permit.daily_end},
        max_entries=None,
        floors=[permit.unit.floor],
        gate_ids=[],
        notify="sms" if phone else "none",
        company=permit.company,
        work_area=permit.work_area,
        note=None,
        status="active",
        permit_id=permit.id,
    )


def _issue_passes(permit):
    """A contractor pass for each worker and each of the works' vehicles, bound to the permit's dates and hours."""
    host, unit = permit.applicant, permit.unit
    for w in permit.workers:
        w.pass_id = issue_pass(host, unit, _pass_values(permit, w.name, w.phone, w.id_number, None)).id
    for plate in permit.plates or []:
        issue_pass(host, unit, _pass_values(permit, f"{permit.company[:40]} {plate}", None, None, plate))


def _decide(permit, status, by, reason, required):
    """A manager's decision: the new status, who took it and when, and the reason the applicant reads."""
    permit.decision_reason = _reason(reason, required=required)
    permit.status, permit.decided_by_id, permit.decided_at = status, by.id, utcnow()


def approve(permit, by, reason=None):
    """Approve: each worker, and each of the works' vehicles, gets a contractor pass bound to the permit's dates and hours."""
    if permit.status != "pending":
        raise Refused("not_pending", "This permit is not waiting for a decision.", kind="conflict")
    _decide(permit, "approved", by, reason, required=False)
    _issue_passes(permit)
    record(
        "permit.approve",
        "permit",
        permit.id,
        site_id=permit.site_id,
        workers=len(permit.workers),
        plates=len(permit.plates or []),
    )
    return permit


def refuse(permit, by, reason):
    """Refuse with a reason the applicant reads."""
    if permit.status != "pending":
        raise Refused("not_pending", "This permit is not waiting for a decision.", kind="conflict")
    _decide(permit, "refused", by, reason, required=True)
    record("permit.refuse", "permit", permit.id, site_id=permit.site_id)
    return permit


def suspend(permit, by, reason):
    """Stop the works now: every pass of the permit is revoked (the bridge removes them from devices first)."""
    if permit.status != "approved":
        raise Refused("not_approved", "Only an approved permit can be suspended.", kind="conflict")
    _decide(permit, "suspended", by, reason, required=True)
    passes = db.session.scalars(db.select(Pass).where(Pass.permit_id == permit.id, Pass.status != "revoked")).all()
    for p in passes:
        revoke_pass(p, by=by, reason="permit suspended")
    record("permit.suspend", "permit", permit.id, site_id=permit.site_id, passes=[p.id for p in passes])
    return permit


def resume(permit, by, reason=None):
    """Let suspended works go on: new passes are issued (and sent); the revoked ones never open a door again."""
    if permit.status != "suspended":
        raise Refused("not_suspended", "Only a suspended permit can be resumed.", kind="conflict")
    if queries.permit_window(permit, permit.unit.building.site.timezone)[1] <= utcnow():
        raise Refused("permit_ended", "This permit's dates have ended; the works need a new permit.", kind="conflict")
    _decide(permit, "approved", by, reason, required=False)
    _issue_passes(permit)
    record("permit.resume", "permit", permit.id, site_id=permit.site_id, workers=len(permit.workers))
    return permit


def add_freight(by, site, data):
    """A manager pre-approves a freight or engineering vehicle for a window."""
    values = parse_freight(data)
    row = FreightApproval(site_id=site.id, created_by_id=by.id, status="active", **values)
    db.session.add(row)
    db.session.flush()
    record("freight.approve", "freight_approval", row.id, site_id=site.id, plate=row.plate, company=row.company)
    return row


def revoke_freight(row, by):
    """Withdraw a freight approval; the barrier refuses the plate from the next read."""
    row.status = "revoked"
    record("freight.revoke", "freight_approval", row.id, site_id=row.site_id, plate=row.plate)
    return row
