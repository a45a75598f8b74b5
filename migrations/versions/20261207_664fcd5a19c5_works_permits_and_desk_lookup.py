"""works permits, freight approvals, contractor approval, the desk's look-up indexes, complaints taken by staff

passes.status widens to 20 characters ("awaiting_approval"): the gate cache's triggers on passes name that
column, so they are dropped around the change and created again (PostgreSQL refuses to retype a column a
trigger names; SQLite's batch copy would drop them silently). visitor_phone_last4 is filled from the
encrypted phones of existing passes.

Revision ID: 664fcd5a19c5
Revises: e5a2c9d0b418
Create Date: 2026-12-07 05:47:27

"""

import sqlalchemy as sa
from alembic import op

import portal.core.types
from portal.gate import triggers

# revision identifiers, used by Alembic.
revision = "664fcd5a19c5"
down_revision = "e5a2c9d0b418"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "freight_approvals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("plate", sa.String(length=16), nullable=False),
        sa.Column("company", sa.String(length=120), nullable=False),
        sa.Column("purpose", sa.String(length=200), nullable=False),
        sa.Column("valid_from", portal.core.types.UTCDateTime(), nullable=False),
        sa.Column("valid_until", portal.core.types.UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("last_direction", sa.String(length=3), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", portal.core.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", portal.core.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_freight_approvals_created_by_id_users")),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_freight_approvals_site_id_sites")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_freight_approvals")),
    )
    with op.batch_alter_table("freight_approvals", schema=None) as batch_op:
        batch_op.create_index("ix_freight_site_plate", ["site_id", "plate", "valid_until"], unique=False)

    op.create_table(
        "permits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("applicant_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("company", sa.String(length=120), nullable=False),
        sa.Column("responsible_name", sa.String(length=64), nullable=False),
        sa.Column("responsible_phone", portal.core.types.EncryptedText(), nullable=True),
        sa.Column("work_area", sa.String(length=120), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("daily_start", sa.String(length=5), nullable=False),
        sa.Column("daily_end", sa.String(length=5), nullable=False),
        sa.Column("days", sa.JSON(), nullable=False),
        sa.Column("plates", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", portal.core.types.UTCDateTime(), nullable=True),
        sa.Column("decision_reason", sa.String(length=300), nullable=True),
        sa.Column("created_at", portal.core.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", portal.core.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["applicant_id"], ["users.id"], name=op.f("fk_permits_applicant_id_users")),
        sa.ForeignKeyConstraint(["decided_by_id"], ["users.id"], name=op.f("fk_permits_decided_by_id_users")),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], name=op.f("fk_permits_site_id_sites")),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_permits_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_permits")),
    )
    with op.batch_alter_table("permits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_permits_applicant_id"), ["applicant_id"], unique=False)
        batch_op.create_index("ix_permits_site_status", ["site_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_permits_unit_id"), ["unit_id"], unique=False)

    op.create_table(
        "permit_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("permit_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("content_type", sa.String(length=24), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("data", portal.core.types.EncryptedBytes(), nullable=False),
        sa.Column("created_at", portal.core.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["permit_id"], ["permits.id"], name=op.f("fk_permit_documents_permit_id_permits")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_permit_documents")),
    )
    with op.batch_alter_table("permit_documents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_permit_documents_permit_id"), ["permit_id"], unique=False)

    op.create_table(
        "permit_workers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("permit_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("phone", portal.core.types.EncryptedText(), nullable=True),
        sa.Column("id_number", portal.core.types.EncryptedText(), nullable=False),
        sa.Column("pass_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["pass_id"], ["passes.id"], name=op.f("fk_permit_workers_pass_id_passes")),
        sa.ForeignKeyConstraint(["permit_id"], ["permits.id"], name=op.f("fk_permit_workers_permit_id_permits")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_permit_workers")),
    )
    with op.batch_alter_table("permit_workers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_permit_workers_permit_id"), ["permit_id"], unique=False)

    with op.batch_alter_table("access_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_access_events_site_plate",
            ["site_id", "plate", "at"],
            unique=False,
            postgresql_where=sa.text("plate IS NOT NULL"),
            sqlite_where=sa.text("plate IS NOT NULL"),
        )

    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source", sa.String(length=8), server_default="resident", nullable=False))
        batch_op.add_column(sa.Column("filed_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_complaints_filed_by_id_users"), "users", ["filed_by_id"], ["id"])

    with op.batch_alter_table("item_movements", schema=None) as batch_op:
        batch_op.add_column(sa.Column("permit_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_item_movements_permit_id_permits"), "permits", ["permit_id"], ["id"])

    dialect = op.get_bind().dialect.name
    for statement in triggers.drop_statements(dialect, ["passes"], function=False):
        op.execute(statement)
    with op.batch_alter_table("passes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("visitor_phone_last4", sa.String(length=4), nullable=True))
        batch_op.add_column(sa.Column("permit_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("approved_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("approved_at", portal.core.types.UTCDateTime(), nullable=True))
        batch_op.alter_column("status", existing_type=sa.VARCHAR(length=16), type_=sa.String(length=20), existing_nullable=False)
        batch_op.create_index(batch_op.f("ix_passes_permit_id"), ["permit_id"], unique=False)
        batch_op.create_index(
            "ix_passes_site_name", ["site_id", "visitor_name"], unique=False, postgresql_ops={"visitor_name": "text_pattern_ops"}
        )
        batch_op.create_index("ix_passes_site_phone_last4", ["site_id", "visitor_phone_last4"], unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_passes_permit_id_permits"), "permits", ["permit_id"], ["id"])
        batch_op.create_foreign_key(batch_op.f("fk_passes_approved_by_id_users"), "users", ["approved_by_id"], ["id"])
    for statement in triggers.create_statements(dialect, ["passes"]):
        op.execute(statement)
    _fill_phone_last4()


def _fill_phone_last4():
    """The desk finds existing visitors by their phone's last four digits too (decrypted here, in batches)."""
    passes = sa.table(
        "passes",
        sa.column("id", sa.Integer()),
        sa.column("visitor_phone", portal.core.types.EncryptedText()),
        sa.column("visitor_phone_last4", sa.String(4)),
    )
    bind = op.get_bind()
    last = 0
    while True:
        rows = bind.execute(
            sa.select(passes.c.id, passes.c.visitor_phone)
            .where(passes.c.id > last, passes.c.visitor_phone.is_not(None))
            .order_by(passes.c.id)
            .limit(1000)
        ).all()
        if not rows:
            return
        bind.execute(
            passes.update().where(passes.c.id == sa.bindparam("pid")).values(visitor_phone_last4=sa.bindparam("last4")),
            [{"pid": r.id, "last4": (r.visitor_phone or "")[-4:] or None} for r in rows],
        )
        last = rows[-1].id


def downgrade():
    dialect = op.get_bind().dialect.name
    for statement in triggers.drop_statements(dialect, ["passes"], function=False):
        op.execute(statement)
    with op.batch_alter_table("passes", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_passes_approved_by_id_users"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_passes_permit_id_permits"), type_="foreignkey")
        batch_op.drop_index("ix_passes_site_phone_last4")
        batch_op.drop_index("ix_passes_site_name", postgresql_ops={"visitor_name": "text_pattern_ops"})
        batch_op.drop_index(batch_op.f("ix_passes_permit_id"))
        batch_op.alter_column("status", existing_type=sa.String(length=20), type_=sa.VARCHAR(length=16), existing_nullable=False)
        batch_op.drop_column("approved_at")
        batch_op.drop_column("approved_by_id")
        batch_op.drop_column("permit_id")
        batch_op.drop_column("visitor_phone_last4")
    for statement in triggers.create_statements(dialect, ["passes"]):
        op.execute(statement)

    with op.batch_alter_table("item_movements", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_item_movements_permit_id_permits"), type_="foreignkey")
        batch_op.drop_column("permit_id")

    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_complaints_filed_by_id_users"), type_="foreignkey")
        batch_op.drop_column("filed_by_id")
        batch_op.drop_column("source")

    with op.batch_alter_table("access_events", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_access_events_site_plate",
            postgresql_where=sa.text("plate IS NOT NULL"),
            sqlite_where=sa.text("plate IS NOT NULL"),
        )

    with op.batch_alter_table("permit_workers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_permit_workers_permit_id"))

    op.drop_table("permit_workers")
    with op.batch_alter_table("permit_documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_permit_documents_permit_id"))

    op.drop_table("permit_documents")
    with op.batch_alter_table("permits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_permits_unit_id"))
        batch_op.drop_index("ix_permits_site_status")
        batch_op.drop_index(batch_op.f("ix_permits_applicant_id"))

    op.drop_table("permits")
    with op.batch_alter_table("freight_approvals", schema=None) as batch_op:
        batch_op.drop_index("ix_freight_site_plate")

    op.drop_table("freight_approvals")
