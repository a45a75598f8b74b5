"""Starting and ending emergencies and drills, the roll call, and what the bridge reports back per device."""

import phonenumbers
from flask_babel import force_locale, gettext
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import IntegrityError

from portal.audit.operations import record
from portal.core import wake
from portal.core.errors import Refused
from portal.core.timeutil import utcnow
from portal.devices.drivers import Capability, can
from portal.devices.models import Device
from portal.emergency.models import DEVICE_KINDS, KINDS, Emergency, EmergencyDevice, RollCallEntry
from portal.emergency.queries import running
from portal.extensions import db
from portal.notify.operations import queue_sms
from portal.passes.models import Pass

REASON_MAX = 200
ASSEMBLY_MAX = 200
CHINESE_REGIONS = ("CN", "HK", "MO", "TW")


def _check(kind, reason):
    fields = {}
    if kind not in KINDS:
        fields["kind"] = ("invalid_choice", "Choose one of the listed values.")
    if not isinstance(reason, str) or not reason.strip():
        fields["reason"] = ("required", "A reason is required.")
    elif len(reason) > REASON_MAX:
        fields["reason"] = ("too_long", "At most %(max)s characters.", {"max": REASON_MAX})
    if fields:
        raise Refused("invalid", "Some fields are invalid.", fields=fields)
    return reason.strip()


def start(site, user, kind, reason, now=None):
    """Begin an emergency or drill: devices released through the bridge, visitors told, the roll call opened."""
    reason = _check(kind, reason)
    if running(site.id) is not None:
        raise Refused("emergency_running", "An emergency is already running at this community.", kind="conflict")
    now = now or utcnow()
    emergency = Emergency(site_id=site.id, kind=kind, reason=reason, started_by_id=user.id, started_at=now)
    db.session.add(emergency)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:  # another guard started one in the same moment
        raise Refused("emergency_running", "An emergency is already running at this community.", kind="conflict") from None
    if emergency.releasing:
        _release_devices(emergency, site, now)
    people = _open_roll_call(emergency, site)
    record("emergency.start", "emergency", emergency.id, site_id=site.id, actor=user, kind=kind, reason=reason, people=people)
    return emergency


def _release_devices(emergency, site, now):
    devices = db.session.scalars(
        select(Device).where(Device.site_id == site.id, Device.kind.in_(DEVICE_KINDS), Device.status != "removed")
    ).all()
    if devices:
        # A restore still waiting from an earlier emergency must not undo this release when the device returns.
        db.session.execute(
            update(EmergencyDevice)
            .where(EmergencyDevice.device_id.in_([d.id for d in devices]), EmergencyDevice.state == "pending")
            .values(state="failed", error="superseded")
        )
    rows = []
    for device in devices:
        supported = can(device.driver, device.options, Capability.EMERGENCY_RELEASE)
        rows.append(
            {
                "emergency_id": emergency.id,
                "device_id": device.id,
                "mode": "release",
                "state": "pending" if supported else "failed",
                "error": None if supported else "unsupported",
                "attempts": 0,
            }
        )
    if rows:
        db.session.execute(EmergencyDevice.__table__.insert(), rows)
        wake.request(db.session)
    else:
        emergency.released_at = now


def assembly_point(site, lang):
    """The site's assembly point in a language (the Chinese one when there is no English)."""
    settings = site.settings or {}
    text = settings.get("assembly_point_en") if lang == "en" else None
    return text or settings.get("assembly_point") or None


def _language(phone):
    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(phone, "CN"))
    except phonenumbers.NumberParseException:
        return "zh"
    return "zh" if region in CHINESE_REGIONS else "en"


def emergency_sms(site, kind, lang):
    """The text a visitor gets: what happens and where to go, in their language."""
    with force_locale(lang):
        point = assembly_point(site, lang) or gettext("the assembly point the guards show you")
        if kind == "drill":
            return gettext("[%(site)s] Evacuation drill: please go calmly to %(point)s.", site=site.name, point=point)
        return gettext(
            "[%(site)s] Emergency: please leave the buildings now by the nearest exit and go to %(point)s. Do not use the lifts.",
            site=site.name,
            point=point,
        )


def _open_roll_call(emergency, site):
    from portal.desk.queries import on_site

    rows = on_site(site)
    phones = {}
    if rows:
        ids = [r["pass_id"] for r in rows]
        phones = dict(db.session.execute(select(Pass.id, Pass.visitor_phone).where(Pass.id.in_(ids))).all())
    for r in rows:
        phone = phones.get(r["pass_id"])
        if phone:
            queue_sms(phone, emergency_sms(site, emergency.kind, _language(phone)), "emergency", r["pass_id"], site.id)
        db.session.add(
            RollCallEntry(
                emergency_id=emergency.id,
                pass_id=r["pass_id"],
                visitor_name=(r["visitor"] or "")[:120],
                pass_kind=r["kind"],
                building=r["building"],
                unit=r["unit"],
                sms_sent=bool(phone),
            )
        )
    if not rows:
        emergency.roll_complete_at = emergency.started_at
    db.session.flush()
    return len(rows)


def account(entry, emergency, user, now=None):
    """A guard has seen this person safe; the roll call completes with the last one."""
    if emergency.ended_at is not None:
        raise Refused("emergency_ended", "This emergency has ended.", kind="conflict")
    if entry.accounted_at is None:
        now = now or utcnow()
        entry.accounted_at, entry.accounted_by_id = now, user.id
        db.session.flush()
        record("emergency.account", "emergency", emergency.id, site_id=emergency.site_id, actor=user, entry_id=entry.id)
        left = db.session.scalar(
            select(func.count(RollCallEntry.id)).where(
                RollCallEntry.emergency_id == emergency.id, RollCallEntry.accounted_at.is_(None)
            )
        )
        if not left and emergency.roll_complete_at is None:
            emergency.roll_complete_at = now
    return entry


def end(site, user, now=None):
    """End the running emergency: every released device is restored through the bridge and pushes resume."""
    emergency = running(site.id)
    if emergency is None:
        raise Refused("no_emergency", "No emergency is running at this community.", kind="conflict")
    now = now or utcnow()
    emergency.ended_at, emergency.ended_by_id = now, user.id
    restored = db.session.execute(
        update(EmergencyDevice)
        .where(EmergencyDevice.emergency_id == emergency.id, EmergencyDevice.state.in_(("pending", "released")))
        .values(mode="restore", state="pending", error=None, attempts=0)
    ).rowcount
    wake.request(db.session)
    record("emergency.end", "emergency", emergency.id, site_id=site.id, actor=user, kind=emergency.kind, devices=restored)
    return emergency


def set_assembly_point(site, user, text, text_en=None):
    """Where visitors are sent in an emergency (site setting, in Chinese and optionally English)."""
    fields = {}
    if not isinstance(text, str) or not text.strip():
        fields["assembly_point"] = ("required", "This field is required.")
    for name, value in (("assembly_point", text), ("assembly_point_en", text_en)):
        if isinstance(value, str) and len(value) > ASSEMBLY_MAX:
            fields[name] = ("too_long", "At most %(max)s characters.", {"max": ASSEMBLY_MAX})
    if text_en is not None and not isinstance(text_en, str):
        fields["assembly_point_en"] = ("invalid", "This value is not valid.")
    if fields:
        raise Refused("invalid", "Some fields are invalid.", fields=fields)
    site.settings = {
        **(site.settings or {}),
        "assembly_point": text.strip(),
        "assembly_point_en": (text_en or "").strip() or None,
    }
    record("site.assembly_point", "site", site.id, site_id=site.id, actor=user)
    return site


# -- what the bridge reports (access_bridge.worker) ----------------------------------------------------------
def record_device_results(session, results, now=None):
    """[(row id, mode, error or None)] from devices: acknowledged rows move on, refused ones fail with the reason."""
    if not results:
        return
    now = now or utcnow()
    tbl = EmergencyDevice.__table__
    done = [{"rid": rid, "m": mode} for rid, mode, error in results if error is None]
    failed = [{"rid": rid, "m": mode, "err": error[:200]} for rid, mode, error in results if error is not None]
    # Only a row still asking for that mode moves: an end that came meanwhile is not undone by a late release ack.
    for mode, state, column in (("release", "released", "released_at"), ("restore", "restored", "restored_at")):
        rows = [r for r in done if r["m"] == mode]
        if rows:
            session.execute(
                update(tbl)
                .where(tbl.c.id == bindparam("rid"), tbl.c.mode == bindparam("m"), tbl.c.state == "pending")
                .values(state=state, error=None, **{column: now}),
                rows,
            )
    if failed:
        session.execute(
            update(tbl)
            .where(tbl.c.id == bindparam("rid"), tbl.c.mode == bindparam("m"), tbl.c.state == "pending")
            .values(state="failed", error=bindparam("err")),
            failed,
        )
    _mark_released(session, {rid for rid, _, _ in results}, now)


def _mark_released(session, row_ids, now):
    """Running emergencies whose every release is answered get their time to release."""
    ids = session.scalars(select(EmergencyDevice.emergency_id).where(EmergencyDevice.id.in_(row_ids)).distinct()).all()
    for emergency in session.scalars(
        select(Emergency).where(Emergency.id.in_(ids), Emergency.released_at.is_(None), Emergency.ended_at.is_(None))
    ):
        waiting = session.scalar(
            select(func.count(EmergencyDevice.id)).where(
                EmergencyDevice.emergency_id == emergency.id, EmergencyDevice.state == "pending"
            )
        )
        if not waiting:
            emergency.released_at = now


def device_unreachable(session, row_ids):
    """The device did not answer: its rows stay pending (caught up when it returns), the attempts counted."""
    if row_ids:
        session.execute(
            update(EmergencyDevice).where(EmergencyDevice.id.in_(row_ids)).values(attempts=EmergencyDevice.attempts + 1)
        )
