"""bridge_changes: the outbox the bridge plans incrementally from

Revision ID: a9c3e5f7b1d2
Revises: e5a1c3b7d902
Create Date: 2026-12-07 07:00:00

"""
import sqlalchemy as sa
from alembic import op

import portal.core.types


# revision identifiers, used by Alembic.
revision = 'a9c3e5f7b1d2'
down_revision = 'e5a1c3b7d902'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('bridge_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('object_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=True),
    sa.Column('created_at', portal.core.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bridge_changes'))
    )
    with op.batch_alter_table('bridge_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bridge_changes_created_at'), ['created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('bridge_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bridge_changes_created_at'))
    op.drop_table('bridge_changes')
