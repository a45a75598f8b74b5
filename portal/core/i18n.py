"""Marking messages for extraction where they are stored, not translated, at definition; names in two languages."""

from typing import Any

from flask_babel import get_locale


def N_(message):
    """Mark a msgid for extraction; translation happens when it is shown."""
    return message


def _english() -> bool:
    try:
        locale = get_locale()
    except RuntimeError:  # no request to choose a language from, and none forced
        return False
    return locale is not None and locale.language == "en"


def local_name(thing: Any) -> str:
    """A community's, building's or gate's name (row or payload dict) in the current language, else the other one.

    Pages call it as `named()`; SMS texts inside force_locale get the name of the language they are written in.
    """
    if not thing:
        return ""
    get = thing.get if isinstance(thing, dict) else lambda key: getattr(thing, key, None)
    first, second = ("name_en", "name") if _english() else ("name", "name_en")
    return get(first) or get(second) or ""
