"""URL converters: ids in paths are bounded, so a huge number is a 404, not a database overflow."""

from werkzeug.routing import IntegerConverter

MAX_ID = 2**31 - 1


def is_id(value):
    """True for an int a row id can be; PostgreSQL refuses to bind a larger one to an INTEGER column (a 500)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID


class BoundedInt(IntegerConverter):
    """`<int:…>` limited to positive 32-bit ids."""

    def __init__(self, url_map, fixed_digits=0, min=None, max=None, signed=False):  # noqa: A002 (werkzeug's names)
        super().__init__(
            url_map, fixed_digits=fixed_digits, min=0 if min is None else min, max=MAX_ID if max is None else max, signed=signed
        )
