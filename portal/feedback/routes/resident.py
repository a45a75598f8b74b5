"""The resident's phone pages for feedback, the shared photo route and the public survey page."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user

from portal.accounts.queries import resident_units
from portal.accounts.sessions import page_roles
from portal.core.errors import attempt, back_to, field_messages, refusal_status
from portal.extensions import limiter
from portal.feedback import operations, queries, schema
from portal.feedback.filing import file_from
from portal.feedback.forms import FilingForm, MessageForm, SurveyForm
from portal.feedback.photos import photo_response

bp = Blueprint("feedback", __name__, url_prefix="/my/feedback")
files_bp = Blueprint("feedback_files", __name__, url_prefix="/feedback")
survey_bp = Blueprint("surveys", __name__, url_prefix="/s")


def _own(complaint_id):
    c = queries.get_for(current_user, complaint_id)
    if c is None:
        abort(404)
    return c


@bp.get("/")
@page_roles("resident")
def index():
    """My filings and the surveys waiting for me."""
    rows = queries.list_for(current_user, limit=100)
    return render_template(
        "feedback/my_list.html",
        rows=rows,
        surveys=queries.pending_surveys(current_user),
        unread=queries.unread,
        link=queries.survey_link,
    )


@bp.route("/new", methods=["GET", "POST"])
@page_roles("resident")
def new():
    """File a complaint or suggestion with photos."""
    units = resident_units(current_user)
    if not units:
        abort(403)
    form = FilingForm()
    form.unit_id.choices = [(u.id, u.label) for u in units]
    errors = {}
    if form.is_submitted():
        if form.validate():
            c, refusal = attempt(file_from, current_user, request.form.to_dict(), request.files)
            if refusal is not None:  # the form is shown again with what was typed
                errors = field_messages(refusal)
            else:
                flash(_("Thank you. The security team will answer you here."), "ok")
                return redirect(url_for("feedback.show", complaint_id=c.id))
        else:
            errors = {k: "; ".join(v) for k, v in form.errors.items()}
    return render_template("feedback/new.html", form=form, errors=errors), 400 if errors else 200


@bp.get("/<int:complaint_id>")
@page_roles("resident")
def show(complaint_id):
    """My filing, its status, the team's answers and the thread."""
    c = _own(complaint_id)
    operations.mark_seen(c)
    return render_template("feedback/my_show.html", c=c, messages=queries.thread(c, current_user), form=MessageForm())


@bp.post("/<int:complaint_id>/messages")
@page_roles("resident")
def add_message(complaint_id):
    """Add to my thread."""
    c = _own(complaint_id)
    form = MessageForm()
    back = back_to(url_for("feedback.show", complaint_id=c.id))
    operations.add_resident_message(c, current_user, schema.parse_message({"body": form.body.data}))
    return redirect(back)


@files_bp.get("/photos/<int:photo_id>")
@page_roles()
def photo(photo_id):
    """A photo, for the filing's author and the site's staff only."""
    found = queries.photo_for(current_user, photo_id)
    if found is None:
        abort(404)
    return photo_response(found)


def _survey(token):
    s = queries.survey_by_token(token)
    if s is None:
        abort(404)
    return s


def _answer(s, form):
    """The survey answered from its form; the follow-up task a low score opened, or None."""
    score, comment = schema.parse_survey({"score": form.score.data, "comment": form.comment.data})
    return operations.answer_survey(s, score, comment)


@survey_bp.route("/<token>", methods=["GET", "POST"])
@limiter.limit("30/minute", methods=["POST"])
def page(token):
    """The public survey page: no login, the link is the credential; the form carries a CSRF token."""
    s = _survey(token)
    lang = request.args.get("lang") if request.args.get("lang") in ("zh", "en") else s.locale
    with force_locale(lang):
        form = SurveyForm()
        state, status, error, follow_up = "open", 200, None, None
        _open, closed = attempt(operations.check_survey_open, s)
        if closed is not None:  # answered or expired: the page says so instead of the form
            state, status = closed.code, refusal_status(closed)
        if state == "open" and form.is_submitted():
            follow_up, refusal = attempt(_answer, s, form)
            if refusal is not None:  # the survey page shows why, in the survey's language
                error, status = "; ".join(field_messages(refusal).values()), refusal_status(refusal)
            else:
                state = "thanks"
        page = render_template("feedback/survey.html", s=s, form=form, state=state, error=error, lang=lang, follow_up=follow_up)
        return page, status
