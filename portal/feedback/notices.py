"""Texts sent by SMS about feedback, each in its reader's language; queued, sent after commit."""

from flask import current_app, has_request_context, url_for
from flask_babel import force_locale, gettext

from portal.core.i18n import local_name
from portal.notify.operations import queue_sms


def absolute(endpoint, **values):
    """Absolute URL for links in SMS, honouring PUBLIC_BASE_URL."""
    base = (current_app.config.get("PUBLIC_BASE_URL") or "").rstrip("/")
    if has_request_context():
        return base + url_for(endpoint, **values) if base else url_for(endpoint, _external=True, **values)
    # Jobs run without a request: build from the URL map and the configured public address.
    server = current_app.config.get("SERVER_NAME") or "localhost"
    scheme = current_app.config.get("PREFERRED_URL_SCHEME", "http")
    path = current_app.url_map.bind(server, url_scheme=scheme).build(endpoint, values)
    return (base or f"{scheme}://{server}") + path


def _lang(user):
    return user.locale if user.locale in ("zh", "en") else "zh"


def answered(complaint):
    """Tell the resident the team answered (no content in the SMS: it may be read by others)."""
    user = complaint.author
    if not user.phone:
        return None
    url = absolute("feedback.show", complaint_id=complaint.id)
    with force_locale(_lang(user)):
        body = gettext(
            "[%(site)s] The security team answered your feedback #%(id)s: %(url)s",
            site=local_name(complaint.site),
            id=complaint.id,
            url=url,
        )
    return queue_sms(user.phone, body, "feedback_answer", site_id=complaint.site_id)


def survey(s, url):
    """Ask for a rating by SMS, in the person's language."""
    user = s.user
    if not user.phone:
        return None
    with force_locale(s.locale):
        if s.kind == "visit":
            body = gettext(
                "[%(site)s] How was your visitor's entry? Rate it in one tap: %(url)s", site=local_name(s.site), url=url
            )
        else:
            body = gettext(
                "[%(site)s] Your feedback #%(id)s is closed. How did we do? %(url)s",
                site=local_name(s.site),
                id=s.complaint_id,
                url=url,
            )
    return queue_sms(user.phone, body, "survey", pass_id=s.pass_id, site_id=s.site_id)


def escalated(manager, site, what, item_id, kind):
    """Tell a manager an item ran over its deadline; what is an English msgid marked with N_."""
    if not manager.phone:
        return None
    url = absolute("team_feedback.escalations")
    with force_locale(_lang(manager)):
        label = {
            "response": gettext("no answer yet"),
            "resolution": gettext("not resolved in time"),
            "follow_up": gettext("follow-up overdue"),
        }[kind]
        body = gettext(
            "[%(site)s] Overdue: %(what)s #%(id)s, %(label)s. %(url)s",
            site=local_name(site),
            what=gettext(what),
            id=item_id,
            label=label,
            url=url,
        )
    return queue_sms(manager.phone, body, "feedback_escalation", site_id=site.id)
