"""staff enrolment links (single-use, stored hashed, holding the pending TOTP secret) and recovery codes

Revision ID: d3f6a81c5e27
Revises: b7e4d19a2c60
Create Date: 2026-12-07 04:30:00

"""
import sqlalchemy as sa
from alembic import op

import portal.core.types

# revision identifiers, used by Alembic.
revision = 'd3f6a81c5e27'
down_revision = 'b7e4d19a2c60'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'staff_enrol_links',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('purpose', sa.String(length=8), nullable=False),
        sa.Column('totp_secret', portal.core.types.EncryptedText(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', portal.core.types.UTCDateTime(), nullable=False),
        sa.Column('expires_at', portal.core.types.UTCDateTime(), nullable=False),
        sa.Column('used_at', portal.core.types.UTCDateTime(), nullable=True),
        sa.Column('revoked_at', portal.core.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_staff_enrol_links_created_by_id_users')),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_staff_enrol_links_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_enrol_links')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_staff_enrol_links_token_hash')),
    )
    with op.batch_alter_table('staff_enrol_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_enrol_links_user_id'), ['user_id'], unique=False)
    op.create_table(
        'recovery_codes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', portal.core.types.UTCDateTime(), nullable=False),
        sa.Column('used_at', portal.core.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_recovery_codes_user_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_recovery_codes')),
        sa.UniqueConstraint('code_hash', name=op.f('uq_recovery_codes_code_hash')),
    )
    with op.batch_alter_table('recovery_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recovery_codes_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('recovery_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recovery_codes_user_id'))
    op.drop_table('recovery_codes')
    with op.batch_alter_table('staff_enrol_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_enrol_links_user_id'))
    op.drop_table('staff_enrol_links')
