"""Helpers for the face tests: the test photos, made-up photos, cached detection and page flows."""

import hashlib
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from support import csrf_in

DATA = Path(__file__).parent / "data" / "faces"
_memo = {}


def photo(name):
    """Bytes of one of the stored test photos (obama.jpg, obama2.jpg, biden.jpg)."""
    return (DATA / name).read_bytes()


def _jpeg(im, quality=90):
    out = io.BytesIO()
    im.save(out, "JPEG", quality=quality)
    return out.getvalue()


def two_faces():
    """Two different people side by side."""
    a, b = Image.open(DATA / "obama.jpg"), Image.open(DATA / "biden.jpg")
    a.thumbnail((400, 500))
    b.thumbnail((400, 500))
    canvas = Image.new("RGB", (a.width + b.width, max(a.height, b.height)), "white")
    canvas.paste(a, (0, 0))
    canvas.paste(b, (a.width, 0))
    return _jpeg(canvas)


def no_face():
    """A landscape: sky, hills and a sun, with no face."""
    im = Image.new("RGB", (640, 480), (120, 170, 230))
    draw = ImageDraw.Draw(im)
    draw.polygon([(0, 330), (200, 200), (420, 320), (640, 220), (640, 480), (0, 480)], fill=(60, 120, 50))
    draw.ellipse((480, 40, 560, 120), fill=(250, 220, 80))
    return _jpeg(im)


def small_face():
    """One face, far away: a small copy of a portrait on a large plain wall."""
    face = Image.open(DATA / "obama.jpg")
    face.thumbnail((220, 220))
    canvas = Image.new("RGB", (800, 800), (200, 200, 190))
    canvas.paste(face, (290, 290))
    return _jpeg(canvas)


def huge_photo():
    """A 3000 px phone-sized photo of one face, with EXIF (camera model) attached."""
    im = Image.open(DATA / "obama2.jpg").resize((1566, 3000))
    exif = Image.Exif()
    exif[0x0110] = "SecretPhone 9"  # Model
    out = io.BytesIO()
    im.save(out, "JPEG", quality=95, exif=exif)
    return out.getvalue()


@pytest.fixture
def memo_faces(monkeypatch):
    """Cache face detection per image within the test session (HOG takes ~100 ms per photo)."""
    from portal.faces import imaging

    real = imaging.locate_and_encode

    def cached(pixels):
        key = hashlib.sha256(np.ascontiguousarray(pixels).tobytes()).hexdigest() + str(pixels.shape)
        if key not in _memo:
            _memo[key] = real(pixels)
        return _memo[key]

    monkeypatch.setattr(imaging, "locate_and_encode", cached)
    return cached


csrf_from = csrf_in  # the CSRF token in a rendered form


def face_url(p, suffix=""):
    """URL of a pass's face page (or one of its actions)."""
    return f"/p/{p.link_token}/face{suffix}"


def consent(client, p):
    """Tick the consent box on the face page."""
    token = csrf_from(client.get(face_url(p)).get_data(as_text=True))
    return client.post(face_url(p, "/consent"), data={"csrf_token": token, "agree": "y"})


def upload(client, p, data, filename="selfie.jpg"):
    """Upload a selfie through the page's form."""
    token = csrf_from(client.get(face_url(p)).get_data(as_text=True))
    return client.post(
        face_url(p, "/photo"),
        data={"csrf_token": token, "photo": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def enrol(client, p, data):
    """Consent and upload; returns the upload response."""
    assert consent(client, p).status_code == 302
    return upload(client, p, data)


def enrol_direct(app, p, data):
    """Consent and enrol through the operations layer (no HTTP), committed."""
    from portal.extensions import db
    from portal.faces import operations

    with app.test_request_context():
        operations.give_consent(p)
        template = operations.enrol(p, data)
        db.session.commit()
    return template
