"""Public key sets of a site, so gates and integrators can check passes offline."""
from flask import jsonify

from portal.api.blueprint import api_route
from portal.core.errors import ApiError
from portal.extensions import db
from portal.passes import keys
from portal.sites.models import Site


@api_route("/sites/<slug>/keys", summary="Ed25519 public keys that verify this site's passes (JWK set)", tag="sites",
           auth="none", responses={"200": {"description": "JWK set"}, "404": {"description": "No such site"}})
def site_keys(slug):
    """The site's key set; several keys verify at once during rotation."""
    site = db.session.scalar(db.select(Site).where(Site.slug == slug[:40]))
    if site is None:
        raise ApiError(404, "not_found", "No such site.")
    return jsonify(keys.jwks(site.id) | {"site_id": site.id, "token_format": "base32(v1|kid|site|pass|from|until|step|ed25519)"})
