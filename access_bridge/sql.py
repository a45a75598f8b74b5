"""SQL helpers the bridge's queries share."""

from __future__ import annotations

from flask import has_app_context
from sqlalchemy import Boolean, Integer, String, all_, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement

from portal.extensions import db


def among(column, values, negate=False):
    """column IN values; on PostgreSQL `= ANY(array)` with one parameter (a 1,000-item IN list is slow to send).

    Elsewhere (SQLite) a plain expanding IN, which SQLAlchemy compiles once and caches: the PostgreSQL form
    cannot be cached, and compiling every statement anew was a third of a wake-up's latency on SQLite.
    """
    if has_app_context() and db.engine.dialect.name != "postgresql":
        values = list(values)
        return column.not_in(values) if negate else column.in_(values)
    return _Among(column, values, negate)


class _Among(ColumnElement):
    """The uncacheable form of among(): its bound array is made at compile time."""

    inherit_cache = False
    type = Boolean()

    def __init__(self, column, values, negate=False):
        self.column, self.values, self.negate = column, list(values), negate


@compiles(_Among)
def _among_default(element, compiler, **kw):
    col = element.column
    return compiler.process(col.not_in(element.values) if element.negate else col.in_(element.values), **kw)


@compiles(_Among, "postgresql")
def _among_pg(element, compiler, **kw):
    kind = String if element.values and isinstance(element.values[0], str) else Integer
    array = bindparam(None, element.values, type_=ARRAY(kind))
    expr = element.column != all_(array) if element.negate else element.column == any_(array)
    return compiler.process(expr, **kw)
