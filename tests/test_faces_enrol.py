"""The visitor's face page: separate consent, selfie enrolment, clear refusals, withdrawal."""

import io
from datetime import timedelta
from pathlib import Path

import pytest
from markupsafe import escape
from PIL import Image

from access_bridge.faces import face_jpeg_for_pass
from portal.audit.models import AuditEntry
from portal.core.errors import bilingual
from portal.core.timeutil import utcnow
from portal.extensions import db
from portal.faces import imaging
from portal.faces.models import FaceConsent, FaceErasure, FaceImage, FaceTemplate
from portal.passes.models import Pass
from tests import faces_support
from tests.faces_support import consent, csrf_from, enrol, face_url, no_face, photo, two_faces, upload

memo_faces = faces_support.memo_faces  # the fixture, under its own name here


def _count(model, **where):
    return db.session.query(model).filter_by(**where).count()


def _actions(pass_id):
    return [a for (a,) in db.session.query(AuditEntry.action).filter_by(object_type="pass", object_id=str(pass_id))]


def test_page_explains_and_consent_is_not_pre_ticked(client, world):
    p = world.make_pass()
    html = client.get(face_url(p) + "?lang=en").get_data(as_text=True)
    assert "QR code and keypad code always work" in html and "when this pass ends" in html
    assert 'name="agree"' in html and "checked" not in html
    assert 'id="face-photo-form"' not in html  # no upload before consent
    zh = client.get(face_url(p) + "?lang=zh")
    assert zh.status_code == 200 and zh.headers["Cache-Control"] == "no-store"


def test_consent_needs_the_box_ticked(client, world):
    p = world.make_pass()
    token = csrf_from(client.get(face_url(p)).get_data(as_text=True))
    resp = client.post(face_url(p, "/consent"), data={"csrf_token": token}, headers={"Accept-Language": "en"})
    assert resp.status_code == 400 and "Tick the box" in resp.get_data(as_text=True)
    assert _count(FaceConsent, pass_id=p.id) == 0
    assert consent(client, p).status_code == 302
    row = db.session.query(FaceConsent).filter_by(pass_id=p.id).one()
    assert row.version and row.purpose == "gate_entry" and row.given_at and row.withdrawn_at is None
    assert row.ip_hash and "127.0.0.1" not in row.ip_hash
    assert "face.consent" in _actions(p.id)


def test_upload_without_consent_is_refused_and_qr_still_works(client, world, memo_faces):
    p = world.make_pass()
    resp = upload(client, p, photo("obama.jpg"))
    assert resp.status_code == 403
    assert "consent" in resp.get_data(as_text=True).lower() or "同意" in resp.get_data(as_text=True)
    assert _count(FaceTemplate) == 0 and _count(FaceImage) == 0
    page = client.get(f"/p/{p.link_token}")
    assert page.status_code == 200 and 'id="qr"' in page.get_data(as_text=True)
    assert client.get(f"/p/{p.link_token}/qr.png").status_code == 200


def test_enrolment_keeps_template_and_encrypted_terminal_jpeg(client, world, memo_faces):
    p = world.make_pass()
    version = p.version
    resp = enrol(client, p, photo("obama.jpg"))
    assert resp.status_code == 302
    template = db.session.query(FaceTemplate).filter_by(pass_id=p.id).one()
    assert len(template.encoding) == 512 and template.site_id == world.site.id
    raw = db.session.execute(db.text("select jpeg from face_images where pass_id = :id"), {"id": p.id}).scalar()
    assert not bytes(raw).startswith(b"\xff\xd8")  # encrypted at rest
    jpeg = face_jpeg_for_pass(db.session, p.id)
    assert jpeg.startswith(b"\xff\xd8") and len(jpeg) <= 200 * 1024
    Image.open(io.BytesIO(jpeg)).load()
    assert db.session.get(Pass, p.id).version > version  # the bridge pushes the face
    assert "face.enrol" in _actions(p.id)
    page = client.get(face_url(p)).get_data(as_text=True)
    assert 'id="face-status"' in page and 'id="face-withdraw-form"' in page


@pytest.mark.parametrize(
    "make, code", [(two_faces, "several_faces"), (no_face, "no_face"), (lambda: b"%PDF-1.4 not a photo", "not_image")]
)
def test_bad_photos_get_a_clear_error_in_the_page_language(client, world, make, code):
    p = world.make_pass()
    assert consent(client, p).status_code == 302
    resp = upload(client, p, make(), filename="me.jpg")
    assert resp.status_code == 400
    html = resp.get_data(as_text=True)
    texts = bilingual(imaging.MESSAGES[code])
    # The page is in Chinese: the error too, and only in Chinese (the language switch is at the top).
    assert 'id="face-error"' in html and escape(texts["zh"]) in html and escape(texts["en"]) not in html
    assert _count(FaceTemplate) == 0 and _count(FaceImage) == 0


def test_every_refusal_has_a_chinese_translation():
    from babel.messages.pofile import read_po

    part = Path(__file__).parent.parent / "portal" / "translations" / "parts" / "faces.po"
    with part.open("rb") as fh:
        known = {m.id: m.string for m in read_po(fh, locale="zh") if m.id}
    for msgid in imaging.MESSAGES.values():
        assert known.get(msgid), msgid
        assert any("\u4e00" <= ch <= "\u9fff" for ch in known[msgid])


def test_too_large_upload_is_cut_off(client, world):
    p = world.make_pass()
    assert consent(client, p).status_code == 302
    resp = upload(client, p, b"\xff\xd8" + b"0" * (9 * 1024 * 1024))
    assert resp.status_code == 413 and "8 MB" in resp.get_data(as_text=True)


def test_upload_without_csrf_token_is_refused(client, world):
    p = world.make_pass()
    assert consent(client, p).status_code == 302
    resp = client.post(
        face_url(p, "/photo"), data={"photo": (io.BytesIO(photo("obama.jpg")), "a.jpg")}, content_type="multipart/form-data"
    )
    assert resp.status_code == 403 and _count(FaceTemplate) == 0


def test_withdrawal_deletes_template_and_jpeg(client, world, memo_faces):
    p = world.make_pass()
    assert enrol(client, p, photo("obama.jpg")).status_code == 302
    version = db.session.get(Pass, p.id).version
    token = csrf_from(client.get(face_url(p)).get_data(as_text=True))
    assert client.post(face_url(p, "/withdraw"), data={"csrf_token": token}).status_code == 302
    db.session.expire_all()
    assert _count(FaceTemplate, pass_id=p.id) == 0 and _count(FaceImage, pass_id=p.id) == 0
    assert face_jpeg_for_pass(db.session, p.id) is None
    assert db.session.query(FaceConsent).filter_by(pass_id=p.id).one().withdrawn_at is not None
    erasure = db.session.query(FaceErasure).filter_by(pass_id=p.id).one()
    assert erasure.reason == "withdrawn" and erasure.pass_version == db.session.get(Pass, p.id).version > version
    assert {"face.withdraw", "face.erase"} <= set(_actions(p.id))
    page = client.get(face_url(p)).get_data(as_text=True)
    assert 'name="agree"' in page  # consent can be given again, from scratch


def test_ended_pass_takes_no_consent(client, world):
    live = world.make_pass()
    token = csrf_from(client.get(face_url(live)).get_data(as_text=True))
    ended = world.make_pass(valid_from=utcnow() - timedelta(hours=5), valid_until=utcnow() - timedelta(hours=1))
    page = client.get(face_url(ended)).get_data(as_text=True)
    assert 'name="agree"' not in page
    resp = client.post(face_url(ended, "/consent"), data={"csrf_token": token, "agree": "y"})
    assert resp.status_code == 409 and _count(FaceConsent, pass_id=ended.id) == 0


def test_unknown_link_is_404(client):
    assert client.get("/p/not-a-real-token/face").status_code == 404
