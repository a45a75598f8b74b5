"""DATA_KEY rotation: count ciphertexts per key, re-encrypt the old ones in batches, say when a key is unused.

Progress lives in the data: a value still needs work when its ciphertext does not start with the
current key's header (portal.core.crypto.header), so a rotation stopped anywhere resumes where it
stopped. Each batch commits; each row is rewritten only if it still holds the ciphertext that was read,
so a value changed by the portal meanwhile (already under the current key) is never overwritten.
"""

from dataclasses import dataclass, field

from sqlalchemy import LargeBinary, func, literal_column, select, type_coerce, update

from portal.core import crypto
from portal.core.types import EncryptedBytes
from portal.extensions import db

PHOTO_BATCH = 20


def encrypted_columns():
    """(table, column) for every column stored encrypted, in a stable order."""
    for table in db.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, EncryptedBytes):
                yield table, column


def _raw(column):
    return type_coerce(column, LargeBinary)


def _prefix(column, n):
    # Inline numbers: PostgreSQL matches a GROUP BY expression only when its parameters are the same literal text.
    return func.substr(_raw(column), literal_column("1"), literal_column(str(int(n))), type_=LargeBinary)


def usage():
    """{key id: number of stored values it encrypts}, over every encrypted column."""
    counts: dict[int, int] = {}
    for table, column in encrypted_columns():
        rows = db.session.execute(
            select(_prefix(column, 2), func.count()).select_from(table).where(column.isnot(None)).group_by(_prefix(column, 2))
        )
        for prefix, count in rows:
            kid = crypto.key_id_of(bytes(prefix))
            counts[kid] = counts.get(kid, 0) + count
    db.session.rollback()
    return counts


@dataclass
class Rotation:
    """What a rotation run did."""

    rewritten: int = 0
    batches: int = 0
    finished: bool = False
    by_column: dict = field(default_factory=dict)


def rotate(batch_size=500, max_batches=None, after_batch=None):
    """Re-encrypt every value not under the current key, batch by batch (each committed).

    max_batches stops early (finished stays False); after_batch(rotation) runs after each commit.
    """
    target = crypto.header(crypto.current_key_id())
    result = Rotation()
    for table, column in encrypted_columns():
        pk = list(table.primary_key.columns)
        if len(pk) != 1:
            raise RuntimeError(f"{table.name} needs a single-column primary key to be rotated")
        key_col, last = pk[0], None
        # Photos (plain EncryptedBytes) are up to a few MB each: fewer of them per batch.
        size = min(batch_size, PHOTO_BATCH) if type(column.type) is EncryptedBytes else batch_size
        while True:
            if max_batches is not None and result.batches >= max_batches:
                return result
            query = select(key_col, _raw(column)).where(column.isnot(None), _prefix(column, len(target)) != target)
            if last is not None:
                query = query.where(key_col > last)
            rows = db.session.execute(query.order_by(key_col).limit(size)).all()
            if not rows:
                break
            for ident, blob in rows:
                fresh = crypto.encrypt(crypto.decrypt(bytes(blob)))
                done = db.session.execute(
                    update(table)
                    .where(key_col == ident, _raw(column) == type_coerce(bytes(blob), LargeBinary))
                    .values({column.name: type_coerce(fresh, LargeBinary)})
                )
                result.rewritten += done.rowcount
                name = f"{table.name}.{column.name}"
                result.by_column[name] = result.by_column.get(name, 0) + done.rowcount
            db.session.commit()
            result.batches += 1
            last = rows[-1][0]
            if after_batch is not None:
                after_batch(result)
    result.finished = True
    return result


def can_drop(key_id):
    """(True, "") when key_id encrypts nothing and is not the current key, else (False, why)."""
    if key_id == crypto.current_key_id():
        return False, f"key {key_id} is the current key (DATA_KEY)"
    left = usage().get(key_id, 0)
    if left:
        return False, f"key {key_id} still encrypts {left} values: run `keys rotate-data-key` first"
    return True, ""
