"""What a checkpoint sticker says: its community and checkpoint, signed with that community's own key.

QR text `PC1:<site id>:<checkpoint id>:<16 base32 characters of HMAC-SHA256>` (upper case, digits and colons: QR
alphanumeric mode, a small code even on a worn sticker), and a short code printed under it for typing when the
camera cannot read it: `<checkpoint id>-<6 characters of the same MAC>`. The key is derived per site from the data
key (portal.core.crypto.site_mac), so a sticker of another community, or a photo of one, never verifies here.
"""

import base64
import hmac
import re

from portal.core.crypto import site_mac
from portal.core.errors import Refused

PREFIX = "PC1"
_QR = re.compile(r"PC1:(\d{1,10}):(\d{1,10}):([A-Z2-7]{16})")
_CODE = re.compile(r"(\d{1,10})-([A-Z2-7]{6})")
_AMBIGUOUS = str.maketrans({"0": "O", "1": "I", "8": "B"})  # what people type for letters base32 does not use


def _mac(site_id, checkpoint_id):
    raw = site_mac("patrol sticker", site_id, f"{site_id}:{checkpoint_id}")
    return base64.b32encode(raw).decode("ascii")[:16]


def payload(checkpoint):
    """The text inside a checkpoint's sticker QR."""
    return f"{PREFIX}:{checkpoint.site_id}:{checkpoint.id}:{_mac(checkpoint.site_id, checkpoint.id)}"


def manual_code(checkpoint):
    """The short code printed under the QR, for typing."""
    return f"{checkpoint.id}-{_mac(checkpoint.site_id, checkpoint.id)[:6]}"


def _refuse(code, message):
    raise Refused(code, message, fields={"payload": (code, message)})


def read(text, site_id):
    """The checkpoint id a scanned QR text or typed code names for this site; refused when not signed for it."""
    if not isinstance(text, str) or len(text) > 80:
        _refuse("unknown", "This is not a checkpoint sticker.")
    text = text.strip().upper()
    m = _QR.fullmatch(text)
    if m is not None:
        sticker_site, checkpoint_id, mac = int(m.group(1)), int(m.group(2)), m.group(3)
        if sticker_site != site_id:
            _refuse("wrong_site", "This sticker belongs to another community.")
        if not hmac.compare_digest(mac, _mac(site_id, checkpoint_id)):
            _refuse("bad_signature", "This sticker is forged or damaged.")
        return checkpoint_id
    head, _, tail = text.replace(" ", "").partition("-")
    m = _CODE.fullmatch(f"{head}-{tail.translate(_AMBIGUOUS)}")
    if m is not None:
        checkpoint_id = int(m.group(1))
        if not hmac.compare_digest(m.group(2), _mac(site_id, checkpoint_id)[:6]):
            _refuse("bad_signature", "This code does not match a checkpoint of this community.")
        return checkpoint_id
    _refuse("unknown", "This is not a checkpoint sticker.")
    return None
