"""The desk's form for a filing taken at the counter, on the phone or from the hotline."""

from support import csrf

from portal.extensions import db
from portal.feedback.models import Complaint


def test_guard_files_a_help_request_for_a_unit_from_the_form(world, login_as):
    guard = login_as(world.guard)
    assert guard.get("/team/feedback/new").status_code == 200
    form = {
        "csrf_token": csrf(guard, "/team/feedback/new"),
        "source": "counter",
        "unit": "A-1201",
        "kind": "help",
        "category": "delivery_held",
        "description": "快递放在门岗，请通知业主",
    }
    resp = guard.post("/team/feedback/new", data=form)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    c = db.session.scalars(db.select(Complaint)).one()
    assert (c.kind, c.source, c.author_id, c.filed_by_id) == ("help", "counter", world.r1.id, world.guard.id)
    # A unit nobody can find goes back to the form with the error; nothing stored.
    form["csrf_token"], form["unit"] = csrf(guard, "/team/feedback/new"), "Z-9999"
    again = guard.post("/team/feedback/new", data=form)
    assert again.status_code in (302, 400) and db.session.scalar(db.select(db.func.count(Complaint.id))) == 1
    assert login_as(world.r1).get("/team/feedback/new").status_code == 403
