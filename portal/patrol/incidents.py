"""Where a patrol hazard becomes an incident: the one place that knows the incidents package.

Until portal.incidents is on main the hazard stays in patrol_hazards with its photo (the desk and the report read
it there) and this returns None; when it lands, this function calls its create operation and returns the id.
"""


def hazard_to_incident(hazard):
    """The incident id a new hazard became, or None while there is no incidents package to hand it to."""
    return
