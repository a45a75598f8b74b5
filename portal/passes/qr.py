"""QR rendering, at most once per pass and time step."""

import io
import threading
from collections import OrderedDict

import qrcode
from qrcode.constants import ERROR_CORRECT_M

_cache = OrderedDict()
_lock = threading.Lock()
_MAX = 2048


def png(text, box_size=8, border=4):
    """PNG bytes of a QR (error correction M), black on white for bright light."""
    with _lock:
        hit = _cache.get(text)
        if hit is not None:
            _cache.move_to_end(text)
            return hit
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=box_size, border=border)
    qr.add_data(text)
    qr.make(fit=True)
    buf = io.BytesIO()
    qr.make_image(fill_color="black", back_color="white").save(buf, format="PNG")
    data = buf.getvalue()
    with _lock:
        _cache[text] = data
        while len(_cache) > _MAX:
            _cache.popitem(last=False)
    return data


def version(text):
    """The QR version qrcode picks for a text at error correction M."""
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M)
    qr.add_data(text)
    qr.make(fit=True)
    return qr.version
