"""devices and buildings get an English name, shown on English pages like sites' and gates'

Revision ID: 5e2a9c71d4b3
Revises: c81d5e07b2a4
Create Date: 2026-12-07 03:20:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '5e2a9c71d4b3'
down_revision = 'c81d5e07b2a4'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMN (no batch copy): SQLite keeps the gate cache's triggers on devices.
    op.add_column('devices', sa.Column('name_en', sa.String(length=80), nullable=True))
    op.add_column('buildings', sa.Column('name_en', sa.String(length=80), nullable=True))


def downgrade():
    # ALTER TABLE … DROP COLUMN (SQLite 3.35+, PostgreSQL) rather than a batch copy, for the same reason.
    op.execute('ALTER TABLE buildings DROP COLUMN name_en')
    op.execute('ALTER TABLE devices DROP COLUMN name_en')
