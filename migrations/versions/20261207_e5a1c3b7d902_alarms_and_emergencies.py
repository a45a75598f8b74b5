"""door alarms from devices; emergencies and drills with each device's release/restore and the roll call

Revision ID: e5a1c3b7d902
Revises: 94045a8b7370
Create Date: 2026-12-07 06:00:00

"""
import sqlalchemy as sa
from alembic import op

import portal.core.types

# revision identifiers, used by Alembic.
revision = 'e5a1c3b7d902'
down_revision = '94045a8b7370'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'alarms',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('site_id', sa.Integer(), nullable=False),
        sa.Column('device_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('door', sa.Integer(), nullable=True),
        sa.Column('source_key', sa.String(length=64), nullable=True),
        sa.Column('details', sa.JSON(), nullable=False),
        sa.Column('repeats', sa.Integer(), nullable=False),
        sa.Column('raised_at', portal.core.types.UTCDateTime(), nullable=False),
        sa.Column('cleared_at', portal.core.types.UTCDateTime(), nullable=True),
        sa.Column('acknowledged_at', portal.core.types.UTCDateTime(), nullable=True),
        sa.Column('acknowledged_by_id', sa.Integer(), nullable=True),
        sa.Column('updated_at', portal.core.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['acknowledged_by_id'], ['users.id'], name=op.f('fk_alarms_acknowledged_by_id_users')),
        sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_alarms_device_id_devices')),
        sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_alarms_site_id_sites')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_alarms')),
        sa.UniqueConstraint('device_id', 'source_key', name=op.f('uq_alarms_device_id')),
    )
    with op.batch_alter_table('alarms', schema=None) as batch_op:
        batch_op.create_index('ix_alarms_site_open', ['site_id', 'acknowledged_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_alarms_device_id'), ['device_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_alarms_updated_at'), ['updated_at'], unique=False)

    op.create_table(
        'emergencies',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('site_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=12), nullable=False),
        sa.Column('reason', sa.String(length=200), nullable=False),
        sa.Column('started_by_id', sa.Integer(), nullable=True),
        sa.Column('started_at', portal.core.types.UTCDateTime(), nullable=False),
        sa.Column('released_at', portal.core.types.UTCDateTime(), nullable=True),
        sa.Column('roll_complete_at', portal.core.types.UTCDateTime(), nullable=True),
        sa.Column('ended_by_id', sa.Integer(), nullable=True),
        sa.Column('ended_at', portal.core.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['ended_by_id'], ['users.id'], name=op.f('fk_emergencies_ended_by_id_users')),
        sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_emergencies_site_id_sites')),
        sa.ForeignKeyConstraint(['started_by_id'], ['users.id'], name=op.f('fk_emergencies_started_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_emergencies')),
    )
    with op.batch_alter_table('emergencies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_emergencies_site_id'), ['site_id'], unique=False)
        batch_op.create_index(
            'uq_emergencies_site_running',
            ['site_id'],
            unique=True,
            sqlite_where=sa.text('ended_at IS NULL'),
            postgresql_where=sa.text('ended_at IS NULL'),
        )

    op.create_table(
        'emergency_devices',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('emergency_id', sa.Integer(), nullable=False),
        sa.Column('device_id', sa.Integer(), nullable=False),
        sa.Column('mode', sa.String(length=8), nullable=False),
        sa.Column('state', sa.String(length=10), nullable=False),
        sa.Column('error', sa.String(length=200), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('released_at', portal.core.types.UTCDateTime(), nullable=True),
        sa.Column('restored_at', portal.core.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_emergency_devices_device_id_devices')),
        sa.ForeignKeyConstraint(['emergency_id'], ['emergencies.id'], name=op.f('fk_emergency_devices_emergency_id_emergencies')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_emergency_devices')),
        sa.UniqueConstraint('emergency_id', 'device_id', name=op.f('uq_emergency_devices_emergency_id')),
    )
    with op.batch_alter_table('emergency_devices', schema=None) as batch_op:
        batch_op.create_index('ix_emergency_devices_due', ['state', 'device_id'], unique=False)

    op.create_table(
        'roll_call_entries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('emergency_id', sa.Integer(), nullable=False),
        sa.Column('pass_id', sa.Integer(), nullable=True),
        sa.Column('visitor_name', sa.String(length=120), nullable=False),
        sa.Column('pass_kind', sa.String(length=16), nullable=False),
        sa.Column('building', sa.String(length=80), nullable=True),
        sa.Column('unit', sa.String(length=80), nullable=True),
        sa.Column('sms_sent', sa.Boolean(), nullable=False),
        sa.Column('accounted_at', portal.core.types.UTCDateTime(), nullable=True),
        sa.Column('accounted_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['accounted_by_id'], ['users.id'], name=op.f('fk_roll_call_entries_accounted_by_id_users')),
        sa.ForeignKeyConstraint(['emergency_id'], ['emergencies.id'], name=op.f('fk_roll_call_entries_emergency_id_emergencies')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_roll_call_entries')),
        sa.UniqueConstraint('emergency_id', 'pass_id', name=op.f('uq_roll_call_entries_emergency_id')),
    )
    with op.batch_alter_table('roll_call_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_roll_call_entries_emergency_id'), ['emergency_id'], unique=False)


def downgrade():
    op.drop_table('roll_call_entries')
    op.drop_table('emergency_devices')
    op.drop_table('emergencies')
    op.drop_table('alarms')
