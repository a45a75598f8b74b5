"""pass retention: passes.purged_at marks visitor data erased after the retention period

Revision ID: 970e4225b7fb
Revises: 9eb70d96d0e6
Create Date: 2026-11-25 14:32:59.761789

"""
from alembic import op
import sqlalchemy as sa
import portal.core.types


# revision identifiers, used by Alembic.
revision = '970e4225b7fb'
down_revision = '9eb70d96d0e6'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('passes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('purged_at', portal.core.types.UTCDateTime(), nullable=True))



def downgrade():
    with op.batch_alter_table('passes', schema=None) as batch_op:
        batch_op.drop_column('purged_at')

