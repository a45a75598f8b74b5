"""The permit form reads into the values the API takes: one worker per line, "name, phone, ID number"."""

import re

from flask import request


def workers_from_text(text):
    """Workers from a textarea, one per line, fields split on commas (either width) or tabs."""
    workers = []
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        parts = [p.strip() for p in re.split(r"[,，\t]", line)]
        parts += [""] * (3 - len(parts))
        workers.append({"name": parts[0], "phone": parts[1] or None, "id_number": parts[2]})
    return workers


def application_data():
    """The posted form as the API's application body."""
    form = request.form
    data = {k: form.get(k, "") for k in ("kind", "company", "responsible_name", "responsible_phone", "work_area")}
    data.update({k: form.get(k, "") for k in ("starts_on", "ends_on", "daily_start", "daily_end", "unit_id")})
    data["workers"] = workers_from_text(form.get("workers"))
    data["plates"] = form.get("plates", "")
    data["days"] = [int(d) for d in form.getlist("days") if d.isascii() and d.isdigit() and len(d) == 1]
    return data
