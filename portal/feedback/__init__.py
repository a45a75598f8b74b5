"""Complaints and suggestions, the team's queue, follow-ups (回访), escalations and satisfaction surveys."""

from flask import jsonify, render_template, request

UPLOAD_ENDPOINTS = {"api.create_complaint", "feedback.new"}


def init_app(app):
    """Load models, register the pages, the upload size guard and the background jobs."""
    from portal.feedback import models  # noqa: F401
    from portal.feedback.jobs import register
    from portal.feedback.routes.resident import bp, files_bp, survey_bp
    from portal.feedback.routes.staff import bp as team_bp

    for blueprint in (bp, files_bp, survey_bp, team_bp):
        app.register_blueprint(blueprint)
    app.before_request(_upload_guard)
    from portal.core.validators import mask_phone

    app.jinja_env.filters["masked_phone"] = mask_phone
    app.jinja_env.globals["fb_labels"] = _labels
    register()


def _labels():
    from portal.feedback import forms

    return {
        "category": forms.CATEGORY_LABELS,
        "priority": forms.PRIORITY_LABELS,
        "status": forms.STATUS_LABELS,
        "outcome": forms.OUTCOME_LABELS,
        "kind": forms.KIND_LABELS,
        "source": forms.SOURCE_LABELS,
    }


def _upload_guard():
    """Cap upload size per route before the CSRF check parses the body (MAX_CONTENT_LENGTH stays global and unset)."""
    if request.endpoint not in UPLOAD_ENDPOINTS or request.method != "POST":
        return None
    from flask_babel import gettext

    from portal.core.errors import error_body
    from portal.feedback.uploads import guard_request

    refusal = guard_request(request)
    if refusal is None:
        return None
    if request.path.startswith("/api/"):
        return jsonify(error_body(refusal.code, refusal.message)), refusal.status
    return render_template("errors/error.html", status=refusal.status, message=gettext(refusal.message)), refusal.status
