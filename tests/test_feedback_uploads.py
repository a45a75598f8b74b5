"""Photo uploads: type from the bytes, size caps with clean errors, metadata stripped, served safely."""

import io
import os

from feedback_support import csrf_from, file_multipart, jpeg_with_gps, login, png_bytes
from PIL import Image

from portal.extensions import db
from portal.feedback.models import Complaint, ComplaintPhoto

PHP = b"<?php system($_GET['cmd']); ?>\n"


def _count():
    return db.session.scalar(db.select(db.func.count(Complaint.id)))


def test_php_file_named_jpg_is_refused(client, world):
    resp = file_multipart(client, world.token(world.r1), [("photo.jpg", PHP)])
    assert resp.status_code == 400
    assert resp.get_json()["error"]["fields"]["photos"]["code"] == "photo_type"
    assert _count() == 0  # nothing filed when a photo is refused


def test_jpeg_header_followed_by_garbage_is_refused(client, world):
    resp = file_multipart(client, world.token(world.r1), [("photo.jpg", b"\xff\xd8\xff\xe0" + os.urandom(2000))])
    assert resp.status_code == 400 and _count() == 0


def test_svg_and_gif_are_refused(client, world):
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    gif = io.BytesIO()
    Image.new("RGB", (4, 4)).save(gif, "GIF")
    for name, raw in (("a.png", svg), ("b.jpg", gif.getvalue())):
        assert file_multipart(client, world.token(world.r1), [(name, raw)]).status_code == 400


def _big_png(nbytes):
    """A real PNG of random pixels, stored uncompressed, about nbytes long."""
    side = int((nbytes / 3) ** 0.5) + 1
    buf = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(buf, "PNG", compress_level=0)
    return buf.getvalue()


def test_20_mb_image_is_refused_with_413_not_500(client, world):
    raw = _big_png(20 * 1024 * 1024)
    assert len(raw) > 20 * 1024 * 1024
    resp = file_multipart(client, world.token(world.r1), [("big.png", raw)])
    assert resp.status_code == 413
    assert resp.get_json()["error"]["code"] == "too_large"
    assert "5 MB" in resp.get_json()["error"]["messages"]["en"]
    assert _count() == 0


def test_one_photo_over_5_mb_is_refused(client, world):
    resp = file_multipart(client, world.token(world.r1), [("big.png", _big_png(6 * 1024 * 1024))])
    assert resp.status_code == 413
    assert resp.get_json()["error"]["fields"]["photos"]["code"] == "photo_too_large"


def test_at_most_three_photos(client, world):
    resp = file_multipart(client, world.token(world.r1), [(f"{i}.png", png_bytes()) for i in range(4)])
    assert resp.status_code == 400 and _count() == 0


def test_gps_exif_is_stripped_and_photo_served_to_owner(client, world):
    original = jpeg_with_gps()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)  # the fixture really carries GPS
    rh = world.token(world.r1)
    resp = file_multipart(client, rh, [("IMG_0001.JPG", original), ("plan.png", png_bytes())])
    assert resp.status_code == 201, resp.get_json()
    photos = resp.get_json()["photos"]
    assert [p["content_type"] for p in photos] == ["image/jpeg", "image/png"]

    got = client.get(photos[0]["url"], headers=rh)
    assert got.status_code == 200
    assert got.headers["Content-Type"] == "image/jpeg"
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert got.headers["Content-Disposition"].startswith("inline")
    stored = Image.open(io.BytesIO(got.data))
    assert stored.format == "JPEG" and stored.size == (320, 240)
    assert len(stored.getexif()) == 0 and not stored.getexif().get_ifd(0x8825)
    assert "exif" not in stored.info
    assert b"PhoneMaker" not in got.data and b"Exif" not in got.data
    row = db.session.get(ComplaintPhoto, photos[0]["id"])
    assert b"Exif" not in row.data


def test_photo_page_route_checks_who_may_see_it(client, world):
    resp = file_multipart(client, world.token(world.r1), [("a.jpg", jpeg_with_gps())])
    photo_id = resp.get_json()["photos"][0]["id"]
    login(client, world, world.r2)
    assert client.get(f"/feedback/photos/{photo_id}").status_code == 404
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/my/feedback/").get_data(as_text=True))})
    login(client, world, world.guard)
    ok = client.get(f"/feedback/photos/{photo_id}")
    assert ok.status_code == 200 and ok.headers["Content-Type"] == "image/jpeg"


def test_resident_page_upload(client, world):
    login(client, world, world.r1)
    page = client.get("/my/feedback/new")
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.get_data(as_text=True)
    token = csrf_from(page.get_data(as_text=True))
    data = {
        "csrf_token": token,
        "kind": "complaint",
        "category": "parking",
        "location": "B1",
        "description": "车位被占",
        "photos": [(io.BytesIO(jpeg_with_gps()), "x.jpg")],
    }
    resp = client.post("/my/feedback/new", data=data, content_type="multipart/form-data")
    assert resp.status_code == 302
    c = db.session.scalar(db.select(Complaint))
    assert len(c.photos) == 1 and b"Exif" not in c.photos[0].data
    bad = client.post(
        "/my/feedback/new", data={**data, "photos": [(io.BytesIO(PHP), "x.jpg")]}, content_type="multipart/form-data"
    )
    assert bad.status_code == 400 and "JPEG, PNG or WebP" in bad.get_data(as_text=True)
    huge = client.post(
        "/my/feedback/new",
        data={**data, "photos": [(io.BytesIO(b"\0" * (17 * 1024 * 1024)), "x.jpg")]},
        content_type="multipart/form-data",
    )
    assert huge.status_code == 413 and "5 MB" in huge.get_data(as_text=True)


def test_photos_are_encrypted_at_rest(client, world):
    import hashlib

    from portal.core import crypto

    resp = file_multipart(client, world.token(world.r1), [("plan.png", png_bytes())])
    photo = resp.get_json()["photos"][0]
    served = client.get(photo["url"], headers=world.token(world.r1)).data
    raw = db.session.execute(db.text("SELECT data, sha256 FROM complaint_photos WHERE id = :i"), {"i": photo["id"]}).one()
    stored = bytes(raw.data)
    assert served.startswith(b"\x89PNG") and hashlib.sha256(served).hexdigest() == raw.sha256
    assert b"PNG" not in stored and b"IHDR" not in stored  # nothing of the image is readable in the database
    assert crypto.decrypt(stored) == served


def test_the_migration_encrypts_existing_photos_and_its_downgrade_restores_them(tmp_path):
    import sqlite3

    from flask_migrate import downgrade, upgrade

    from portal.app import create_app
    from portal.config import TestConfig
    from portal.core import crypto

    path = tmp_path / "m.db"
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{path}")
    plain = png_bytes()
    with app.app_context():
        upgrade(revision="3e3bc0fa9573")
        raw = sqlite3.connect(path)  # a photo stored before encryption (foreign keys off: no complaint needed)
        raw.execute(
            "INSERT INTO complaint_photos (id, complaint_id, content_type, width, height, size, sha256, data, "
            "created_at) VALUES (1, 1, 'image/png', 1, 1, ?, 'x', ?, '2026-11-25 00:00:00')",
            (len(plain), plain),
        )
        raw.commit()
        upgrade()
        stored = raw.execute("SELECT data FROM complaint_photos WHERE id = 1").fetchone()[0]
        assert stored != plain and crypto.decrypt(stored) == plain
        upgrade()  # a second run leaves encrypted rows alone
        assert raw.execute("SELECT data FROM complaint_photos WHERE id = 1").fetchone()[0] == stored
        downgrade(revision="3e3bc0fa9573")
        assert raw.execute("SELECT data FROM complaint_photos WHERE id = 1").fetchone()[0] == plain
        raw.close()
