"""Marking messages for extraction where they are stored, not translated, at definition."""


def N_(message):
    """Mark a msgid for extraction; translation happens when it is shown."""
    return message
