"""financing plans and execution reports

A dossier's full financing plan (expenses by category, resources besides the lines asked here, the
explanation of a gap), its execution report (expenses really made), and on each scheme the expense
categories it funds and its maximum cumulated aid rate per company size.

Revision ID: 0013
Revises: 0012
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

CATEGORIES = "'tangible', 'intangible', 'property', 'recruitment', 'consulting', 'working_capital', 'other'"
SIZES = ("small", "medium", "large")


def upgrade():
    with op.batch_alter_table('schemes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('funded_categories', sa.JSON(), server_default='[]', nullable=False))
        for size in SIZES:
            batch_op.add_column(sa.Column(f'max_rate_{size}', sa.Numeric(precision=5, scale=4),
                                          nullable=True))
            batch_op.create_check_constraint(
                f'max_rate_{size}_range',
                f'max_rate_{size} IS NULL OR (max_rate_{size} > 0 AND max_rate_{size} <= 1)')

    op.create_table('financing_plans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('gap_explanation', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_financing_plans_case_id_cases'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_financing_plans')),
    sa.UniqueConstraint('case_id', name=op.f('uq_financing_plans_case_id'))
    )
    op.create_table('plan_expenses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=20), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_plan_expenses_amount_positive')),
    sa.CheckConstraint(f'category IN ({CATEGORIES})', name=op.f('ck_plan_expenses_category')),
    sa.ForeignKeyConstraint(['plan_id'], ['financing_plans.id'],
                            name=op.f('fk_plan_expenses_plan_id_financing_plans'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_expenses'))
    )
    with op.batch_alter_table('plan_expenses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_plan_expenses_plan_id'), ['plan_id'], unique=False)

    op.create_table('plan_resources',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=True),
    sa.CheckConstraint('amount > 0', name=op.f('ck_plan_resources_amount_positive')),
    sa.CheckConstraint("kind IN ('own_funds', 'bank_loan', 'public_aid', 'other')",
                       name=op.f('ck_plan_resources_kind')),
    sa.CheckConstraint("status IS NULL OR status IN ('obtained', 'requested')",
                       name=op.f('ck_plan_resources_status')),
    sa.CheckConstraint("kind <> 'public_aid' OR status IS NOT NULL",
                       name=op.f('ck_plan_resources_public_aid_status')),
    sa.ForeignKeyConstraint(['plan_id'], ['financing_plans.id'],
                            name=op.f('fk_plan_resources_plan_id_financing_plans'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_resources'))
    )
    with op.batch_alter_table('plan_resources', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_plan_resources_plan_id'), ['plan_id'], unique=False)

    op.create_table('execution_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('filed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('filed_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_execution_reports_case_id_cases'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['filed_by_id'], ['users.id'],
                            name=op.f('fk_execution_reports_filed_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_execution_reports')),
    sa.UniqueConstraint('case_id', name=op.f('uq_execution_reports_case_id'))
    )
    op.create_table('realised_expenses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=20), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_realised_expenses_amount_positive')),
    sa.CheckConstraint(f'category IN ({CATEGORIES})', name=op.f('ck_realised_expenses_category')),
    sa.ForeignKeyConstraint(['report_id'], ['execution_reports.id'],
                            name=op.f('fk_realised_expenses_report_id_execution_reports'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_realised_expenses'))
    )
    with op.batch_alter_table('realised_expenses', schema=None) as batch_op:
        batch_op.create_index('ix_realised_expenses_report_id', ['report_id'], unique=False)


def downgrade():
    op.drop_table('realised_expenses')
    op.drop_table('execution_reports')
    op.drop_table('plan_resources')
    op.drop_table('plan_expenses')
    op.drop_table('financing_plans')
    with op.batch_alter_table('schemes', schema=None) as batch_op:
        for size in reversed(SIZES):
            batch_op.drop_constraint(op.f(f'ck_schemes_max_rate_{size}_range'), type_='check')
            batch_op.drop_column(f'max_rate_{size}')
        batch_op.drop_column('funded_categories')
