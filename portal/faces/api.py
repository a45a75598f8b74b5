"""Face search for the security desk, in the JSON API."""

from flask import jsonify, request

from portal.accounts.models import STAFF_ROLES
from portal.accounts.sessions import api_roles, api_user
from portal.api.blueprint import PATHS, api_route
from portal.core.errors import ApiError
from portal.faces import imaging, search
from portal.faces.vectors import THRESHOLD

RULE = "/faces/search"


@api_route(
    RULE,
    methods=("POST",),
    summary="Search a photo against the site's enrolled visitor faces (1:N)",
    tag="faces",
    responses={
        "200": {
            "description": "matches: [{pass_id, distance, visitor_name, unit, status, valid_from, "
            "valid_until}], nearest first, distance < threshold"
        },
        "403": {"$ref": "#/components/responses/Error"},
        "404": {"$ref": "#/components/responses/Error"},
        "413": {"description": "Photo larger than 8 MB"},
    },
)
@api_roles(*STAFF_ROLES)
def face_search():
    """1:N search; each match shown is audited as a staff view of personal data."""
    upload = request.files.get("photo")
    if upload is None:
        raise ApiError(400, "invalid", "Some fields are invalid.", fields={"photo": ("required", "Choose a photo first.")})
    raw_site = request.form.get("site_id")
    site_id = None
    if raw_site is not None:
        if not (raw_site.isascii() and raw_site.isdigit() and len(raw_site) < 10):
            raise ApiError(404, "not_found", "No such site.")
        site_id = int(raw_site)
    matches = search.run(api_user(), upload.read(imaging.MAX_UPLOAD_BYTES + 1), site_id)
    return jsonify({"matches": matches, "threshold": THRESHOLD})


# api_route documents JSON bodies; this endpoint takes a multipart photo.
PATHS["/api/v1" + RULE]["post"]["requestBody"] = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["photo"],
                "properties": {
                    "photo": {"type": "string", "format": "binary", "description": "JPEG, PNG or WebP, at most 8 MB, one face"},
                    "site_id": {"type": "integer", "description": "Only for admins of all sites"},
                },
            }
        }
    },
}
