"""Follow-up tasks and the public survey answer in the JSON API (imported by feedback.api)."""

from flask import jsonify, request

from portal.accounts.models import STAFF_ROLES
from portal.accounts.sessions import api_roles, api_user
from portal.api.blueprint import api_route
from portal.core.errors import Refused
from portal.core.jsonbody import json_body
from portal.extensions import csrf, limiter
from portal.feedback import operations, queries, schema
from portal.feedback.models import OUTCOMES
from portal.feedback.serialize import follow_up_json, survey_json

ERR = {"$ref": "#/components/responses/Error"}
OUTCOME = {
    "type": "object",
    "required": ["outcome", "note"],
    "properties": {"outcome": {"type": "string", "enum": list(OUTCOMES)}, "note": {"type": "string", "maxLength": 4000}},
}


@api_route(
    "/follow-ups",
    summary="Follow-up tasks of my site (visits and low survey scores)",
    tag="feedback",
    params=[{"name": "status", "in": "query", "schema": {"type": "string", "enum": ["open", "done"]}}],
)
@api_roles(*STAFF_ROLES)
def list_follow_ups():
    """Open tasks by default, earliest due first."""
    user = api_user()
    status = request.args.get("status", "open")
    return jsonify(
        {
            "items": [
                follow_up_json(t, user) for t in queries.follow_ups(user, status=status if status in ("open", "done") else "open")
            ]
        }
    )


@api_route(
    "/follow-ups/<int:task_id>/done",
    methods=("POST",),
    summary="Close a follow-up task with its outcome",
    tag="feedback",
    body=OUTCOME,
    responses={"200": {"description": "OK"}, "409": ERR},
)
@api_roles(*STAFF_ROLES)
def finish_follow_up(task_id):
    """Record the outcome of a follow-up."""
    user = api_user()
    task = queries.follow_up_for(user, task_id)
    if task is None:
        raise Refused("not_found", "No such follow-up.", kind="not_found")
    outcome, note = schema.parse_outcome(json_body())
    operations.complete_task(task, user, outcome, note)
    return jsonify(follow_up_json(task, user))


def _survey(token):
    s = queries.survey_by_token(token)
    if s is None:
        raise Refused("not_found", "No such survey.", kind="not_found")
    return s


@api_route(
    "/surveys/<token>",
    summary="Survey state (kind, language, expiry)",
    tag="surveys",
    auth="none",
    responses={"200": {"description": "OK"}, "404": ERR},
)
@limiter.limit("60/minute")
def get_survey(token):
    """What the link is about; the token in the path is the only credential."""
    return jsonify(survey_json(_survey(token)))


@api_route(
    "/surveys/<token>",
    methods=("POST",),
    summary="Answer a survey once: 1-5 stars and an optional comment",
    tag="surveys",
    auth="none",
    body={
        "type": "object",
        "required": ["score"],
        "properties": {
            "score": {"type": "integer", "minimum": 1, "maximum": 5},
            "comment": {"type": "string", "maxLength": 1000},
        },
    },
    responses={"200": {"description": "Recorded"}, "404": ERR, "409": ERR, "410": ERR},
)
@csrf.exempt
@limiter.limit("30/minute")
def answer_survey(token):
    """Record the answer; the unguessable token is the credential, so no cookie and no CSRF token."""
    s = _survey(token)
    operations.check_survey_open(s)
    score, comment = schema.parse_survey(json_body())
    task = operations.answer_survey(s, score, comment)
    return jsonify({**survey_json(s), "follow_up": task is not None})
