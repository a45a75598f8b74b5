"""access events without foreign keys: an append-only log whose parents are never deleted; each insert skips a lookup and row lock per parent

Revision ID: 9c21b9f42349
Revises: 970e4225b7fb
Create Date: 2026-11-25 17:04:50.250327

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '9c21b9f42349'
down_revision = '970e4225b7fb'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('access_events', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_access_events_device_id_devices'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_access_events_site_id_sites'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_access_events_gate_id_gates'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_access_events_actor_id_users'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_access_events_pass_id_passes'), type_='foreignkey')


def downgrade():
    with op.batch_alter_table('access_events', schema=None) as batch_op:
        batch_op.create_foreign_key(batch_op.f('fk_access_events_pass_id_passes'), 'passes', ['pass_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_access_events_actor_id_users'), 'users', ['actor_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_access_events_gate_id_gates'), 'gates', ['gate_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_access_events_site_id_sites'), 'sites', ['site_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_access_events_device_id_devices'), 'devices', ['device_id'], ['id'])
