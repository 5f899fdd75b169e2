"""scheme eligibility rules: eligible sizes, eligible départements, excluded NAF (empty = no restriction)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 19:53:09.218157

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    # Batch mode (SQLite rebuilds the table); the server default gives existing schemes no restriction.
    with op.batch_alter_table('schemes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('eligible_sizes', sa.JSON(), server_default='[]', nullable=False))
        batch_op.add_column(sa.Column('eligible_departements', sa.JSON(), server_default='[]', nullable=False))
        batch_op.add_column(sa.Column('excluded_naf', sa.JSON(), server_default='[]', nullable=False))


def downgrade():
    with op.batch_alter_table('schemes', schema=None) as batch_op:
        batch_op.drop_column('excluded_naf')
        batch_op.drop_column('eligible_departements')
        batch_op.drop_column('eligible_sizes')
