"""watchlist indexes per identity column led by the site: a gate's watchlist probe stays an index lookup however long the list

Revision ID: 3e3bc0fa9573
Revises: 9c21b9f42349
Create Date: 2026-11-25 17:30:05.177876

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '3e3bc0fa9573'
down_revision = '9c21b9f42349'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('watchlist', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_watchlist_id_idx'))
        batch_op.drop_index(batch_op.f('ix_watchlist_phone_idx'))
        batch_op.drop_index(batch_op.f('ix_watchlist_plate'))
        batch_op.drop_index(batch_op.f('ix_watchlist_site_active'))
        batch_op.create_index('ix_watchlist_site_id_number', ['site_id', 'id_idx'], unique=False)
        batch_op.create_index('ix_watchlist_site_phone', ['site_id', 'phone_idx'], unique=False)
        batch_op.create_index('ix_watchlist_site_plate', ['site_id', 'plate'], unique=False)


def downgrade():
    with op.batch_alter_table('watchlist', schema=None) as batch_op:
        batch_op.drop_index('ix_watchlist_site_plate')
        batch_op.drop_index('ix_watchlist_site_phone')
        batch_op.drop_index('ix_watchlist_site_id_number')
        batch_op.create_index(batch_op.f('ix_watchlist_site_active'), ['site_id', 'active'], unique=False)
        batch_op.create_index(batch_op.f('ix_watchlist_plate'), ['plate'], unique=False)
        batch_op.create_index(batch_op.f('ix_watchlist_phone_idx'), ['phone_idx'], unique=False)
        batch_op.create_index(batch_op.f('ix_watchlist_id_idx'), ['id_idx'], unique=False)
