"""A visitor's rights over their data (PIPL): export and erasure, handled by the community's managers."""
from flask import jsonify

from portal.accounts.sessions import api_roles, api_user
from portal.api.blueprint import api_route
from portal.audit.operations import record
from portal.core.errors import ApiError
from portal.core.jsonbody import json_body
from portal.core.validators import FieldError, clean_text
from portal.events.models import AccessEvent
from portal.extensions import db
from portal.notify.models import Message
from portal.passes import queries
from portal.passes.retention import erase_now


def _managed_pass(pass_id):
    user = api_user()
    p = queries.get_for(user, pass_id)
    if p is None:
        raise ApiError(404, "not_found", "No such pass.")
    return p


@api_route("/passes/<int:pass_id>/export", summary="Everything held about the visitor of a pass (data-subject request)",
           tag="privacy")
@api_roles("manager", "admin")
def export_visitor_data(pass_id):
    """The visitor's personal data in full, the SMS sent and every access record; audited."""
    p = _managed_pass(pass_id)
    record("pii.export", "pass", p.id, site_id=p.site_id)
    events = db.session.scalars(db.select(AccessEvent).where(AccessEvent.pass_id == p.id).order_by(AccessEvent.id)).all()
    messages = db.session.scalars(db.select(Message).where(Message.pass_id == p.id).order_by(Message.id)).all()
    return jsonify({
        "pass_id": p.id,
        "visitor": {"name": p.visitor_name, "phone": p.visitor_phone, "id_number": p.visitor_id_number, "plate": p.plate,
                    "company": p.company, "work_area": p.work_area, "note": p.note},
        "valid_from": p.valid_from.isoformat(), "valid_until": p.valid_until.isoformat(), "purged_at":
            p.purged_at.isoformat() if p.purged_at else None,
        "sms": [{"to": m.to, "body": m.body, "status": m.status, "at": m.created_at.isoformat()} for m in messages],
        "access": [{"at": e.at.isoformat(), "gate_id": e.gate_id, "method": e.method, "decision": e.decision,
                    "reason": e.reason, "direction": e.direction} for e in events],
    })


@api_route("/passes/<int:pass_id>/erase", methods=("POST",), tag="privacy",
           summary="Erase the visitor's personal data now (the pass is revoked first)",
           body={"type": "object", "required": ["reason"], "properties": {"reason": {"type": "string"}}})
@api_roles("manager", "admin")
def erase_visitor_data(pass_id):
    """Erasure on request; access records stay without personal data."""
    p = _managed_pass(pass_id)
    try:
        reason = clean_text(json_body().get("reason"), max_len=200)
    except FieldError as exc:
        raise ApiError(400, "invalid", "Some fields are invalid.", fields={"reason": exc.as_tuple()}) from None
    erase_now(p, reason)
    return jsonify({"pass_id": p.id, "status": "erased"})
