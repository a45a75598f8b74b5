"""Per-site Ed25519 key sets: the signing key of a site and a cached public view for verifiers (writes: operations)."""

import threading
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import current_app

from portal.extensions import db
from portal.passes.models import SigningKey
from portal.passes.qrtext import load_public

_CACHE_TTL = 30.0
_lock = threading.Lock()


def _cache():
    """Per-application cache (each app has its own database)."""
    ext = current_app.extensions
    if "signing_keys" not in ext:
        ext["signing_keys"] = {"at": 0.0, "keys": {}, "private": {}}
    return ext["signing_keys"]


def active_key_row(site_id):
    """The newest key that signs for a site."""
    q = (
        db.select(SigningKey)
        .where(SigningKey.site_id == site_id, SigningKey.status == "active")
        .order_by(SigningKey.id.desc())
        .limit(1)
    )
    return db.session.scalar(q)


def invalidate():
    """Drop the cache so the next lookup sees new or retired keys."""
    with _lock:
        _cache()["at"] = 0.0


def public_keys():
    """kid -> (site id, public key) for every key that verifies; cached for 30 s."""
    cache = _cache()
    now = time.monotonic()
    if now - cache["at"] < _CACHE_TTL:
        return cache["keys"]
    rows = db.session.execute(
        db.select(SigningKey.id, SigningKey.site_id, SigningKey.public_key).where(SigningKey.status.in_(("active", "verify")))
    ).all()
    keys = {kid: (site_id, load_public(pub)) for kid, site_id, pub in rows}
    with _lock:
        cache.update(at=now, keys=keys)
    return keys


def signer(site_id):
    """(kid, private key) that signs for a site now."""
    row = active_key_row(site_id)
    if row is None:
        return None
    private = _cache()["private"]
    cached = private.get(row.id)
    if cached is None:
        cached = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(row.private_key))
        private[row.id] = cached
    return row.id, cached


def jwks(site_id):
    """Public keys of a site in JWK form (OKP/Ed25519) for offline verifiers."""
    import base64

    rows = db.session.scalars(
        db.select(SigningKey).where(SigningKey.site_id == site_id, SigningKey.status.in_(("active", "verify")))
    )
    return {
        "keys": [
            {
                "kty": "OKP",
                "crv": "Ed25519",
                "kid": str(r.id),
                "use": "sig",
                "alg": "EdDSA",
                "status": r.status,
                "x": base64.urlsafe_b64encode(bytes(r.public_key)).decode().rstrip("="),
            }
            for r in rows
        ]
    }
