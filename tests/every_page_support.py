"""A community holding every state the pages can show, and the checks every page must pass."""

import functools
import re
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

from babel.messages.pofile import read_po

from portal.extensions import db
from tests.desk_support import event
from tests.feedback_support import png_bytes

ROOT = Path(__file__).resolve().parent.parent
# 200+ characters with emoji and right-to-left marks: names wrap, never break a page.
LONG = ("王" * 60 + "🙂🚪" + "\u200f" + "שלום" + "\u200e" + "Ωλ" * 4 + "长" * 70)[:210]
SHORT_LONG = LONG[:60]
NAME = LONG[:64]  # as long as a visitor's name may be
# Stored codes that must never be the whole text of a cell on an English page (a label belongs there).
RAW_CODES = {
    "active",
    "revoked",
    "queued",
    "guest",
    "closed",
    "live",
    "awaiting_host",
    "open",
    "taken",
    "pending",
    "done",
    "failed",
    "present",
    "absent",
    "ok",
    "used_up",
    "expired",
    "contractor",
    "delivery",
    "cleaner",
    "grant",
    "deny",
    "in",
    "out",
    "new",
    "triaged",
    "in_progress",
    "resolved",
    "approved",
    "refused",
    "online",
    "offline",
    "removing",
    "simulator",
    "gate_reader",
    "door_controller",
    "elevator_controller",
    "face_terminal",
    "barrier",
    "noise",
    "security",
    "complaint",
    "suggestion",
    "normal",
    "high",
    "urgent",
    "response",
    "resolution",
    "follow_up",
    "visit",
    "survey",
    "walk_in",
    "remote_open",
    "qr",
    "code",
    "suspended",
    "awaiting_approval",
    "not_approved",
    "renovation",
    "help",
    "hotline",
    "locked_out",
}


class _Text(HTMLParser):
    """Visible text nodes (scripts and styles left out), attribute text people read, and cell texts."""

    CELL_TAGS = {"td", "dd", "li", "option", "button", "h1", "h2", "h3", "th", "p", "strong", "em", "label", "a"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.nodes, self.cells, self._skip, self._stack = [], [], 0, []

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "pre", "textarea", "code"):  # code: identifiers (audit actions, gate codes)
            self._skip += 1
        attrs = dict(attrs)
        for name in ("placeholder", "aria-label", "title", "alt"):
            if attrs.get(name):
                self.nodes.append(attrs[name])
        if tag in self.CELL_TAGS or "badge" in (attrs.get("class") or "").split():
            self._stack.append([tag, ""])

    def handle_endtag(self, tag):
        if tag in ("script", "style", "pre", "textarea", "code"):
            self._skip = max(0, self._skip - 1)
        for i in range(len(self._stack) - 1, -1, -1):
            if self._stack[i][0] == tag or (tag == "span" and self._stack[i][0] == "span"):
                self.cells.append(self._stack.pop(i)[1].strip())
                break

    def handle_data(self, data):
        if self._skip:
            return
        if data.strip():
            self.nodes.append(data.strip())
        for cell in self._stack:
            cell[1] += data


@functools.lru_cache(maxsize=1)
def page_text(html):
    """(visible text nodes, texts of table cells, badges, list items, options and buttons).

    Kept for the last page: a Chinese page goes through three checks, each of which reads its text.
    """
    parser = _Text()
    parser.feed(html)
    return parser.nodes, parser.cells


def _english_sentences():
    """Msgids whose Chinese differs from them, as (msgid, pattern) to look for on a Chinese page."""
    zh = {
        m.id: m.string
        for m in read_po((ROOT / "portal/translations/zh/LC_MESSAGES/messages.po").open("rb"), locale="zh")
        if m.id and isinstance(m.id, str)
    }
    out = []
    for m in read_po((ROOT / "portal/translations/messages.pot").open("rb")):
        msgid = m.id
        if not msgid or not isinstance(msgid, str) or zh.get(msgid) == msgid:
            continue
        literal = re.sub(r"%\(\w+\)[sdf]", "\0", msgid).replace("%%", "%")
        words = re.findall(r"[A-Za-z]{2,}", literal.replace("\0", ""))
        if not words or (len(words) == 1 and len(words[0]) < 3):
            continue
        if len(words) == 1 and "\0" not in literal:
            out.append((msgid, None, None))  # one word: only when it is a whole segment of text
            continue
        pieces = literal.split("\0")
        pattern = re.compile(r"\S.*?".join(re.escape(p) for p in pieces)) if len(pieces) > 1 else None
        out.append((msgid, max(pieces, key=len), pattern))
    return out


ENGLISH = _english_sentences()
SEPARATORS = re.compile(r"[·:：()（）|—,，/×#\d]+")


def untranslated(html):
    """English catalogue sentences shown verbatim on a Chinese page."""
    nodes, _cells = page_text(html)
    text = "\n".join(nodes)
    segments = {seg.strip() for node in nodes for seg in SEPARATORS.split(node)}
    found = set()
    for msgid, piece, pattern in ENGLISH:
        if piece is None:
            hit = msgid.strip(" :.") in segments
        else:  # the longest literal piece first: a substring test is cheap, the pattern is not
            hit = piece in text and (pattern is None or pattern.search(text))
        if hit:
            found.add(msgid)
    return sorted(found)


# Latin words a Chinese page may show: names of things, file formats, the language switch, seeded data.
LATIN_OK = {
    "English",
    "CSV",
    "JSON",
    "PIN",
    "SMS",
    "API",
    "TOTP",
    "QR",
    "MQTT",
    "OSDP",
    "ISAPI",
    "Asia",
    "Shanghai",
    "UTC",
    "Li",
    "PNG",
    "JPEG",
    "WebP",
    "PDF",
    "KPI",
}
LATIN_WORD = re.compile(r"(?<![A-Za-z0-9_@.-])[A-Za-z]{3,}(?![A-Za-z0-9_@-])")


def latin_words(html):
    """Latin words of three letters or more on a Chinese page that are not names, formats or data."""
    nodes, _cells = page_text(html)
    # Words in quotes are literal option names or markers the reader types ("gates", "••• set").
    nodes = [re.sub(r'"[^"]*"|“[^”]*”', "", node) for node in nodes]
    return sorted({w for node in nodes for w in LATIN_WORD.findall(node) if w not in LATIN_OK})


HALF_WIDTH_AFTER_CHINESE = re.compile(r"[\u4e00-\u9fff](?:[:;,?!](?:\s|$)| ?\((?=[^)]*[\u4e00-\u9fff]))")


def western_punctuation(html):
    """Chinese words followed by a Western colon, semicolon, comma or mark (Chinese pages use ：；，？！)."""
    nodes, _cells = page_text(html)
    return sorted({m.group() for node in nodes for m in HALF_WIDTH_AFTER_CHINESE.finditer(node)})


def raw_codes(html):
    """Cells whose whole text is a stored code rather than a label."""
    _nodes, cells = page_text(html)
    return sorted({c for c in cells if c in RAW_CODES})


def seed(world):
    """Every state: passes live/used up/pending/revoked/recurring, walk-ins, exceptions, devices, complaints."""
    from portal.accounts.operations import create_user
    from portal.bridge.models import DeviceCredential
    from portal.core.timeutil import utcnow
    from portal.desk import operations as desk
    from portal.feedback import operations as fb
    from portal.feedback.models import Escalation, FollowUp
    from portal.feedback.uploads import clean
    from portal.passes.operations import revoke_pass
    from portal.sites import operations as places
    from portal.staff import operations as staff
    from portal.vehicles import operations as cars
    from portal.walkins import operations as walkins
    from portal.watchlist.operations import add_entry

    app, now = world.app, utcnow()
    ids = {}
    with app.test_request_context():
        world.admin = create_user("admin1", world.PASSWORD, "admin", "管理员")
        long_unit = places.add_unit(world.bldg_a, "1801", 18)
        places.move_in(world.r2, long_unit, "owner")
        db.session.commit()
    live = world.make_pass(visitor_name=NAME, visitor_phone="+8613812345678", plate="沪A12345")
    used = world.make_pass(visitor_name="用完了", max_entries=1)
    pending = world.make_pass(valid_from=now + timedelta(days=1), valid_until=now + timedelta(days=2))
    gone = world.make_pass(visitor_name="撤销的")
    recurring = world.make_pass(
        visitor_name="保洁", schedule={"days": [1, 3, 5], "start": "08:00", "end": "12:00"}, valid_until=now + timedelta(days=30)
    )
    contractor = world.make_pass(
        kind="contractor", company="装修公司" + SHORT_LONG, work_area="A栋 1201", valid_until=now + timedelta(days=5)
    )
    delivery = world.make_pass(kind="delivery", company="顺丰", valid_until=now + timedelta(minutes=30))
    world.make_pass(host=world.r2, visitor_name="Li", kind="guest")
    ended = world.make_pass(visitor_name="过期的", kind="service")
    dev_on, _ = world.device(name="正门读头 " + SHORT_LONG)
    dev_off, _ = world.device(name="A栋门禁", kind="door_controller", gates=[])
    lift, _ = world.device(name="A栋电梯", kind="elevator_controller", gates=[])
    with app.test_request_context():
        revoke_pass(gone, by=world.r1, reason="不来了")
        used.uses = 1  # its one entry is spent: used up
        ended.valid_from, ended.valid_until = now - timedelta(days=2), now - timedelta(days=1)
        dev_on.status, dev_on.last_seen_at = "online", now
        dev_off.status, dev_off.last_seen_at, dev_off.doors = "offline", now - timedelta(hours=3), [1, 2]
        lift.floors = [1, 12, 18]
        for n, (desired, status) in enumerate(
            [("present", "ok"), ("present", "pending"), ("absent", "failed"), ("absent", "ok"), ("present", "failed")]
        ):
            db.session.add(
                DeviceCredential(
                    device_id=dev_on.id,
                    key=f"p{10 - n}",
                    pass_id=live.id,
                    desired=desired,
                    status=status,
                    attempts=n,
                    last_error="设备超时" if status == "failed" else None,
                    next_attempt_at=now,
                )
            )
        db.session.commit()
    # Entries: the used-up pass entered, a walk-in majority approved by guards, denials, a remote open.
    event(world, pass_id=used.id, method="qr")
    event(world, pass_id=live.id, method="code", direction="out")
    event(world, method="qr", decision="deny", reason="revoked", pass_id=gone.id)
    event(world, method="plate", decision="deny", reason="expired", plate="沪B99999", gate_id=world.car_gate.id)
    for by in ("guard", "guard", "host"):
        event(world, method="walk_in", reason="walk_in", approved_by=by)
    event(world, method="remote", reason="remote_open", device_id=dev_off.id, actor_id=world.guard.id)
    with app.test_request_context():
        site = world.site
        w_pending, w_token = walkins.register_walk_in(
            world.guard,
            site,
            {"name": ("王" * 50 + "🙂" + "长" * 13), "phone": "13812345678", "unit_id": world.unit_a.id, "purpose": "送东西"},
        )
        w2, w2_token = walkins.register_walk_in(world.guard, site, {"name": "张三", "unit_id": world.unit_a.id})
        walkins.approve_walk_in(w2, world.guard, by="guard", reason="业主电话同意")
        w3, _ = walkins.register_walk_in(world.guard, site, {"name": "李四", "unit_id": world.unit_a.id})
        walkins.refuse_walk_in(w3, world.r1, by="host")
        item, i_token = walkins.register_item(
            world.guard, site, {"direction": "in", "description": "沙发" + SHORT_LONG, "quantity": 2, "unit_id": world.unit_a.id}
        )
        item2, _ = walkins.register_item(
            world.guard, site, {"direction": "out", "description": "旧冰箱", "quantity": 1, "unit_id": world.unit_a.id}
        )
        walkins.decide_item(item2, world.r1, True)
        x_open = desk.open_exception(site.id, "denied", "k1", gate_id=world.gate.id, details={})
        x_taken = desk.open_exception(site.id, "device_offline", "k2", device_id=dev_off.id, details={})
        desk.take_exception(x_taken, world.guard)
        x_closed = desk.open_exception(site.id, "watchlist", "k3", gate_id=world.gate.id, details={"watchlist_names": ["某人"]})
        desk.close_exception(x_closed, world.guard, "police_called", "已报警，派出所已到场")
        desk.start_shift(world.guard, site.id)
        desk.end_shift(world.guard, site.id, "交接：" + "注意" * 110)
        desk.start_shift(world.guard, site.id)
        desk.remote_open(world.guard, dev_off, "快递员", door=1)
        add_entry(world.manager, site.id, {"kind": "person", "name": "黑名单人", "phone": "13900000000", "reason": "偷窃"})
        add_entry(world.manager, site.id, {"kind": "plate", "plate": "沪C00000"})
        cars.register(world.r1, world.unit_a, "京A12345")  # a resident's car, active and (below) one waiting for approval
        site.settings = {**(site.settings or {}), "vehicles_need_approval": True}
        cars.register(world.r2, world.unit_b, "京B54321")
        db.session.commit()
        photo = clean(png_bytes())
        complaints = {}
        for status in ("new", "triaged", "in_progress", "resolved", "closed", "reopened"):
            c = fb.file_complaint(
                world.r1,
                site,
                world.unit_a,
                {
                    "kind": "complaint",
                    "category": "noise",
                    "location": "A栋" + SHORT_LONG,
                    "anonymous": False,
                    "description": LONG,
                },
                photos=[photo],
            )
            complaints[status] = c
            if status != "new":
                fb.triage(c, world.manager, "high")
            if status in ("in_progress", "resolved", "closed", "reopened"):
                fb.assign(c, world.manager, world.guard)
                fb.respond(c, world.guard, "我们已处理。")
            if status in ("resolved", "closed", "reopened"):
                fb.resolve(c, world.guard)
            if status == "closed":
                fb.close(c, world.manager)
            if status == "reopened":
                fb.reopen(c, world.r1, "还是很吵")
        anon = fb.file_complaint(
            world.r2,
            site,
            world.unit_b,
            {"kind": "suggestion", "category": "facilities", "location": "", "anonymous": True, "description": "建议"},
        )
        fb.add_note(anon, world.manager, "内部备注")
        survey = fb.create_survey(world.r1, site.id, "visit", pass_=used)
        low = fb.create_survey(world.r1, site.id, "complaint", complaint=complaints["closed"])
        fb.answer_survey(low, 1, "不满意")
        task = FollowUp(
            site_id=site.id, kind="visit", complaint_id=complaints["resolved"].id, status="open", due_at=now - timedelta(hours=1)
        )
        done = FollowUp(
            site_id=site.id,
            kind="visit",
            complaint_id=complaints["closed"].id,
            status="done",
            due_at=now - timedelta(days=1),
            outcome="solved",
            note="已解决",
            done_at=now,
            done_by_id=world.manager.id,
        )
        db.session.add_all([task, done])
        db.session.flush()
        db.session.add_all(
            [
                Escalation(
                    site_id=site.id,
                    complaint_id=complaints["new"].id,
                    kind="response",
                    due_at=now - timedelta(hours=2),
                    notified=[world.manager.id],
                ),
                Escalation(site_id=site.id, follow_up_id=task.id, kind="follow_up", due_at=now, notified=[]),
            ]
        )
        # Connection tests: one the bridge answered (the password was refused), one still waiting.
        from portal.devices.models import DeviceCommand

        checks = [
            DeviceCommand(
                device_id=dev_on.id, kind="health", reason="connection test", status="failed", error="auth_failed: HTTP 401"
            ),
            DeviceCommand(device_id=dev_on.id, kind="health", reason="connection test", status="queued"),
        ]
        db.session.add_all(checks)
        db.session.commit()
        ids["check_ids"] = [c.id for c in checks]
        ids.update(
            pass_id=live.id,
            pass_ids=[live.id, used.id, pending.id, gone.id, recurring.id, contractor.id, delivery.id, ended.id],
            device_id=dev_on.id,
            device_ids=[dev_on.id, dev_off.id, lift.id],
            complaint_id=complaints["resolved"].id,
            complaint_ids=[c.id for c in complaints.values()] + [anon.id],
            photo_id=complaints["new"].photos[0].id,
            item_id=item.id,
            walk_in_id=w_pending.id,
            survey_token=survey.token,
            survey_tokens=[survey.token, low.token],
            links=[("w", w_token), ("i", i_token), ("w", w2_token)],
            tokens=[p.link_token for p in (live, used, pending, gone, recurring, ended)],
            token=live.link_token,
            slug=site.slug,
            exception_id=x_open.id,
        )
        # Staff: one waiting to enrol, one re-enrolling after a reset, one disabled.
        _, enrol_new = staff.add_member(
            world.manager, site, {"login": "guard4", "name": "新保安" + "王" * 60, "role": "guard", "phone": "13812345678"}
        )
        reset = create_user("guard2", world.PASSWORD, "guard", "二号保安", site=site)
        gone_guard = create_user("guard3", world.PASSWORD, "guard", "离职保安", site=site)
        staff.disable_member(world.manager, gone_guard)
        ids["enrol_tokens"] = [enrol_new, staff.reset_second_factor(world.manager, reset)]
        # The console: a building and a gate named in both languages, an empty building, changed settings (audited).
        from portal.sites import settings as site_settings

        tower = places.create_building(
            site,
            {
                "code": "T" + "9" * 19,
                "name": "塔楼" + SHORT_LONG,
                "name_en": "Tower " + SHORT_LONG,
                "lowest_floor": -3,
                "highest_floor": 60,
            },
        )
        places.create_unit(tower, {"number": "B301", "floor": -3})
        north = places.create_gate(
            site, {"code": "N1", "name": "北门", "name_en": "North gate", "kind": "vehicle", "building_id": tower.id}
        )
        places.change_settings(
            site, site_settings.parse({"retention_days": 60, "keypad_codes": False, "pass_max_days": {"contractor": 7}})
        )
        ids.update(building_ids=[world.bldg_a.id, tower.id], gate_ids=[world.gate.id, north.id])
        db.session.commit()
        ids.update(_incidents(world, site, photo, dev_off))
        ids.update(_residents(world, long_unit))
        _seed_permits(world, site, now)
        ids.update(_patrol(world, site, now, photo))
    _alarms_and_emergencies(world, dev_off, lift, live)
    return ids


def _incidents(world, site, photo, device):
    """Incidents in every state (escalated, offered, on scene, resolved with a report and a photo) and handovers."""
    from datetime import timedelta

    from portal.desk import operations as desk
    from portal.desk.models import Shift
    from portal.incidents import operations as incidents
    from portal.incidents.escalation import escalate_due
    from portal.shifts import operations as shifts

    shifts.set_post(world.guard, site, "building", building_id=world.bldg_a.id)
    text = SHORT_LONG * 3 + "🙂🚪"  # long, with emoji (the report refuses invisible bidi marks)
    made = []
    for kind, severity in (
        ("lift_entrapment", "critical"),
        ("suspicious_person", "high"),
        ("water_leak", "normal"),
        ("dispute", "low"),
    ):
        made.append(
            incidents.create_incident(
                site, kind, "A栋" + SHORT_LONG, text, severity, world.guard, building=world.bldg_a, device=device, photos=[photo]
            )
        )
    db.session.commit()
    escalate_due(now=made[0].reported_at + timedelta(hours=1))
    incidents.acknowledge(made[1], world.manager, "收到")
    incidents.on_scene(made[2], world.guard, "已到现场")
    incidents.assign(made[2], world.manager, world.manager.id)
    incidents.resolve(made[3], world.guard, "双方已调解。" + text)
    shifts.widen_offers(now=made[0].reported_at + timedelta(minutes=5))
    shift_ids = db.session.scalars(db.select(Shift.id).where(Shift.site_id == site.id)).all()
    desk.end_shift(world.guard, site.id, "夜班交接：" + text)
    db.session.commit()
    return {"incident_ids": [i.id for i in made], "shift_ids": shift_ids}


def _residents(world, long_unit):
    """Residents waiting to activate (link open, expired, used), one moved out; activation tokens and unit ids."""
    from portal.core.timeutil import utcnow
    from portal.residents import operations as residents
    from portal.residents.models import ActivationLink

    unit = world.unit_b
    waiting = residents.add_to_unit(
        world.manager, unit, {"name": "王" * 60 + "🙂长", "phone": "13912340001", "relation": "family", "move_in": "2026-01-02"}
    )
    late = residents.add_to_unit(
        world.manager, unit, {"name": "过期的", "phone": "13912340002", "relation": "tenant", "move_in": "2026-01-02"}
    )
    used = residents.add_to_unit(
        world.manager, unit, {"name": "已激活", "phone": "13912340003", "relation": "owner", "move_in": "2026-01-02"}
    )
    plains = {}
    for r in (waiting, late, used):
        plains[r.user_id] = residents.send_links(world.manager, world.site, [r.user])[r.user_id]
    db.session.execute(
        db.update(ActivationLink).where(ActivationLink.user_id == late.user_id).values(expires_at=utcnow() - timedelta(hours=1))
    )
    link = db.session.scalar(
        db.select(ActivationLink).where(ActivationLink.user_id == used.user_id, ActivationLink.revoked_at.is_(None))
    )
    residents.activate(link, "a long new passphrase", "a long new passphrase")
    residents.move_out_on(world.manager, late, None)
    db.session.commit()
    return {"activation_tokens": list(plains.values()), "unit_ids": [world.unit_a.id, unit.id, long_unit.id]}


def _seed_permits(world, site, now):
    """Works permits in every state, freight vehicles, a contractor pass waiting for approval, a staff-filed help request."""
    from portal.feedback import operations as fb
    from portal.permits import operations as permits

    start = now.date()
    long_text = "长" * 100  # validated input: no direction marks (they are refused as control characters)
    body = {
        "company": long_text,
        "responsible_name": "刘" * 64,
        "responsible_phone": "13800001111",
        "work_area": "厨房" + long_text,
        "starts_on": start.isoformat(),
        "ends_on": (start + timedelta(days=20)).isoformat(),
        "daily_start": "08:00",
        "daily_end": "18:00",
        "days": [1, 2, 3, 4, 5],
        "workers": [{"name": "王" * 64, "phone": "13900002222", "id_number": "11010519491231002X"}],
        "plates": ["京A54321"],
    }
    actions = {
        "pending": None,
        "approved": lambda p: permits.approve(p, world.manager, "同意"),
        "refused": lambda p: permits.refuse(p, world.manager, "资料不全" + long_text),
        "suspended": lambda p: (permits.approve(p, world.manager), permits.suspend(p, world.manager, "噪音投诉")),
    }
    for action in actions.values():
        permit = permits.apply(world.r1, world.unit_a, body)
        if action is not None:
            action(permit)
    live = {"plate": "京D12345", "company": long_text, "purpose": "搬家" + long_text}
    window = {"valid_from": (now + timedelta(hours=1)).isoformat(), "valid_until": (now + timedelta(hours=5)).isoformat()}
    permits.add_freight(world.manager, site, {**live, **window})
    permits.revoke_freight(permits.add_freight(world.manager, site, {**live, "plate": "京E12345", **window}), world.manager)
    db.session.commit()
    world.make_pass(kind="contractor", valid_until=now + timedelta(days=60), status="awaiting_approval", company=SHORT_LONG)
    with world.app.test_request_context():
        help_request = {"kind": "help", "category": "locked_out", "location": None, "description": "忘带钥匙", "anonymous": False}
        fb.file_complaint(world.r1, site, world.unit_a, help_request, source="hotline", filed_by=world.guard)
        db.session.commit()


def _patrol(world, site, now, photo):
    """Rounds due, under way, done on time and missed; hazards open with a photo and closed; a site's own retention."""
    from portal.patrol import checkpoints, stickers
    from portal.patrol import operations as patrol
    from portal.privacy.operations import set_retention

    cps = [checkpoints.add_checkpoint(world.manager, site, name) for name in ("地库B2消防门", "北门" + SHORT_LONG, "垃圾分类点")]
    stops = [{"checkpoint_id": c.id, "minutes": 5} for c in cps]
    route = checkpoints.add_route(world.manager, site, "夜间巡逻" + SHORT_LONG, stops, {"times": ["08:00", "20:00"]})
    checkpoints.add_route(world.manager, site, "每两小时", stops[:1], {"every_hours": 2, "from": "01:00"})
    walking = patrol.start_round(world.guard, route, now=now - timedelta(minutes=3))
    patrol.record_scans(
        world.guard, walking, [{"id": "seed-scan-1", "payload": stickers.payload(cps[0]), "scanned_at": now.isoformat()}]
    )
    done = patrol.start_round(world.manager, route, now=now - timedelta(minutes=20))
    items = [{"id": f"seed-done-{c.id}", "code": stickers.manual_code(c), "scanned_at": now.isoformat()} for c in cps]
    patrol.record_scans(world.manager, done, items, now=now)
    patrol.finish_round(world.manager, done, now=now)
    missed = patrol.start_round(world.manager, route, now=now - timedelta(hours=2))
    patrol.finish_round(world.manager, missed, now=now - timedelta(hours=1, minutes=50))
    patrol.schedule_rounds(now=now)
    hz, _ = patrol.add_hazard(
        world.guard,
        site,
        {"id": "seed-hazard-1", "description": SHORT_LONG * 3, "code": stickers.manual_code(cps[1])},
        photo,
        walking,
    )
    fixed, _ = patrol.add_hazard(world.guard, site, {"id": "seed-hazard-2", "description": "消防通道堵塞"})
    patrol.close_hazard(world.manager, fixed, "已清理")
    set_retention(world.manager, site, {"visits": 180, "faces": 7})
    db.session.commit()
    return {"round_id": walking.id, "round_ids": [walking.id, done.id, missed.id], "hazard_id": hz.id}


def _alarms_and_emergencies(world, door, lift, on_site):
    """Open, acknowledged and cleared alarms; a drill on record and a fire running with every device state."""
    from portal.alarms import operations as alarms
    from portal.emergency import operations as emergency
    from portal.emergency.models import EmergencyDevice, RollCallEntry

    with world.app.test_request_context():
        site = world.site
        site.settings = {**(site.settings or {}), "assembly_point": "南门广场", "assembly_point_en": "South gate square"}
        alarms.raise_alarm(door, "door_forced", door=1)
        alarms.acknowledge(alarms.raise_alarm(lift, "tamper"), world.guard)
        held = alarms.raise_alarm(door, "door_held", door=2)
        alarms.clear_alarm(door, "door_held", door=2)
        assert held.cleared_at is not None
        drill = emergency.start(site, world.manager, "drill", "季度演练")
        emergency.end(site, world.manager)
        fire = emergency.start(site, world.guard, "fire", "B栋烟雾" + SHORT_LONG)
        rows = {
            r.device_id: r for r in db.session.scalars(db.select(EmergencyDevice).where(EmergencyDevice.emergency_id == fire.id))
        }
        rows[door.id].state = "released"
        rows[lift.id].state, rows[lift.id].error = "failed", "unsupported"
        db.session.add(
            RollCallEntry(emergency_id=fire.id, pass_id=on_site.id, visitor_name=NAME, pass_kind="guest", unit="A栋 1201")
        )
        db.session.add(RollCallEntry(emergency_id=drill.id, pass_id=None, visitor_name="演练访客", pass_kind="contractor"))
        db.session.commit()
