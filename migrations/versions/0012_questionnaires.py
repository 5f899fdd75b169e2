"""questionnaires

Each scheme's questionnaire (a draft, and its published versions, which never change), the library of
standard questions (seeded here with the keys that never change), the answers of a dossier, the
version each funding line answers, and the "gestionnaire des dispositifs" flag of agents.

Revision ID: 0012
Revises: 0011
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

# The library as first published (a copy: atelier/questionnaires/library.py may grow later).
STANDARD_QUESTIONS = [
    {"key": "headcount_fte", "type": "integer", "label": "Effectif salarié en équivalents temps plein (ETP)",
     "help": "Au dernier exercice clos, arrondi à l'unité.", "bounds": {"min": 0, "max": 1000000}},
    {"key": "turnover_last_year", "type": "amount", "label": "Chiffre d'affaires du dernier exercice clos",
     "help": "Hors taxes, en euros.", "bounds": {}},
    {"key": "jobs_created_3y", "type": "integer", "label": "Emplois créés dans les trois ans",
     "help": "En équivalents temps plein, grâce au projet.", "bounds": {"min": 0, "max": 100000}},
    {"key": "jobs_maintained", "type": "integer", "label": "Emplois maintenus",
     "help": "En équivalents temps plein, que le projet permet de conserver.", "bounds": {"min": 0, "max": 1000000}},
    {"key": "company_creation_date", "type": "date", "label": "Date de création de l'entreprise",
     "help": "Telle qu'elle figure sur l'extrait Kbis.", "bounds": {}},
    {"key": "own_contribution", "type": "amount", "label": "Apport personnel du ou des fondateurs",
     "help": "Somme apportée au projet sur leurs fonds propres, en euros.", "bounds": {}},
]


def upgrade():
    op.create_table('standard_questions',
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('type', sa.String(length=20), nullable=False),
    sa.Column('label', sa.String(length=300), nullable=False),
    sa.Column('help', sa.Text(), nullable=False),
    sa.Column('bounds', sa.JSON(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_standard_questions'))
    )
    op.create_table('questionnaire_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scheme_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('structure', sa.JSON(), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['published_by_id'], ['users.id'], name=op.f('fk_questionnaire_versions_published_by_id_users')),
    sa.ForeignKeyConstraint(['scheme_id'], ['schemes.id'], name=op.f('fk_questionnaire_versions_scheme_id_schemes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_questionnaire_versions')),
    sa.UniqueConstraint('scheme_id', 'number', name='uq_questionnaire_versions_scheme_number')
    )
    with op.batch_alter_table('questionnaire_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_questionnaire_versions_scheme_id'), ['scheme_id'], unique=False)

    op.create_table('questionnaires',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scheme_id', sa.Integer(), nullable=False),
    sa.Column('structure', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['scheme_id'], ['schemes.id'], name=op.f('fk_questionnaires_scheme_id_schemes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_questionnaires')),
    sa.UniqueConstraint('scheme_id', name=op.f('uq_questionnaires_scheme_id'))
    )
    op.create_table('answers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('line_id', sa.Integer(), nullable=True),
    sa.Column('question_key', sa.String(length=40), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('value', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_answers_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['line_id'], ['funding_lines.id'], name=op.f('fk_answers_line_id_funding_lines'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['version_id'], ['questionnaire_versions.id'], name=op.f('fk_answers_version_id_questionnaire_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_answers')),
    sa.UniqueConstraint('case_id', 'line_id', 'question_key', name='uq_answers_case_line_key')
    )
    with op.batch_alter_table('answers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_answers_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_answers_line_id'), ['line_id'], unique=False)

    with op.batch_alter_table('funding_lines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('questionnaire_version_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_funding_lines_questionnaire_version', 'questionnaire_versions', ['questionnaire_version_id'], ['id'])

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_scheme_manager', sa.Boolean(), server_default='0', nullable=False))
        batch_op.create_check_constraint('scheme_manager_is_agent', "NOT is_scheme_manager OR role = 'agent'")

    standard_questions = sa.table(
        'standard_questions', sa.column('key', sa.String), sa.column('type', sa.String),
        sa.column('label', sa.String), sa.column('help', sa.Text), sa.column('bounds', sa.JSON),
        sa.column('position', sa.Integer))
    op.bulk_insert(standard_questions, [dict(item, position=position)
                                        for position, item in enumerate(STANDARD_QUESTIONS, start=1)])



def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint('scheme_manager_is_agent', type_='check')
        batch_op.drop_column('is_scheme_manager')

    with op.batch_alter_table('funding_lines', schema=None) as batch_op:
        batch_op.drop_constraint('fk_funding_lines_questionnaire_version', type_='foreignkey')
        batch_op.drop_column('questionnaire_version_id')

    with op.batch_alter_table('answers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_answers_line_id'))
        batch_op.drop_index(batch_op.f('ix_answers_case_id'))

    op.drop_table('answers')
    op.drop_table('questionnaires')
    with op.batch_alter_table('questionnaire_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_questionnaire_versions_scheme_id'))

    op.drop_table('questionnaire_versions')
    op.drop_table('standard_questions')
