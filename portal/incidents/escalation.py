"""Escalation up the chain (逐级上报): unacknowledged high and critical incidents reach managers by SMS, step by step.

Step 1, after the site's limit (Site.settings["incident_ack_minutes"], default 5): the managers on duty (with a
running shift), or every manager of the site when none is. Step 2, after twice the limit: every manager of the site
and the all-sites admins. Each step is one row under a unique key (incident, step): racing workers make it once.
"""

from datetime import timedelta

from flask_babel import force_locale, gettext
from sqlalchemy.exc import IntegrityError

from portal.accounts.models import User
from portal.audit.operations import record
from portal.core.i18n import local_name
from portal.core.timeutil import as_utc, utcnow
from portal.desk.models import Shift
from portal.extensions import db
from portal.feedback.notices import absolute
from portal.incidents.labels import KIND_LABELS, SEVERITY_LABELS
from portal.incidents.models import ESCALATING, Incident, IncidentEscalation, IncidentEvent
from portal.notify.operations import queue_sms

DEFAULT_ACK_MINUTES = 5
STEPS = 2


def ack_minutes(site):
    """Minutes an incident may wait for an acknowledgement before step 1."""
    value = (site.settings or {}).get("incident_ack_minutes")
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value <= 24 * 60
    return value if ok else DEFAULT_ACK_MINUTES


def due_steps(incident, site, now):
    """Steps whose time has come for an incident nobody acknowledged."""
    if incident.acknowledged_at is not None or incident.severity not in ESCALATING:
        return []
    waited = as_utc(now) - as_utc(incident.reported_at)
    limit = timedelta(minutes=ack_minutes(site))
    return [step for step in range(1, STEPS + 1) if waited >= limit * step]


def recipients(site_id, step):
    """Step 1: managers on duty, else every manager of the site; step 2: every manager and the all-sites admins."""
    managers = db.select(User).where(User.site_id == site_id, User.active.is_(True), User.role == "manager")
    if step == 1:
        on_duty = managers.where(User.id.in_(db.select(Shift.guard_id).where(Shift.site_id == site_id, Shift.ended_at.is_(None))))
        return db.session.scalars(on_duty.order_by(User.id)).all() or db.session.scalars(managers.order_by(User.id)).all()
    admins = db.select(User).where(User.site_id.is_(None), User.active.is_(True), User.role == "admin")
    return db.session.scalars(managers.order_by(User.id)).all() + db.session.scalars(admins.order_by(User.id)).all()


def _text(user, incident, site, step):
    lang = user.locale if user.locale in ("zh", "en") else "zh"
    with force_locale(lang):
        return gettext(
            "[%(site)s] Incident #%(id)s (%(kind)s, %(severity)s) at %(where)s is not acknowledged after %(n)s min "
            "(step %(step)s). %(url)s",
            site=local_name(site),
            id=incident.id,
            kind=str(KIND_LABELS[incident.kind]),
            severity=str(SEVERITY_LABELS[incident.severity]),
            where=incident.location,
            n=round(ack_minutes(site) * step),
            step=step,
            url=absolute("incidents.show", incident_id=incident.id),
        )


def escalate(incident, step):
    """Make one step of one incident, or None when it was already made (here or by another worker)."""
    try:
        with db.session.begin_nested():
            row = IncidentEscalation(site_id=incident.site_id, incident_id=incident.id, step=step)
            db.session.add(row)
            db.session.flush()
    except IntegrityError:
        return None
    site = incident.site
    people = recipients(site.id, step)
    for person in people:
        if person.phone:
            queue_sms(person.phone, _text(person, incident, site, step), "incident_escalation", site_id=site.id)
    row.notified = [p.id for p in people]
    db.session.add(IncidentEvent(incident_id=incident.id, action="escalated", details={"step": step, "notified": row.notified}))
    record("incident.escalate", "incident", incident.id, site_id=site.id, step=step, notified=row.notified)
    return row


def escalate_due(now=None):
    """Escalate every step that is due; commits; returns the new escalation rows."""
    now = now or utcnow()
    made = db.select(db.func.count(IncidentEscalation.id)).where(IncidentEscalation.incident_id == Incident.id)
    q = (
        db.select(Incident)
        .where(
            Incident.status == "open",
            Incident.acknowledged_at.is_(None),
            Incident.severity.in_(ESCALATING),
            made.scalar_subquery() < STEPS,
        )
        .order_by(Incident.id)
        .limit(1000)
    )
    rows = []
    for incident in db.session.scalars(q).all():
        for step in due_steps(incident, incident.site, now):
            row = escalate(incident, step)
            if row is not None:
                rows.append(row)
    db.session.commit()
    return rows
