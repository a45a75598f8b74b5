"""What a pass shows right now: the rotating QR text and the keypad entry.

Keypad entry = 5-digit pass number + 6-digit TOTP (RFC 6238, 30 s). With 10,000 live
passes in a 100,000-number space, a random 11-digit entry names a live pass with
probability 0.1 and then matches its code with probability 2/10^6 (current and previous
step are accepted), so at most 2e-7 per try: below the 1e-6 target. See README.
"""

import secrets

import pyotp

from portal.core import timeutil
from portal.extensions import db
from portal.passes import keys, qrtext
from portal.passes.models import Pass

KEYPAD_NO_DIGITS = 5
OTP_DIGITS = 6
CODE_LEN = KEYPAD_NO_DIGITS + OTP_DIGITS


def new_otp_secret():
    """A 160-bit base32 secret, as RFC 4226 recommends."""
    return pyotp.random_base32(32)


def allocate_keypad_no(site_id, now):
    """A random pass number not held by another unexpired pass of the site."""
    for _ in range(50):
        candidate = f"{secrets.randbelow(10**KEYPAD_NO_DIGITS):0{KEYPAD_NO_DIGITS}d}"
        taken = db.session.scalar(
            db.select(Pass.id)
            .where(Pass.site_id == site_id, Pass.keypad_no == candidate, Pass.status == "active", Pass.valid_until > now)
            .limit(1)
        )
        if taken is None:
            return candidate
    raise RuntimeError("keypad number space exhausted for this site")


def totp(pass_):
    """The pass's TOTP generator."""
    return pyotp.TOTP(pass_.otp_secret, digits=OTP_DIGITS, interval=qrtext.STEP_SECONDS)


def keypad_code(pass_, now_ts=None):
    """The 11 digits a visitor types now."""
    now_ts = timeutil.now_ts() if now_ts is None else now_ts
    return pass_.keypad_no + totp(pass_).at(int(now_ts))


def qr_text(pass_, now_ts=None):
    """The signed token for the current time step."""
    now_ts = timeutil.now_ts() if now_ts is None else now_ts
    signer = keys.signer(pass_.site_id)
    if signer is None:
        raise RuntimeError("site has no signing key")
    kid, private = signer
    return qrtext.sign(
        private,
        kid,
        pass_.site_id,
        pass_.id,
        pass_.valid_from.timestamp(),
        pass_.valid_until.timestamp(),
        qrtext.current_step(now_ts),
    )


def refresh_at(now_ts=None):
    """Unix time when the QR and code change next."""
    now_ts = timeutil.now_ts() if now_ts is None else now_ts
    return (qrtext.current_step(now_ts) + 1) * qrtext.STEP_SECONDS


def shown_qr_text(pass_, now_ts=None):
    """The QR the visitor's page shows: the full signed token, or the compact one where the site's readers need it.

    Sites whose gates use OSDP readers or readers limited to QR version 4 set
    Site.settings["qr_format"] = "compact" (see docs/edge.md).
    """
    if (pass_.site.settings or {}).get("qr_format") == "compact":
        from portal.passes.compact import compact_qr_text

        return compact_qr_text(pass_, timeutil.now_ts() if now_ts is None else now_ts)
    return qr_text(pass_, now_ts)
