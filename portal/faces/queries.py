"""Reading face data: consent state of a pass and the cached 1:N index of a site."""

import threading

from portal.extensions import db
from portal.faces.models import FaceConsent, FaceImage, FaceIndexStamp, FaceTemplate
from portal.faces.vectors import THRESHOLD, FaceIndex

# (database, site_id) -> (stamp, FaceIndex); rebuilt when the site's stamp moves.
_cache = {}
_lock = threading.Lock()


def active_consent(pass_id):
    """The consent in force for a pass, or None."""
    return db.session.scalar(
        db.select(FaceConsent)
        .where(FaceConsent.pass_id == pass_id, FaceConsent.withdrawn_at.is_(None))
        .order_by(FaceConsent.id.desc())
        .limit(1)
    )


def template_for(pass_id):
    """The face template of a pass, or None."""
    return db.session.scalar(db.select(FaceTemplate).where(FaceTemplate.pass_id == pass_id))


def image_for(pass_id):
    """The terminal JPEG row of a pass, or None."""
    return db.session.get(FaceImage, pass_id)


def stamp(site_id):
    """The site's template stamp (None when nothing was ever enrolled)."""
    return db.session.scalar(db.select(FaceIndexStamp.stamp).where(FaceIndexStamp.site_id == site_id))


def site_index(site_id):
    """The site's FaceIndex, from the cache while the site's stamp has not moved."""
    gen = stamp(site_id)
    # Test apps and several databases share a process: key the cache by the database too.
    key = (str(db.engine.url), site_id)
    hit = _cache.get(key)
    if hit is not None and hit[0] == gen:
        return hit[1]
    with _lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] == gen:
            return hit[1]
        rows = db.session.execute(
            db.select(FaceTemplate.pass_id, FaceTemplate.encoding)
            .where(FaceTemplate.site_id == site_id)
            .order_by(FaceTemplate.id)
        ).all()
        index = FaceIndex.from_rows((pid, bytes(enc)) for pid, enc in rows)
        _cache[key] = (gen, index)
        return index


def search(site_id, encoding, limit=5, threshold=THRESHOLD):
    """Closest enrolled passes of a site: [(pass_id, distance)], nearest first."""
    return site_index(site_id).search(encoding, limit=limit, threshold=threshold)
