"""What a reader shows for each reason: a sentence in both languages and a short display line."""

from flask import current_app

from portal.core.errors import bilingual


def _l(msgid):
    """Marks a msgid for extraction (babel keyword _l); bilingual() translates it when used."""
    return msgid


# reason -> (message, short display text). A watchlisted visitor is only sent to the guard.
TEXTS = {
    "ok": (_l("Welcome. Please go ahead."), _l("Welcome")),
    "expired": (_l("This pass has expired."), _l("Pass expired")),
    "not_yet_valid": (_l("This pass is not valid yet."), _l("Not yet valid")),
    "revoked": (_l("This pass has been cancelled."), _l("Pass cancelled")),
    "used_up": (_l("This pass has no entries left."), _l("No entries left")),
    "outside_schedule": (_l("This pass is not valid at this time."), _l("Wrong time")),
    "wrong_site": (_l("This pass is for another community."), _l("Wrong community")),
    "wrong_gate": (_l("This pass is not valid at this gate."), _l("Wrong gate")),
    "bad_signature": (_l("This code is not a valid pass."), _l("Invalid code")),
    "unknown": (_l("This code is not recognised."), _l("Unknown code")),
    "replayed": (_l("This code was already used. Wait for the next one."), _l("Code already used")),
    "throttled": (_l("Too many wrong codes. Try again later or ask the guard."), _l("Too many tries")),
    "watchlisted": (_l("Entry refused. Please see the guard."), _l("See the guard")),
    "anti_passback": (_l("This pass was already used to enter. Exit first."), _l("Already inside")),
    "not_approved": (_l("This pass waits for the management's approval. Please see the guard."), _l("Not approved yet")),
    "stale": (_l("This QR code is out of date. Refresh your pass page."), _l("QR out of date")),
    "error": (_l("The pass cannot be checked right now. Please see the guard."), _l("See the guard")),
    "keypad_off": (_l("Keypad codes are not accepted here. Please scan your QR code."), _l("Scan your QR")),
}


def for_reason(reason):
    """({"en", "zh"} message, display line) for a reason; cached per app, translations do not change."""
    cache = current_app.extensions.setdefault("gate_texts", {})
    hit = cache.get(reason)
    if hit is None:
        message, short = TEXTS.get(reason, TEXTS["error"])
        msg, disp = bilingual(message), bilingual(short)
        line = disp["en"] if disp["zh"] == disp["en"] else f"{disp['zh']} {disp['en']}"
        hit = cache[reason] = (msg, line)
    return hit
