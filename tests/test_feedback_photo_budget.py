"""A photo's decoded size is budgeted from its header: three all-zero 6300 x 6300 PNGs answer 400 at once."""

import io
import re
import time

from feedback_support import csrf_from, file_multipart, login
from photo_bombs import zero_png
from PIL import Image

from portal.extensions import db
from portal.feedback import uploads
from portal.feedback.models import Complaint


def test_three_zero_filled_6300_pngs_are_refused_fast_in_both_languages(client, world):
    bombs = [(f"{i}.png", zero_png(6300, 6300)) for i in range(3)]
    assert sum(len(raw) for _, raw in bombs) < 600_000
    # CPU time of this thread, which serves the test client's request: decoding the three would take seconds
    # of it, however busy the machine is, and refusing them from their headers takes milliseconds.
    start = time.thread_time()
    resp = file_multipart(client, world.token(world.r1), bombs)
    took = time.thread_time() - start
    print(f"3 x 6300x6300 zero PNG: {resp.status_code} after {took:.2f} s of CPU")
    assert resp.status_code == 400 and took < 1.0
    error = resp.get_json()["error"]["fields"]["photos"]
    assert error["code"] == "photo_pixels"
    assert "4096" in error["messages"]["en"] and "像素" in error["messages"]["zh"]
    assert db.session.scalar(db.select(db.func.count(Complaint.id))) == 0


def test_the_form_shows_the_error_in_the_page_language(client, world):
    login(client, world, world.r1)
    page = client.get("/my/feedback/new")
    data = {
        "csrf_token": csrf_from(page.get_data(as_text=True)),
        "kind": "complaint",
        "category": "parking",
        "location": "B1",
        "description": "车位被占",
        "photos": [(io.BytesIO(zero_png(6300, 6300)), "x.png")],
    }
    resp = client.post("/my/feedback/new", data=data, content_type="multipart/form-data")
    html = resp.get_data(as_text=True)
    expected = "像素过多" if re.search(r'<html lang="zh', html) else "too many pixels"
    assert resp.status_code == 400 and expected in html and "4096" in html


def test_a_large_jpeg_is_decoded_at_reduced_scale_not_refused():
    buf = io.BytesIO()
    Image.new("RGB", (6000, 4500), (90, 120, 30)).save(buf, "JPEG", quality=70)  # 27 MP, a phone's full size
    photo = uploads.clean(buf.getvalue())
    assert max(photo.width, photo.height) == uploads.MAX_SIDE
