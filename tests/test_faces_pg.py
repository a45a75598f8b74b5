"""Face data on PostgreSQL: enrol, search, withdraw and purge against the real database."""

import pytest

from portal.extensions import db
from portal.faces import imaging, queries
from portal.faces.erasure import purge
from portal.faces.models import FaceImage, FaceTemplate
from portal.faces.operations import withdraw
from portal.passes.models import Pass
from portal.passes.operations import revoke_pass
from tests import faces_support
from tests.faces_support import enrol_direct, photo

memo_faces = faces_support.memo_faces  # the fixture, under its own name here


@pytest.mark.integration
def test_enrol_search_withdraw_and_purge_on_postgres(pg_app, pg_world, memo_faces):
    a, b = pg_world.make_pass(), pg_world.make_pass()
    enrol_direct(pg_app, a, photo("obama.jpg"))
    enrol_direct(pg_app, b, photo("biden.jpg"))
    _, probe = imaging.analyse(imaging.load_photo(photo("obama2.jpg")))
    assert [k for k, _ in queries.search(pg_world.site.id, probe)] == [a.id]
    assert db.session.get(FaceImage, a.id).jpeg.startswith(b"\xff\xd8")
    with pg_app.test_request_context():
        withdraw(db.session.get(Pass, a.id))
        revoke_pass(db.session.get(Pass, b.id), reason="test")
        db.session.commit()
    assert queries.search(pg_world.site.id, probe) == []
    assert purge(30)["ended"] == 1
    db.session.commit()
    assert db.session.query(FaceTemplate).count() == 0 and db.session.query(FaceImage).count() == 0
