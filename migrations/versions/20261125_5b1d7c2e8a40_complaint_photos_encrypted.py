"""complaint photos encrypted at rest with the data key (AES-GCM), like the other personal fields

Revision ID: 5b1d7c2e8a40
Revises: 3e3bc0fa9573
Create Date: 2026-11-25 18:05:00.000000

"""
from alembic import op
import sqlalchemy as sa

from portal.core import crypto


# revision identifiers, used by Alembic.
revision = '5b1d7c2e8a40'
down_revision = '3e3bc0fa9573'
branch_labels = None
depends_on = None

_photos = sa.table("complaint_photos", sa.column("id", sa.Integer), sa.column("data", sa.LargeBinary))
_BATCH = 50  # photos are up to a few MB each


def _encrypted(blob):
    # JPEG, PNG and WebP files never start with a ciphertext's version byte, so reruns skip done rows.
    return crypto.is_ciphertext(blob)


def _rewrite(change):
    conn = op.get_bind()
    last = 0
    while True:
        rows = conn.execute(sa.select(_photos.c.id, _photos.c.data).where(_photos.c.id > last)
                            .order_by(_photos.c.id).limit(_BATCH)).all()
        if not rows:
            return
        for photo_id, data in rows:
            new = change(bytes(data))
            if new is not None:
                conn.execute(_photos.update().where(_photos.c.id == photo_id).values(data=new))
        last = rows[-1][0]


def upgrade():
    _rewrite(lambda blob: None if _encrypted(blob) else crypto.encrypt(blob))


def downgrade():
    _rewrite(lambda blob: crypto.decrypt(blob) if _encrypted(blob) else None)
