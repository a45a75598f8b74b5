"""Where a patrol hazard becomes an incident: the one place that knows the incidents package.

The hazard stays in patrol_hazards (the round's record, the patrol report, its photo under the site's
patrol_photos period); the incident is what the team follows up (acknowledge, on scene, resolve), with its own
copy of the photo kept as incident evidence under the incidents package's rules.
"""

from portal.extensions import db
from portal.incidents.operations import create_incident
from portal.patrol.models import Round
from portal.sites.models import Site

# A hazard is not an emergency: "normal" does not page the nearest guards (high and critical do).
KIND, SEVERITY, SOURCE = "other", "normal", "phone"


def hazard_to_incident(hazard, reporter, photos=()):
    """Open an incident for a new hazard through the incidents package's create operation; returns its id."""
    site = db.session.get(Site, hazard.site_id)
    where = hazard.checkpoint.name if hazard.checkpoint is not None else None
    if where is None and hazard.round_id is not None:
        where = db.session.get(Round, hazard.round_id).route.name
    inc = create_incident(
        site, KIND, (where or "—")[:120], hazard.description, SEVERITY, reporter, source=SOURCE, photos=list(photos)
    )
    return inc.id
