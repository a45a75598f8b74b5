"""Writes on residents: activation links by SMS, activation, resend, move in and out from the unit page."""

from datetime import date, datetime, time, timedelta

from flask import current_app, has_request_context, url_for
from flask_babel import force_locale, gettext
from sqlalchemy import update

from portal.accounts.models import RELATIONS, Residency, User
from portal.accounts.passwords import check_new_password, hash_password
from portal.accounts.queries import sees_every_site
from portal.audit.operations import record
from portal.core import validators as v
from portal.core.crypto import new_token, token_hash
from portal.core.errors import Refused, ValidationFailed
from portal.core.i18n import N_
from portal.core.timeutil import as_utc, local, utcnow, zone
from portal.extensions import db
from portal.notify.operations import queue_sms_many
from portal.residents.models import ActivationLink, ExportRight
from portal.sites import operations as places
from portal.sites import roll_import
from portal.sites.models import Building, Unit

LINK_PREFIX = "vpa"
LINK_HOURS = 72
# A resend at most once a minute and five times a day per resident: SMS costs money and annoys.
RESEND_GAP = timedelta(seconds=60)
RESEND_PER_DAY = 5
_PLACEHOLDER = LINK_PREFIX + "_TOKEN"  # URL-safe like a real token, so url_for leaves it as it is
SMS_TEXT = N_("[%(site)s] Set your password for the visitor portal within 72 hours: %(url)s")


def is_activated(user):
    """Whether the resident has set a password (imported and added residents start without one)."""
    return not user.password_hash.startswith("!")


def activation_url(plain, locale):
    """The absolute address of an activation link, opening in the resident's language."""
    base = current_app.config.get("PUBLIC_BASE_URL")
    if has_request_context():
        path = url_for("activate.page", token=plain, lang=locale, _external=not base)
    else:  # the import command has no request: build the path in a throwaway one
        with current_app.test_request_context():
            path = url_for("activate.page", token=plain, lang=locale)
    return base.rstrip("/") + path if base else path


def _revoke_open(user_ids):
    """Every open activation link of these residents stops working now."""
    if user_ids:
        db.session.execute(
            update(ActivationLink)
            .where(ActivationLink.user_id.in_(user_ids), ActivationLink.used_at.is_(None), ActivationLink.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )


def _sms_template(site, locale):
    """The SMS in one language with a marker where each resident's link goes (no name, unit or phone in it)."""
    with force_locale(locale):
        name = site.name_en if locale == "en" and site.name_en else site.name
        return gettext(SMS_TEXT, site=name, url="\0")


def send_links(actor, site, users, fresh=False):
    """A fresh 72-hour link for each resident (user rows or id/phone/locale rows), by SMS through the outbox.

    Earlier open links die (fresh: accounts made just now have none); returns {user id: plain token}.
    """
    users = [u for u in users if u.phone and not is_activated(u)]
    if not fresh:
        _revoke_open([u.id for u in users])
    now, plains, rows, templates = utcnow(), {}, [], {}
    for user in users:
        plains[user.id] = new_token(LINK_PREFIX)
        rows.append(
            {
                "user_id": user.id,
                "site_id": site.id,
                "token_hash": token_hash(plains[user.id]),
                "created_by_id": actor.id if actor is not None else None,
                "created_at": now,
                "expires_at": now + timedelta(hours=LINK_HOURS),
            }
        )
    if rows:  # one statement for a whole roll: 5,000 ORM objects would slow the import down
        db.session.execute(db.insert(ActivationLink), rows)
    messages = []
    for user in users:
        locale = user.locale if user.locale in ("zh", "en") else "zh"
        if locale not in templates:  # one URL build per language, not per resident (a roll has thousands)
            templates[locale] = _sms_template(site, locale).replace("\0", activation_url(_PLACEHOLDER, locale))
        messages.append((user.phone, templates[locale].replace(_PLACEHOLDER, plains[user.id])))
    queue_sms_many(messages, "resident.activation", site_id=site.id)
    return plains


def on_imported(site, user_ids):
    """Hook of the roll import and the residencies API: every new account gets its activation SMS."""
    if user_ids:
        # Columns, not entities: a roll's thousands of accounts need only these to be sent a link.
        cols = (User.id, User.phone, User.locale, User.password_hash)
        users = db.session.execute(db.select(*cols).where(User.id.in_(user_ids))).all()
        send_links(None, site, users, fresh=True)
        record("resident.activation_sent", "site", site.id, site_id=site.id, count=len(users))


def latest_link(user):
    """The resident's newest activation link, or None."""
    return db.session.scalar(
        db.select(ActivationLink).where(ActivationLink.user_id == user.id).order_by(ActivationLink.id.desc())
    )


def resend(actor, user, site):
    """A new link now (the old one dies at once): not for activated residents, at most once a minute and 5 a day."""
    if is_activated(user):
        raise Refused("already_activated", N_("This resident has already activated their account."), kind="conflict")
    if not user.phone:
        raise Refused("no_phone", N_("This resident has no mobile number to send the link to."), kind="conflict")
    # One resend at a time per resident (PostgreSQL locks the row; SQLite writes one at a time anyway).
    db.session.execute(db.select(User.id).where(User.id == user.id).with_for_update())
    now = utcnow()
    recent = db.session.scalars(
        db.select(ActivationLink.created_at).where(
            ActivationLink.user_id == user.id, ActivationLink.created_at > now - timedelta(days=1)
        )
    ).all()
    if recent and now - max(recent) < RESEND_GAP:
        raise Refused("too_soon", N_("A link was sent less than a minute ago; wait a little."), kind="too_many")
    if len(recent) >= RESEND_PER_DAY:
        raise Refused("too_many", N_("Five links were sent today; try again tomorrow."), kind="too_many")
    send_links(actor, site, [user])
    record("resident.activation_resend", "user", user.id, site_id=site.id)
    return latest_link(user)


def find_link(plain):
    """The link row for a plain token (open or not), or None."""
    if not isinstance(plain, str) or len(plain) > 200 or not plain.startswith(LINK_PREFIX + "_"):
        return None
    return db.session.scalar(db.select(ActivationLink).where(ActivationLink.token_hash == token_hash(plain)))


def is_open(link):
    """Unused, not replaced, not expired, and its resident still may log in."""
    return (
        link is not None
        and link.used_at is None
        and link.revoked_at is None
        and link.expires_at > utcnow()
        and link.user.active
        and not is_activated(link.user)
    )


def activate(link, password, confirm):
    """Set the resident's first password; the link is spent (once, even when two requests race)."""
    user = link.user
    errors = {}
    if password != confirm:
        errors["confirm"] = ("password_mismatch", N_("The two passwords differ."))
    else:
        v.collect(errors, "password", check_new_password, password, user.login)
    if errors:
        raise ValidationFailed(errors)
    spent = db.session.execute(
        update(ActivationLink)
        .where(ActivationLink.id == link.id, ActivationLink.used_at.is_(None), ActivationLink.revoked_at.is_(None))
        .values(used_at=utcnow())
    )
    if spent.rowcount != 1:
        raise Refused("link_used", N_("This link was already used."), kind="gone")
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    record("resident.activate", "user", user.id, site_id=link.site_id, actor=user)
    return user


def _day(value, name, errors):
    """A YYYY-MM-DD day in a sane range, or None with the error recorded."""
    if isinstance(value, str):
        try:
            day = date.fromisoformat(value.strip())
        except ValueError:
            day = None
        if day is not None and 1900 <= day.year <= 2100:  # far years overflow time zone arithmetic
            return day
    errors[name] = ("invalid_date", N_("Give the date as YYYY-MM-DD, e.g. 2026-12-01."))
    return None


def _resident_by_phone(site, phone):
    """A resident of the site (now or before) with this phone; phones are encrypted, so compared here."""
    in_site = (
        db.select(Residency.user_id).join(Unit, Unit.id == Residency.unit_id).join(Building).where(Building.site_id == site.id)
    )
    for user in db.session.scalars(db.select(User).where(User.id.in_(in_site), User.role == "resident").order_by(User.id)):
        if user.phone == phone:
            return user
    return None


def add_to_unit(actor, unit, data):
    """Move a resident into a unit from the unit page (a new account gets an activation SMS); returns the residency."""
    site = unit.building.site
    errors = {}
    name = v.collect(errors, "name", v.person_name, data.get("name"))
    phone = v.collect(errors, "phone", v.phone, data.get("phone"), required=True)
    relation = data.get("relation")
    if relation not in RELATIONS:
        errors["relation"] = ("invalid_relation", N_("Relation must be owner, tenant or family."))
    day = _day(data.get("move_in"), "move_in", errors)
    if errors:
        raise ValidationFailed(errors)
    user = _resident_by_phone(site, phone)
    if user is not None and any(r.unit_id == unit.id and r.ends_at is None for r in user.residencies):
        raise Refused("already_lives_here", N_("This person already lives in this unit."), kind="conflict")
    new = user is None
    if new:
        taken = set(db.session.scalars(db.select(User.login).where(User.login.like(f"{site.slug}-%"))))
        login = roll_import.login_for(site, phone, taken)
        user = User(login=login, display_name=name, role="resident", password_hash=roll_import.UNUSABLE_PASSWORD, phone=phone)
        db.session.add(user)
        db.session.flush()
        record("user.create", "user", user.id, site_id=site.id, role="resident", source="unit_page")
    residency = places.move_in(user, unit, relation, starts_at=as_utc(datetime.combine(day, time(0), tzinfo=zone(site.timezone))))
    if new or (not is_activated(user) and not is_open(latest_link(user))):
        send_links(actor, site, [user])
    return residency


def move_out_on(actor, residency, value):
    """Move out on a day (today or earlier; never before the move-in): passes revoked now, cars go with the last one out."""
    site = residency.unit.building.site
    errors = {}
    day = local(utcnow(), site.timezone).date() if value in (None, "") else _day(value, "date", errors)
    if errors:
        raise ValidationFailed(errors)
    now = utcnow()
    today = local(now, site.timezone).date()
    if day > today:
        raise ValidationFailed({"date": ("future_date", N_("A move-out date cannot be in the future."))})
    if day < local(residency.starts_at, site.timezone).date():
        raise ValidationFailed({"date": ("before_move_in", N_("A move-out date cannot be before the move-in date."))})
    # The resident lived there all of the day they moved out: the residency ends at the next midnight (or now).
    ends = min(now, as_utc(datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone(site.timezone))))
    revoked = places.move_out(residency, at=ends)
    if not any(r.is_active(now) for r in residency.user.residencies):
        _revoke_open([residency.user_id])  # nobody activates an account for a home they left
    return revoked


def may_export(user):
    """Whether the user may export the roll with full phone numbers (administrators of every site always may)."""
    if sees_every_site(user):
        return True
    return user.is_manager and db.session.get(ExportRight, user.id) is not None


def set_export_right(actor, user, allowed):
    """Grant or take away the right to export full phone numbers; audited."""
    right = db.session.get(ExportRight, user.id)
    if allowed and right is None:
        db.session.add(ExportRight(user_id=user.id, granted_by_id=actor.id if actor is not None else None))
    elif not allowed and right is not None:
        db.session.delete(right)
    db.session.flush()
    record("resident.export_right", "user", user.id, site_id=user.site_id, allowed=allowed)
