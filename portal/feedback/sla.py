"""Service levels: hours to the first answer and to resolution, by category and priority."""

from datetime import timedelta

from flask import current_app, has_app_context

# (hours to first response, hours to resolution). Managers may override any key in
# Site.settings["feedback_sla"], e.g. {"high": [2, 24], "security/urgent": [0.5, 4]};
# the app-wide defaults can be replaced with the FEEDBACK_SLA_HOURS config key.
DEFAULT_SLA_HOURS = {
    "urgent": (1, 8),
    "high": (4, 24),
    "normal": (24, 72),
    "low": (48, 168),
    "security/urgent": (0.5, 4),
    "guard_conduct/high": (2, 24),
    # Help requests: someone is waiting at a door now. "help/<category>" keys override per kind of help.
    "help": (0.25, 2),
}
# Until the team triages a filing, its category decides the priority.
CATEGORY_PRIORITY = {
    "security": "high",
    "guard_conduct": "high",
    "noise": "normal",
    "parking": "normal",
    "facilities": "normal",
    "other": "normal",
    "locked_out": "urgent",
    "escort": "high",
    "delivery_held": "normal",
}
FOLLOW_UP_HOURS = 48  # the follow-up visit (回访) after a resolution, and after a low survey score
SURVEY_DAYS = 14  # a survey link expires after this many days


def _table(site):
    base = dict(DEFAULT_SLA_HOURS)
    if has_app_context():
        base.update(current_app.config.get("FEEDBACK_SLA_HOURS") or {})
    overrides = (site.settings or {}).get("feedback_sla") if site is not None else None
    if isinstance(overrides, dict):
        for key, value in overrides.items():
            if isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, (int, float)) and v > 0 for v in value):
                base[key] = tuple(value)
    return base


def hours_for(site, category, priority, kind=None):
    """(response hours, resolution hours) for a category and priority (or a help request) on a site."""
    table = _table(site)
    if kind == "help":
        return table.get(f"help/{category}") or table["help"]
    return table.get(f"{category}/{priority}") or table.get(priority) or table["normal"]


def deadlines(site, category, priority, start, kind=None):
    """Due times for the first answer and for the resolution, counted from start."""
    respond, resolve = hours_for(site, category, priority, kind)
    return start + timedelta(hours=respond), start + timedelta(hours=resolve)


def follow_up_due(start):
    """When a follow-up task is due."""
    return start + timedelta(hours=FOLLOW_UP_HOURS)


def overdue(complaint, now):
    """Which of the complaint's clocks have run out: a subset of {"response", "resolution"}."""
    late = set()
    if complaint.status in ("resolved", "closed"):
        return late
    if needs_response(complaint) and now > complaint.due_response_at:
        late.add("response")
    if now > complaint.due_resolution_at:
        late.add("resolution")
    return late


def follow_up_overdue(task, now):
    """An open follow-up past its due time: the page marks it, the escalation job (same rule, in SQL) escalates it."""
    return task.status == "open" and now > task.due_at


def needs_response(complaint):
    """True while the resident has no answer yet (or none since the filing was reopened)."""
    last = complaint.last_response_at
    return last is None or (complaint.reopened_at is not None and last < complaint.reopened_at)
