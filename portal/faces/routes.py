"""The visitor's face page (consent, selfie, withdrawal) and the desk's face search page."""

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user

from portal.accounts.models import STAFF_ROLES
from portal.accounts.sessions import page_roles
from portal.core.errors import attempt, refusal_status
from portal.faces import imaging, operations, queries
from portal.faces import search as face_search
from portal.faces.forms import ConsentForm, PhotoForm, SearchForm, WithdrawForm
from portal.passes import queries as pass_queries

bp = Blueprint("faces", __name__)

# Uploads bigger than this are cut off by Werkzeug before anything is parsed.
UPLOAD_ENDPOINTS = {"faces.photo", "faces.desk_search", "api.face_search"}


def _pass(token):
    p = pass_queries.by_link(token)
    if p is None:
        abort(404)
    return p


def _page(p, token, status=200, error=None, **forms):
    consent = queries.active_consent(p.id)
    ctx = dict(
        p=p,
        token=token,
        site=p.site,
        state=p.state(),
        consent=consent,
        enrolled=operations.has_face(p),
        error=error,
        retention_days=current_app.config.get("RETENTION_DAYS", 30),
        consent_form=forms.get("consent_form") or ConsentForm(formdata=None),
        photo_form=forms.get("photo_form") or PhotoForm(formdata=None),
        withdraw_form=WithdrawForm(formdata=None),
    )
    return render_template("faces/enrol.html", **ctx), status


def _said(msgid):
    """An error in the page's language only (the language switch is at the top of the page)."""
    return [gettext(msgid)]


@bp.get("/p/<token>/face")
def enrol(token):
    """Explain face entry and offer consent, upload or withdrawal."""
    p = _pass(token)
    return _page(p, token)


@bp.post("/p/<token>/face/consent")
def consent(token):
    """Record the visitor's consent; the box must be ticked."""
    p = _pass(token)
    form = ConsentForm()
    if not form.validate_on_submit():
        return _page(p, token, 400, error=_said("Tick the box to give your consent."), consent_form=form)
    _consent, refusal = attempt(operations.give_consent, p)
    if refusal is not None:  # an ended pass: the page says why
        return _page(p, token, refusal_status(refusal), error=_said(refusal.message))
    flash(gettext("Thank you. Now take or choose a photo of your face."), "ok")
    return redirect(url_for("faces.enrol", token=token))


@bp.post("/p/<token>/face/photo")
def photo(token):
    """Enrol the selfie; clear errors for no face, several faces, a small face or a non-photo."""
    p = _pass(token)
    form = PhotoForm()
    if not form.validate_on_submit():
        return _page(p, token, 400, error=_said("Choose a photo first."), photo_form=form)
    data = form.photo.data.read(imaging.MAX_UPLOAD_BYTES + 1)
    _template, refusal = attempt(operations.enrol, p, data)
    if refusal is not None:  # no face, several, too small, not a photo; or an ended pass, no consent
        return _page(p, token, refusal_status(refusal), error=_said(refusal.message))
    flash(
        gettext(
            "Your face is enrolled. Face terminals will recognise you during this pass; the QR code and keypad code still work."
        ),
        "ok",
    )
    return redirect(url_for("faces.enrol", token=token))


@bp.post("/p/<token>/face/withdraw")
def withdraw(token):
    """Withdraw consent: the face is deleted here and from every terminal."""
    p = _pass(token)
    if not WithdrawForm().validate_on_submit():
        abort(400)
    operations.withdraw(p)
    flash(gettext("Your consent is withdrawn and your face data is being deleted from every terminal."), "ok")
    return redirect(url_for("faces.enrol", token=token))


@bp.errorhandler(413)
def _too_large(exc):
    token = request.view_args.get("token") if request.view_args else None
    p = pass_queries.by_link(token) if token else None
    if p is None:
        return render_template("errors/error.html", status=413, message=gettext(imaging.MESSAGES["too_large"])), 413
    return _page(p, token, 413, error=_said(imaging.MESSAGES["too_large"]))


@bp.route("/desk/faces/search", methods=("GET", "POST"))
@page_roles(*STAFF_ROLES)
def desk_search():
    """Upload a photo and see which enrolled visitors of the site it matches."""
    form = SearchForm()
    results, error, status = None, None, 200
    if request.method == "POST":
        if not form.validate_on_submit():
            error, status = [gettext("Choose a photo first.")], 400
        else:
            photo = form.photo.data.read(imaging.MAX_UPLOAD_BYTES + 1)
            results, refusal = attempt(face_search.run, current_user, photo, request.form.get("site_id", type=int))
            if refusal is not None:  # staff read their own language only; the visitor's pages show both
                error, status = [gettext(refusal.message)], refusal_status(refusal)
    return render_template("faces/search.html", form=form, results=results, error=error), status
