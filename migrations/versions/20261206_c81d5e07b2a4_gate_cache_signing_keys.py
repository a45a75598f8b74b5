"""gate cache watches signing keys: a retired key stops verifying in every worker at once, not after the 30 s key reload

Revision ID: c81d5e07b2a4
Revises: a4f0c7d2e913
Create Date: 2026-12-07 00:35:00

"""
from alembic import op

from portal.gate import triggers

# revision identifiers, used by Alembic.
revision = 'c81d5e07b2a4'
down_revision = 'a4f0c7d2e913'
branch_labels = None
depends_on = None
TABLES = ("signing_keys",)


def upgrade():
    for statement in triggers.create_statements(op.get_bind().dialect.name, TABLES):
        op.execute(statement)


def downgrade():
    for statement in triggers.drop_statements(op.get_bind().dialect.name, TABLES, function=False):
        op.execute(statement)
