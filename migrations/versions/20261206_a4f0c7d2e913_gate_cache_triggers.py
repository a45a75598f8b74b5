"""gate cache triggers: the database announces every change a cached QR decision depends on (NOTIFY on PostgreSQL, a counter on SQLite)

Revision ID: a4f0c7d2e913
Revises: 5b1d7c2e8a40
Create Date: 2026-12-06 23:10:00

"""
import sqlalchemy as sa
from alembic import op

from portal.gate import triggers

# revision identifiers, used by Alembic.
revision = 'a4f0c7d2e913'
down_revision = '5b1d7c2e8a40'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(triggers.EPOCH_TABLE, sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('n', sa.Integer(), nullable=False),
                    sa.PrimaryKeyConstraint('id', name=op.f('pk_gate_cache_epoch')))
    for statement in triggers.create_statements(op.get_bind().dialect.name, triggers.FIRST_TABLES):
        op.execute(statement)


def downgrade():
    for statement in triggers.drop_statements(op.get_bind().dialect.name, triggers.FIRST_TABLES):
        op.execute(statement)
    op.drop_table(triggers.EPOCH_TABLE)
