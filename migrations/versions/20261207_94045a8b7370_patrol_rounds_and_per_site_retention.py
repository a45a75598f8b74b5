"""patrol rounds (checkpoints, routes, rounds, scans, hazards) and per-site retention periods

Read by hand: plain create_table on SQLite and PostgreSQL; the unique constraints are what make a retried
sync apply once (patrol_scans, patrol_hazards) and a schedule slot make one round (patrol_rounds).

Revision ID: 94045a8b7370
Revises: 664fcd5a19c5
Create Date: 2026-12-07 05:47:45.621788

"""
import sqlalchemy as sa
from alembic import op

import portal.core.types


# revision identifiers, used by Alembic.
revision = '94045a8b7370'
down_revision = '664fcd5a19c5'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('patrol_checkpoints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', portal.core.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', portal.core.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_patrol_checkpoints_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_checkpoints'))
    )
    with op.batch_alter_table('patrol_checkpoints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patrol_checkpoints_site_id'), ['site_id'], unique=False)

    op.create_table('patrol_routes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('schedule', sa.JSON(), nullable=False),
    sa.Column('grace_minutes', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', portal.core.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', portal.core.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_patrol_routes_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_routes'))
    )
    with op.batch_alter_table('patrol_routes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patrol_routes_site_id'), ['site_id'], unique=False)

    op.create_table('patrol_rounds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('route_id', sa.Integer(), nullable=False),
    sa.Column('guard_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('due_at', portal.core.types.UTCDateTime(), nullable=True),
    sa.Column('started_at', portal.core.types.UTCDateTime(), nullable=True),
    sa.Column('finished_at', portal.core.types.UTCDateTime(), nullable=True),
    sa.Column('plan', sa.JSON(), nullable=False),
    sa.Column('deadline_at', portal.core.types.UTCDateTime(), nullable=True),
    sa.Column('on_time', sa.Boolean(), nullable=True),
    sa.Column('created_at', portal.core.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', portal.core.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['guard_id'], ['users.id'], name=op.f('fk_patrol_rounds_guard_id_users')),
    sa.ForeignKeyConstraint(['route_id'], ['patrol_routes.id'], name=op.f('fk_patrol_rounds_route_id_patrol_routes')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_patrol_rounds_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_rounds')),
    sa.UniqueConstraint('route_id', 'due_at', name='uq_patrol_rounds_route_due')
    )
    with op.batch_alter_table('patrol_rounds', schema=None) as batch_op:
        batch_op.create_index('ix_patrol_rounds_site_status', ['site_id', 'status'], unique=False)

    op.create_table('patrol_route_stops',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('route_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('checkpoint_id', sa.Integer(), nullable=False),
    sa.Column('minutes', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['checkpoint_id'], ['patrol_checkpoints.id'], name=op.f('fk_patrol_route_stops_checkpoint_id_patrol_checkpoints')),
    sa.ForeignKeyConstraint(['route_id'], ['patrol_routes.id'], name=op.f('fk_patrol_route_stops_route_id_patrol_routes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_route_stops')),
    sa.UniqueConstraint('route_id', 'position', name='uq_patrol_route_stops_position')
    )
    op.create_table('site_retention',
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('days', sa.Integer(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', portal.core.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', portal.core.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_site_retention_site_id_sites')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_site_retention_updated_by_id_users')),
    sa.PrimaryKeyConstraint('site_id', 'kind', name=op.f('pk_site_retention'))
    )
    op.create_table('patrol_hazards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=True),
    sa.Column('checkpoint_id', sa.Integer(), nullable=True),
    sa.Column('reported_by_id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('found_at', portal.core.types.UTCDateTime(), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('closed_at', portal.core.types.UTCDateTime(), nullable=True),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.Column('close_note', sa.Text(), nullable=True),
    sa.Column('photo', portal.core.types.EncryptedBytes(), nullable=True),
    sa.Column('photo_type', sa.String(length=16), nullable=True),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('created_at', portal.core.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', portal.core.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['checkpoint_id'], ['patrol_checkpoints.id'], name=op.f('fk_patrol_hazards_checkpoint_id_patrol_checkpoints')),
    sa.ForeignKeyConstraint(['closed_by_id'], ['users.id'], name=op.f('fk_patrol_hazards_closed_by_id_users')),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_patrol_hazards_incident_id_incidents')),
    sa.ForeignKeyConstraint(['reported_by_id'], ['users.id'], name=op.f('fk_patrol_hazards_reported_by_id_users')),
    sa.ForeignKeyConstraint(['round_id'], ['patrol_rounds.id'], name=op.f('fk_patrol_hazards_round_id_patrol_rounds')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_patrol_hazards_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_hazards')),
    sa.UniqueConstraint('reported_by_id', 'client_id', name='uq_patrol_hazards_client')
    )
    with op.batch_alter_table('patrol_hazards', schema=None) as batch_op:
        batch_op.create_index('ix_patrol_hazards_site_status', ['site_id', 'status'], unique=False)

    op.create_table('patrol_scans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('checkpoint_id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('scanned_at', portal.core.types.UTCDateTime(), nullable=False),
    sa.Column('received_at', portal.core.types.UTCDateTime(), nullable=False),
    sa.Column('late', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['checkpoint_id'], ['patrol_checkpoints.id'], name=op.f('fk_patrol_scans_checkpoint_id_patrol_checkpoints')),
    sa.ForeignKeyConstraint(['round_id'], ['patrol_rounds.id'], name=op.f('fk_patrol_scans_round_id_patrol_rounds')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patrol_scans')),
    sa.UniqueConstraint('round_id', 'checkpoint_id', name='uq_patrol_scans_checkpoint'),
    sa.UniqueConstraint('round_id', 'client_id', name='uq_patrol_scans_client')
    )


def downgrade():
    op.drop_table('patrol_scans')
    with op.batch_alter_table('patrol_hazards', schema=None) as batch_op:
        batch_op.drop_index('ix_patrol_hazards_site_status')

    op.drop_table('patrol_hazards')
    op.drop_table('site_retention')
    op.drop_table('patrol_route_stops')
    with op.batch_alter_table('patrol_rounds', schema=None) as batch_op:
        batch_op.drop_index('ix_patrol_rounds_site_status')

    op.drop_table('patrol_rounds')
    with op.batch_alter_table('patrol_routes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patrol_routes_site_id'))

    op.drop_table('patrol_routes')
    with op.batch_alter_table('patrol_checkpoints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patrol_checkpoints_site_id'))

    op.drop_table('patrol_checkpoints')
