"""The security team's pages: the queue, one filing with its actions, follow-up tasks and escalations."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.accounts.models import STAFF_ROLES
from portal.accounts.sessions import get_user, page_roles
from portal.core.errors import back_to
from portal.core.timeutil import utcnow
from portal.desk.access import desk_site
from portal.feedback import operations, queries, schema, sla
from portal.feedback.filing import STAFF_SOURCES, file_for_resident
from portal.feedback.forms import AssignForm, MessageForm, OutcomeForm, ReasonForm, TriageForm
from portal.feedback.models import CATEGORIES
from portal.lookup.queries import units_matching

bp = Blueprint("team_feedback", __name__, url_prefix="/team/feedback")


def _item(complaint_id):
    c = queries.get_for(current_user, complaint_id)
    if c is None:
        abort(404)
    return c


def _act(c, fn, ok_message):
    """Run an operation and go back to the filing; a refusal (e.g. no answer yet) is flashed there, nothing written."""
    back = back_to(url_for("team_feedback.show", complaint_id=c.id))
    fn()
    flash(ok_message, "ok")
    return redirect(back)


@bp.get("/")
@page_roles(*STAFF_ROLES)
def queue():
    """Open items, earliest deadline first; overdue ones highlighted."""
    status = request.args.get("status", "open")
    category = request.args.get("category") if request.args.get("category") in CATEGORIES else None
    rows = queries.queue(current_user, status=status or None, category=category, overdue=request.args.get("overdue") == "1")
    now = utcnow()
    return render_template(
        "feedback/queue.html",
        rows=rows,
        now=now,
        late={c.id: sla.overdue(c, now) for c in rows},
        answered={c.id for c in rows if not sla.needs_response(c)},
        escalated=queries.escalated_ids([c.id for c in rows]),
        status=status,
        category=category,
        tasks=queries.follow_ups(current_user),
    )


@bp.get("/new")
@page_roles(*STAFF_ROLES)
def take():
    """The form a guard or manager fills for a resident at the counter, on the phone or from the hotline."""
    return render_template("feedback/team_new.html", sources=STAFF_SOURCES)


@bp.post("/new")
@page_roles(*STAFF_ROLES)
def take_post():
    """File for a resident found by unit ("A-1201") or phone; a refusal goes back to the form."""
    back_to(url_for("team_feedback.take"))
    site = desk_site(current_user)
    data = request.form.to_dict()
    if data.get("unit"):
        units = units_matching(site.id, data["unit"])
        data["unit_id"] = units[0].id if len(units) == 1 else ""
    c = file_for_resident(current_user, site, data, request.files)
    flash(_("Filed for the resident."), "ok")
    return redirect(url_for("team_feedback.show", complaint_id=c.id))


@bp.get("/<int:complaint_id>")
@page_roles(*STAFF_ROLES)
def show(complaint_id):
    """One filing: thread, deadlines, escalations and the actions."""
    c = _item(complaint_id)
    assign = AssignForm()
    assign.assignee_id.choices = [(u.id, u.display_name) for u in queries.team(c.site_id)]
    triage = TriageForm(priority=c.priority, category=c.category)
    return render_template(
        "feedback/team_show.html",
        c=c,
        messages=queries.thread(c, current_user),
        now=utcnow(),
        late=sla.overdue(c, utcnow()),
        escalations=queries.escalations(current_user, complaint_id=c.id),
        needs_response=sla.needs_response(c),
        triage=triage,
        assign=assign,
        message=MessageForm(),
        outcome=OutcomeForm(),
        reason=ReasonForm(),
    )


@bp.post("/<int:complaint_id>/triage")
@page_roles(*STAFF_ROLES)
def triage(complaint_id):
    """Set priority and category."""
    c = _item(complaint_id)
    return _act(c, lambda: operations.triage(c, current_user, *schema.parse_priority(request.form)), _("Triaged."))


@bp.post("/<int:complaint_id>/assign")
@page_roles(*STAFF_ROLES)
def assign(complaint_id):
    """Assign to a team member."""
    c = _item(complaint_id)
    return _act(
        c, lambda: operations.assign(c, current_user, get_user(schema.parse_id(request.form, "assignee_id"))), _("Assigned.")
    )


@bp.post("/<int:complaint_id>/respond")
@page_roles(*STAFF_ROLES)
def respond(complaint_id):
    """Answer the resident, or add an internal note."""
    c = _item(complaint_id)
    if request.form.get("internal") == "1":
        return _act(c, lambda: operations.add_note(c, current_user, schema.parse_message(request.form)), _("Note added."))
    return _act(
        c,
        lambda: operations.respond(c, current_user, schema.parse_message(request.form)),
        _("Answer sent; the resident is notified."),
    )


@bp.post("/<int:complaint_id>/resolve")
@page_roles(*STAFF_ROLES)
def resolve(complaint_id):
    """Resolve; refused while the resident has no answer."""
    c = _item(complaint_id)
    return _act(
        c, lambda: operations.resolve(c, current_user, request.form.get("body") or None), _("Resolved; a follow-up visit is due.")
    )


@bp.post("/<int:complaint_id>/follow-up")
@page_roles(*STAFF_ROLES)
def follow_up(complaint_id):
    """Record the follow-up visit (回访)."""
    c = _item(complaint_id)
    return _act(
        c,
        lambda: operations.follow_up(
            c, current_user, *schema.parse_outcome(request.form, allowed=("solved", "not_solved", "unreachable"))
        ),
        _("Follow-up recorded."),
    )


@bp.post("/<int:complaint_id>/reopen")
@page_roles(*STAFF_ROLES)
def reopen(complaint_id):
    """Reopen with a reason."""
    c = _item(complaint_id)
    return _act(c, lambda: operations.reopen(c, current_user, schema.parse_message(request.form, name="reason")), _("Reopened."))


@bp.get("/follow-ups")
@page_roles(*STAFF_ROLES)
def follow_ups():
    """Open follow-up tasks: visits after a resolution and low survey scores."""
    done = request.args.get("status") == "done"
    tasks = queries.follow_ups(current_user, status="done" if done else "open")
    now = utcnow()
    return render_template(
        "feedback/follow_ups.html",
        tasks=tasks,
        late={t.id for t in tasks if sla.follow_up_overdue(t, now)},
        done=done,
        form=OutcomeForm(),
        tzname=_tzname(),
    )


@bp.post("/follow-ups/<int:task_id>/done")
@page_roles(*STAFF_ROLES)
def finish_task(task_id):
    """Close a follow-up task with its outcome."""
    task = queries.follow_up_for(current_user, task_id)
    if task is None:
        abort(404)
    back = back_to(url_for("team_feedback.follow_ups"))
    operations.complete_task(task, current_user, *schema.parse_outcome(request.form))
    flash(_("Follow-up recorded."), "ok")
    return redirect(back)


@bp.get("/escalations")
@page_roles(*STAFF_ROLES)
def escalations():
    """Every escalation of the site, newest first."""
    return render_template("feedback/escalations.html", rows=queries.escalations(current_user, limit=200), tzname=_tzname())


def _tzname():
    return current_user.site.timezone if current_user.site is not None else "Asia/Shanghai"
