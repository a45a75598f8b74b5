"""gate cache notifications name their schema: deployments sharing a database in schemas of their own keep their caches

Revision ID: b7e2d4c6a8f1
Revises: a9c3e5f7b1d2
Create Date: 2026-12-07 19:15:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'b7e2d4c6a8f1'
down_revision = 'a9c3e5f7b1d2'
branch_labels = None
depends_on = None

# The function as this revision makes it (not triggers.NOTIFY_FUNCTION, which may change later).
FUNCTION = (
    "CREATE OR REPLACE FUNCTION gate_cache_changed() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN PERFORM pg_notify('gate_cache', TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME); RETURN NULL; END $$"
)
BEFORE = (
    "CREATE OR REPLACE FUNCTION gate_cache_changed() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN PERFORM pg_notify('gate_cache', TG_TABLE_NAME); RETURN NULL; END $$"
)


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(BEFORE)
