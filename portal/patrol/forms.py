"""Reading the patrol pages' forms and a hazard's uploaded photo."""

from flask_babel import lazy_gettext as _l

from portal.feedback.uploads import MAX_PHOTO_BYTES, clean

STATUS_LABELS = {
    "scheduled": _l("Not started"),  # not "Due": that msgid is a deadline (期限)
    "active": _l("Under way"),
    "done": _l("Done"),
    "missed": _l("Missed"),
}
HAZARD_LABELS = {"open": _l("Open"), "closed": _l("Closed")}


def hazard_photo(files):
    """The uploaded file named photo, sniffed, size-capped and re-encoded without metadata; None when absent."""
    item = files.get("photo")
    if item is None or (not item.filename and item.content_length == 0):
        return None
    raw = item.stream.read(MAX_PHOTO_BYTES + 1)
    return clean(raw) if raw else None


def stops_from(text):
    """Route stops from the manager's form: one "checkpoint id, minutes" per line, in walking order."""
    stops = []
    for line in (text or "").splitlines():
        parts = [p.strip() for p in line.replace("，", ",").split(",")]
        if not parts[0]:
            continue
        cp = int(parts[0]) if parts[0].isdigit() and len(parts[0]) < 10 else -1
        minutes = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() and len(parts[1]) < 5 else 0
        stops.append({"checkpoint_id": cp, "minutes": minutes})
    return stops


def schedule_from(form):
    """A route's schedule from the form: times of day ("08:00 20:00") or every N hours."""
    times = (form.get("times") or "").replace("，", " ").replace(",", " ").split()
    every = (form.get("every_hours") or "").strip()
    if times:
        return {"times": times}
    if every:
        return {"every_hours": int(every) if every.isdigit() and len(every) < 3 else -1, "from": form.get("from") or "00:00"}
    return {}
