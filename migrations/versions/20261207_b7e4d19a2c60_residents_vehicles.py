"""residents' cars: a household's registered plates, granted at the barrier

Revision ID: b7e4d19a2c60
Revises: 5e2a9c71d4b3
Create Date: 2026-12-07 04:40:00

"""
import sqlalchemy as sa
from alembic import op

import portal.core.types

# revision identifiers, used by Alembic.
revision = 'b7e4d19a2c60'
down_revision = '5e2a9c71d4b3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'vehicles',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('site_id', sa.Integer(), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=False),
        sa.Column('plate', sa.String(length=16), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('last_direction', sa.String(length=3), nullable=True),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('approved_by_id', sa.Integer(), nullable=True),
        sa.Column('approved_at', portal.core.types.UTCDateTime(), nullable=True),
        sa.Column('created_at', portal.core.types.UTCDateTime(), nullable=False),
        sa.Column('updated_at', portal.core.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['approved_by_id'], ['users.id']),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id']),
        sa.ForeignKeyConstraint(['site_id'], ['sites.id']),
        sa.ForeignKeyConstraint(['unit_id'], ['units.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('site_id', 'plate', name='uq_vehicles_site_plate'),
    )
    with op.batch_alter_table('vehicles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vehicles_unit_id'), ['unit_id'], unique=False)


def downgrade():
    with op.batch_alter_table('vehicles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vehicles_unit_id'))
    op.drop_table('vehicles')
