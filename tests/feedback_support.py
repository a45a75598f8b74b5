"""Helpers for the feedback and reports tests: photos with metadata, filings, other-site staff, page login."""

import io

import support
from PIL import Image

from portal.accounts.operations import create_user
from portal.extensions import db
from portal.sites import operations as places

GPS_IFD = 0x8825


def jpeg_with_gps(size=(320, 240)):
    """A real JPEG whose EXIF holds a camera make and a GPS position (Shanghai)."""
    img = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "Model X"  # Model
    gps = exif.get_ifd(GPS_IFD)
    gps.update({1: "N", 2: (31.0, 14.0, 10.5), 3: "E", 4: (121.0, 28.0, 30.2)})
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif)
    return buf.getvalue()


def png_bytes(size=(40, 30)):
    """A small PNG."""
    buf = io.BytesIO()
    Image.new("RGB", size, (0, 90, 200)).save(buf, "PNG")
    return buf.getvalue()


def filing(**over):
    """A valid JSON filing."""
    body = {"kind": "complaint", "category": "noise", "location": "A栋 12楼", "description": "楼上装修噪音到晚上十点。"}
    body.update(over)
    return body


def file_json(client, headers, **over):
    """File through the API; returns the JSON answer (asserting 201)."""
    resp = client.post("/api/v1/complaints", json=filing(**over), headers=headers)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def file_multipart(client, headers, photos, **over):
    """File with photos as multipart/form-data; returns the response."""
    data = {k: str(v) for k, v in filing(**over).items()}
    data["photos"] = [(io.BytesIO(raw), name) for name, raw in photos]
    return client.post("/api/v1/complaints", data=data, headers=headers, content_type="multipart/form-data")


def other_site_staff(world, role="manager"):
    """Staff of the other community, to prove they see nothing here."""
    user = create_user(f"other-{role}", world.PASSWORD, role, "别的人", site=world.other_site)
    db.session.commit()
    return user


def other_site_resident(world):
    """A resident of the other community."""
    b = places.add_building(world.other_site, "X", "X栋", 1, 5)
    unit = places.add_unit(b, "0101", 1)
    user = create_user("r-other", world.PASSWORD, "resident", "外人")
    places.move_in(user, unit, "owner")
    db.session.commit()
    return user


def login(client, world, user):
    """Log in through the real login page (staff with their TOTP code); pages then come in English."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    resp = support.login(client, user, world.PASSWORD)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]


csrf_from = support.csrf_in  # the CSRF token in a rendered form
race = support.race  # call() in n threads released together
