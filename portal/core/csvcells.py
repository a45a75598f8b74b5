"""CSV cells a spreadsheet cannot run as formulas, and reading them back as they were."""

# A cell starting with one of these is run as a formula by Excel, LibreOffice or Google Sheets (OWASP CSV injection).
TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")


def neutralised(text: str) -> str:
    """Text that could be read as a formula, with a leading apostrophe."""
    return "'" + text if text.lstrip(" ").startswith(TRIGGERS) else text


def restored(text: str) -> str:
    """The inverse of neutralised: an export read back (re-imported) gives the original text."""
    return text[1:] if text.startswith("'") and text[1:].lstrip(" ").startswith(TRIGGERS) else text
