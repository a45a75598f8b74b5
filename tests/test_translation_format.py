"""Every msgid survives the gettext paths that format it: Jinja's newstyle `_()` and Flask-Babel's `gettext`.

Jinja's i18n extension (newstyle, as Flask-Babel installs it) always applies `% variables`, even with none,
so a bare `%` in a template string is a 500; Flask-Babel's `gettext` formats only when given keywords.
"""

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from flask import render_template_string
from flask_babel import force_locale, gettext

from tests.desk_support import event, login_page

ROOT = Path(__file__).resolve().parent.parent
POT = ROOT / "portal/translations/messages.pot"
ZH = ROOT / "portal/translations/zh/LC_MESSAGES/messages.po"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdfr]")
BRACES = re.compile(r"\{(\w*)\}")


def _msgids():
    ids = {m.id for m in read_po(POT.open("rb")) if m.id and isinstance(m.id, str)}
    ids |= {m.id for m in read_po(ZH.open("rb"), locale="zh") if m.id and isinstance(m.id, str)}
    return sorted(ids)


MSGIDS = _msgids()


def _python_sources():
    return "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "portal").rglob("*.py"))


def _sample(msgid):
    """A value for each named placeholder of the msgid."""
    return dict.fromkeys(PLACEHOLDER.findall(msgid), "7")


def test_catalogue_is_not_empty():
    assert len(MSGIDS) > 300


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_msgid_renders_through_jinja_and_flask_babel(app, lang):
    """With and without variables, in both languages: no exception, no stray `%%`, no placeholder left."""
    failures = []
    with app.test_request_context(f"/?lang={lang}"), force_locale(lang):
        for msgid in MSGIDS:
            values = _sample(msgid)
            try:
                # Jinja newstyle: formats always; templates pass every placeholder they use.
                out = render_template_string("{{ _(s, **v) }}", s=msgid, v=values)
                # Without variables (a plain string in a template).
                if not values:
                    render_template_string("{{ _(s) }}", s=msgid)
                # Flask-Babel in Python: formats when given keywords (also an unused one).
                py = gettext(msgid, **values, _unused="x") if values else gettext(msgid)
                gettext(msgid, **{**values, "extra": "x"})
            except (ValueError, KeyError, TypeError) as exc:
                failures.append(f"{msgid!r}: {type(exc).__name__}: {exc}")
                continue
            if PLACEHOLDER.search(out) or "%%" in out.replace("&#37;", "%"):
                failures.append(f"{msgid!r}: placeholder or %% left in {out!r}")
            if values and PLACEHOLDER.search(py):
                failures.append(f"{msgid!r}: placeholder left in {py!r}")
    assert not failures, "\n".join(failures)


def _translated(text):
    """True for a non-empty msgstr (every form of a plural)."""
    return bool(text) and (all(text) if isinstance(text, tuple | list) else True)


def test_every_extracted_msgid_has_chinese():
    """Each msgid the extraction finds (templates, gettext, FieldError, ApiError, Refused, invalid_field) is translated."""
    zh = {m.id: m.string for m in read_po(ZH.open("rb"), locale="zh") if m.id}
    missing = [m.id for m in read_po(POT.open("rb")) if m.id and not _translated(zh.get(m.id))]
    assert not missing, missing


def test_each_msgid_is_translated_in_one_part_only():
    """The catalogue keeps the first part's Chinese for a msgid, so a second part's differing one would be silently lost."""
    where: dict[str, list[str]] = {}
    for part in sorted((ROOT / "portal/translations/parts").glob("*.po")):
        for m in read_po(part.open("rb"), locale="zh"):
            if m.id:
                where.setdefault(str(m.id), []).append(part.stem)
    assert {msgid: parts for msgid, parts in where.items() if len(parts) > 1} == {}


def test_chinese_placeholders_match_english():
    """A translation uses exactly the msgid's placeholders (a new one is a KeyError, a lost one a missing value)."""
    bad = []
    for m in read_po(ZH.open("rb"), locale="zh"):
        if not m.id or not m.string or not isinstance(m.id, str):
            continue
        if sorted(PLACEHOLDER.findall(m.id)) != sorted(PLACEHOLDER.findall(m.string)):
            bad.append(m.id)
        if m.id.count("%%") != m.string.count("%%"):
            bad.append(m.id)
        if sorted(BRACES.findall(m.id)) != sorted(BRACES.findall(m.string)):
            bad.append(m.id)
    assert not bad, bad


def test_escaped_percent_only_in_strings_jinja_formats():
    """A `%%` without placeholders would show doubled when Python's gettext is called without keywords."""
    source = _python_sources()
    doubled = [m for m in MSGIDS if "%%" in m and not PLACEHOLDER.search(m) and repr(m)[1:-1] in source]
    assert not doubled, doubled


def test_no_bare_percent_in_template_strings():
    """Every literal `%` in a template msgid is escaped (`%%`) or a placeholder."""
    bad = []
    for path in (ROOT / "templates").rglob("*.html"):
        for msgid in re.findall(r"""_\(\s*(?:"([^"]*)"|'([^']*)')""", path.read_text(encoding="utf-8")):
            text = msgid[0] or msgid[1]
            rest = PLACEHOLDER.sub("", text).replace("%%", "")
            if "%" in rest:
                bad.append(f"{path.name}: {text}")
    assert not bad, bad


def _guard_majority(world):
    for approved_by in ("guard", "guard", "host"):
        event(world, method="walk_in", reason="walk_in", approved_by=approved_by)


@pytest.mark.parametrize(
    "lang, text", [("en", "Above 10%: residents are being bypassed."), ("zh", "超过 10%：业主确认环节被绕过。")]
)
def test_board_in_the_alert_state(client, world, lang, text):
    """Guards approved 2 of 3 walk-ins: the board answers and shows the warning with a single percent sign."""
    _guard_majority(world)
    login_page(client, world, world.guard)
    resp = client.get(f"/desk/?lang={lang}")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert text in html
    assert "67%" in html
