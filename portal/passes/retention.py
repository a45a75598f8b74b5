"""Retention: which columns hold a visitor's personal data and what the purge leaves in them.

PERSONAL_DATA declares them in one place; the purge (operations.purge_ended) walks it, and a test fails
when a model gains a column that looks personal (name, phone, ID number, plate, ...) that is neither
declared here nor in KEPT with a reason.
"""

from portal.emergency.models import RollCallEntry
from portal.events.models import AccessEvent
from portal.notify.models import Message
from portal.passes.models import Pass
from portal.walkins.models import ItemMovement, WalkIn

PURGED_NAME = "—"
DELETE_ROW = object()  # the whole row goes (SMS texts: the message is the personal data)
# Keys of an access event's details that name or identify the visitor.
PERSONAL_DETAILS = ("visitor_name", "name", "phone", "id_number", "plate", "carrier_name")
SCRUB_DETAILS = object()  # drop PERSONAL_DETAILS from a JSON details column

#: table -> column -> what the purge leaves there.
PERSONAL_DATA = {
    Pass.__tablename__: {
        "visitor_name": PURGED_NAME,
        "visitor_phone": None,
        "visitor_phone_idx": None,
        "visitor_id_number": None,
        "visitor_id_idx": None,
        "visitor_phone_last4": None,
        "plate": None,
        "company": None,
        "work_area": None,
        "note": None,
        "revoke_reason": None,
    },
    WalkIn.__tablename__: {
        "visitor_name": PURGED_NAME,
        "visitor_phone": None,
        "visitor_id_number": None,
        "plate": None,
        "purpose": None,
        "guard_reason": None,
    },
    ItemMovement.__tablename__: {"carrier_name": None, "plate": None, "guard_reason": None},
    AccessEvent.__tablename__: {"plate": None, "details": SCRUB_DETAILS},
    Message.__tablename__: {"body": DELETE_ROW, "purpose": DELETE_ROW},
    # The emergency record keeps its counts and timings; the names on its roll call go with the pass.
    RollCallEntry.__tablename__: {"visitor_name": PURGED_NAME},
}


def scrubbed(table):
    """What the purge writes over a table's personal columns (JSON details are scrubbed key by key instead)."""
    return {col: value for col, value in PERSONAL_DATA[table].items() if value is not SCRUB_DETAILS}


#: (table, column) that look personal but are not a visitor's data, or are erased by another job; and why.
KEPT = {
    ("users", "display_name"): "residents' and staff accounts, kept while the account lives",
    ("users", "phone"): "residents' and staff accounts, kept while the account lives",
    ("watchlist", "name"): "a ban outlives any visit; managers remove entries",
    ("permits", "company"): "a works permit's contractor company, kept with the permit (the management's record of works)",
    ("permits", "responsible_name"): "the contractor's responsible person, kept with the permit for its works' duration",
    ("permits", "responsible_phone"): "encrypted; kept with the permit for its works' duration, shown masked",
    ("permit_workers", "name"): "a permit's worker, kept with the permit (施工人员登记备案); their pass is purged as usual",
    ("permit_workers", "phone"): "encrypted, shown masked; kept with the permit's registration",
    ("permit_workers", "id_number"): "encrypted, shown masked; the permit's checked registration (核查施工证件)",
    ("permits", "work_area"): "where in the unit the works are, kept with the permit",
    ("permits", "plates"): "the works' vehicles, kept with the permit",
    ("freight_approvals", "plate"): "a company's freight vehicle approved by a manager, not a visitor's data",
    ("freight_approvals", "company"): "a company, not a person",
    ("permit_documents", "data"): "encrypted company licence and worker ID scans, kept with the permit",
    ("vehicles", "plate"): "a resident's own car, not a visitor's: removed by the household or when the unit moves out",
    ("watchlist", "id_idx"): "keyed hash for the watchlist's exact match",
    ("watchlist", "phone_idx"): "keyed hash for the watchlist's exact match",
    ("watchlist", "plate"): "a ban outlives any visit; managers remove entries",
    ("face_images", "jpeg"): "erased when the pass ends or consent is withdrawn (portal.faces purge)",
    ("sites", "name"): "a community, not a person",
    ("sites", "name_en"): "a community, not a person",
    ("sites", "address"): "a community, not a person",
    ("buildings", "name"): "a building, not a person",
    ("buildings", "name_en"): "a building, not a person",
    ("gates", "name"): "a gate, not a person",
    ("gates", "name_en"): "a gate, not a person",
    ("devices", "name"): "a device, not a person",
    ("devices", "name_en"): "a device, not a person",
    ("api_tokens", "name"): "a token's label",
    ("desk_cursors", "name"): "a cursor's label",
    # Incidents are the security department's own records (事件报告, kept for review and the quarterly report):
    # descriptions, closing reports and timeline notes may name people, photos show them; staff only, views audited.
    ("incidents", "description"): "an incident record of the security team, kept for review (复盘) and KPIs",
    ("incidents", "closing_report"): "an incident record of the security team, kept for review (复盘) and KPIs",
    ("incident_events", "note"): "an incident record of the security team, kept for review (复盘) and KPIs",
    ("incident_photos", "data"): "evidence of an incident, encrypted at rest, served to the site's staff only",
    ("desk_shifts", "notes"): "handover notes (交接班记录), kept and searchable as the shift record",
    ("patrol_checkpoints", "name"): "a place on a patrol route, not a person",
    ("patrol_routes", "name"): "a patrol route, not a person",
    ("patrol_hazards", "photo"): "erased by the patrol photo purge after the site's patrol_photos period (portal.privacy)",
    ("patrol_hazards", "photo_type"): "cleared with the photo by the same purge",
}
