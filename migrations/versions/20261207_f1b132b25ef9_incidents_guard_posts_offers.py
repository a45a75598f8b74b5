"""incidents (timeline, people, photos, escalation steps), guards' posts on shift and offers to the nearest guards

Revision ID: f1b132b25ef9
Revises: d3f6a81c5e27
Create Date: 2026-12-07 05:46:10

"""
import sqlalchemy as sa
from alembic import op

import portal.core.types


# revision identifiers, used by Alembic.
revision = 'f1b132b25ef9'
down_revision = 'd3f6a81c5e27'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('guard_offers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=8), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('building_id', sa.Integer(), nullable=True),
    sa.Column('guard_id', sa.Integer(), nullable=False),
    sa.Column('wave', sa.Integer(), nullable=False),
    sa.Column('offered_at', portal.core.types.UTCDateTime(), nullable=False),
    sa.Column('answered_at', portal.core.types.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['building_id'], ['buildings.id'], name=op.f('fk_guard_offers_building_id_buildings')),
    sa.ForeignKeyConstraint(['guard_id'], ['users.id'], name=op.f('fk_guard_offers_guard_id_users')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_guard_offers_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_guard_offers')),
    sa.UniqueConstraint('subject', 'subject_id', 'guard_id', name='uq_guard_offers_subject_guard')
    )
    with op.batch_alter_table('guard_offers', schema=None) as batch_op:
        batch_op.create_index('ix_guard_offers_open', ['site_id', 'answered_at'], unique=False)

    op.create_table('guard_posts',
    sa.Column('shift_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('guard_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('building_id', sa.Integer(), nullable=True),
    sa.Column('gate_id', sa.Integer(), nullable=True),
    sa.Column('set_at', portal.core.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['building_id'], ['buildings.id'], name=op.f('fk_guard_posts_building_id_buildings')),
    sa.ForeignKeyConstraint(['gate_id'], ['gates.id'], name=op.f('fk_guard_posts_gate_id_gates')),
    sa.ForeignKeyConstraint(['guard_id'], ['users.id'], name=op.f('fk_guard_posts_guard_id_users')),
    sa.ForeignKeyConstraint(['shift_id'], ['desk_shifts.id'], name=op.f('fk_guard_posts_shift_id_desk_shifts')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_guard_posts_site_id_sites')),
    sa.PrimaryKeyConstraint('shift_id', name=op.f('pk_guard_posts'))
    )
    with op.batch_alter_table('guard_posts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_guard_posts_site_id'), ['site_id'], unique=False)

    op.create_table('incidents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('severity', sa.String(length=8), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('location', sa.String(length=120), nullable=False),
    sa.Column('building_id', sa.Integer(), nullable=True),
    sa.Column('device_id', sa.Integer(), nullable=True),
    sa.Column('alarm_id', sa.Integer(), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('reported_by_id', sa.Integer(), nullable=True),
    sa.Column('reported_at', portal.core.types.UTCDateTime(), nullable=False),
    sa.Column('acknowledged_at', portal.core.types.UTCDateTime(), nullable=True),
    sa.Column('acknowledged_by_id', sa.Integer(), nullable=True),
    sa.Column('on_scene_at', portal.core.types.UTCDateTime(), nullable=True),
    sa.Column('on_scene_by_id', sa.Integer(), nullable=True),
    sa.Column('resolved_at', portal.core.types.UTCDateTime(), nullable=True),
    sa.Column('resolved_by_id', sa.Integer(), nullable=True),
    sa.Column('closing_report', sa.Text(), nullable=True),
    sa.Column('created_at', portal.core.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', portal.core.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['acknowledged_by_id'], ['users.id'], name=op.f('fk_incidents_acknowledged_by_id_users')),
    sa.ForeignKeyConstraint(['building_id'], ['buildings.id'], name=op.f('fk_incidents_building_id_buildings')),
    sa.ForeignKeyConstraint(['device_id'], ['devices.id'], name=op.f('fk_incidents_device_id_devices')),
    sa.ForeignKeyConstraint(['on_scene_by_id'], ['users.id'], name=op.f('fk_incidents_on_scene_by_id_users')),
    sa.ForeignKeyConstraint(['reported_by_id'], ['users.id'], name=op.f('fk_incidents_reported_by_id_users')),
    sa.ForeignKeyConstraint(['resolved_by_id'], ['users.id'], name=op.f('fk_incidents_resolved_by_id_users')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_incidents_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incidents'))
    )
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.create_index('ix_incidents_site_reported', ['site_id', 'reported_at'], unique=False)
        batch_op.create_index('ix_incidents_site_status', ['site_id', 'status'], unique=False)

    op.create_table('incident_assignees',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('assigned_by_id', sa.Integer(), nullable=True),
    sa.Column('assigned_at', portal.core.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['assigned_by_id'], ['users.id'], name=op.f('fk_incident_assignees_assigned_by_id_users')),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_incident_assignees_incident_id_incidents')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_incident_assignees_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_assignees')),
    sa.UniqueConstraint('incident_id', 'user_id', name='uq_incident_assignees')
    )
    op.create_table('incident_escalations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('step', sa.Integer(), nullable=False),
    sa.Column('notified', sa.JSON(), nullable=False),
    sa.Column('created_at', portal.core.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_incident_escalations_incident_id_incidents')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_incident_escalations_site_id_sites')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_escalations')),
    sa.UniqueConstraint('incident_id', 'step', name='uq_incident_escalations_step')
    )
    with op.batch_alter_table('incident_escalations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incident_escalations_site_id'), ['site_id'], unique=False)

    op.create_table('incident_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('at', portal.core.types.UTCDateTime(), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_incident_events_actor_id_users')),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_incident_events_incident_id_incidents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_events'))
    )
    with op.batch_alter_table('incident_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incident_events_incident_id'), ['incident_id'], unique=False)

    op.create_table('incident_photos',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('content_type', sa.String(length=16), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('data', portal.core.types.EncryptedBytes(), nullable=False),
    sa.Column('added_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', portal.core.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['added_by_id'], ['users.id'], name=op.f('fk_incident_photos_added_by_id_users')),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_incident_photos_incident_id_incidents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_photos'))
    )
    with op.batch_alter_table('incident_photos', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incident_photos_incident_id'), ['incident_id'], unique=False)



def downgrade():
    with op.batch_alter_table('incident_photos', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incident_photos_incident_id'))

    op.drop_table('incident_photos')
    with op.batch_alter_table('incident_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incident_events_incident_id'))

    op.drop_table('incident_events')
    with op.batch_alter_table('incident_escalations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incident_escalations_site_id'))

    op.drop_table('incident_escalations')
    op.drop_table('incident_assignees')
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_index('ix_incidents_site_status')
        batch_op.drop_index('ix_incidents_site_reported')

    op.drop_table('incidents')
    with op.batch_alter_table('guard_posts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_guard_posts_site_id'))

    op.drop_table('guard_posts')
    with op.batch_alter_table('guard_offers', schema=None) as batch_op:
        batch_op.drop_index('ix_guard_offers_open')

    op.drop_table('guard_offers')
