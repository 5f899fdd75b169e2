"""repayment schedules of advances and zero-rate loans: instalments, repayments, write-off (issue 4)

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('funding_lines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('repayment_frequency_months', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('repayment_deferral_months', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('written_off_amount', sa.Numeric(precision=14, scale=2), nullable=True))
        batch_op.create_check_constraint(
            'written_off_positive', 'written_off_amount IS NULL OR written_off_amount >= 0')
        batch_op.create_check_constraint(
            'repayment_frequency',
            'repayment_frequency_months IS NULL OR repayment_frequency_months IN (1, 3, 6, 12)')
        batch_op.create_check_constraint(
            'repayment_deferral_positive', 'repayment_deferral_months IS NULL OR repayment_deferral_months >= 0')

    op.create_table('repayment_instalments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('line_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_repayment_instalments_amount_positive')),
    sa.ForeignKeyConstraint(['line_id'], ['funding_lines.id'],
                            name=op.f('fk_repayment_instalments_line_id_funding_lines'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_repayment_instalments')),
    sa.UniqueConstraint('line_id', 'number', name='uq_repayment_instalments_line_number')
    )
    with op.batch_alter_table('repayment_instalments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_repayment_instalments_line_id'), ['line_id'], unique=False)

    op.create_table('repayments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('line_id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('repaid_on', sa.Date(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_repayments_amount_positive')),
    sa.ForeignKeyConstraint(['line_id'], ['funding_lines.id'], name=op.f('fk_repayments_line_id_funding_lines'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_repayments_recorded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_repayments'))
    )
    with op.batch_alter_table('repayments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_repayments_line_id'), ['line_id'], unique=False)


def downgrade():
    with op.batch_alter_table('repayments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_repayments_line_id'))
    op.drop_table('repayments')
    with op.batch_alter_table('repayment_instalments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_repayment_instalments_line_id'))
    op.drop_table('repayment_instalments')
    with op.batch_alter_table('funding_lines', schema=None) as batch_op:
        batch_op.drop_constraint('repayment_deferral_positive', type_='check')
        batch_op.drop_constraint('repayment_frequency', type_='check')
        batch_op.drop_constraint('written_off_positive', type_='check')
        batch_op.drop_column('written_off_amount')
        batch_op.drop_column('repayment_deferral_months')
        batch_op.drop_column('repayment_frequency_months')
