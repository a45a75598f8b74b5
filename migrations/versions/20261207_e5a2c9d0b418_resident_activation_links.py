"""residents' activation links (single-use, stored hashed) and the right to export full phone numbers

Revision ID: e5a2c9d0b418
Revises: f1b132b25ef9
Create Date: 2026-12-07 06:10:00

"""

import sqlalchemy as sa
from alembic import op

import portal.core.types

# revision identifiers, used by Alembic.
revision = "e5a2c9d0b418"
down_revision = "f1b132b25ef9"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "resident_activation_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", portal.core.types.UTCDateTime(), nullable=False),
        sa.Column("expires_at", portal.core.types.UTCDateTime(), nullable=False),
        sa.Column("used_at", portal.core.types.UTCDateTime(), nullable=True),
        sa.Column("revoked_at", portal.core.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_resident_activation_links_created_by_id_users")),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_resident_activation_links_site_id_sites")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_resident_activation_links_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resident_activation_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_resident_activation_links_token_hash")),
    )
    with op.batch_alter_table("resident_activation_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_resident_activation_links_site_id"), ["site_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_resident_activation_links_user_id"), ["user_id"], unique=False)
    op.create_table(
        "personal_data_export_rights",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("granted_by_id", sa.Integer(), nullable=True),
        sa.Column("granted_at", portal.core.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["granted_by_id"], ["users.id"], name=op.f("fk_personal_data_export_rights_granted_by_id_users")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_personal_data_export_rights_user_id_users")),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_personal_data_export_rights")),
    )


def downgrade():
    op.drop_table("personal_data_export_rights")
    with op.batch_alter_table("resident_activation_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resident_activation_links_user_id"))
        batch_op.drop_index(batch_op.f("ix_resident_activation_links_site_id"))
    op.drop_table("resident_activation_links")
