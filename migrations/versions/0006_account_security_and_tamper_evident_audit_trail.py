"""account security and tamper-evident audit trail (issue 6)

Revision ID: 0006
Revises: 0005
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    pass  # reserved so that work in parallel keeps one linear chain


def downgrade():
    pass
