"""search and dashboards (issue 7)

Full-text search of the dossiers on PostgreSQL (atelier/search/queries.py): a text search
configuration ``atelier_fr`` (French stemming, accents ignored through ``unaccent`` when the
extension can be installed, else plain ``french``) and two GIN expression indexes, on the project
(title and description) and on the company's name. The expressions here and in the queries must be
identical for the planner to use the indexes. SQLite searches with LIKE and needs nothing.
The dashboards need no schema change.

Revision ID: 0008
Revises: 0007
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

CASES_INDEX = 'ix_cases_search_fr'
COMPANIES_INDEX = 'ix_companies_search_fr'


def upgrade():
    connection = op.get_bind()
    if connection.dialect.name != 'postgresql':
        return
    has_unaccent = connection.execute(sa.text(
        "SELECT count(*) FROM pg_available_extensions WHERE name = 'unaccent'")).scalar()
    if has_unaccent:
        try:
            with connection.begin_nested():
                connection.execute(sa.text('CREATE EXTENSION IF NOT EXISTS unaccent'))
        except sa.exc.DBAPIError:  # not allowed to install it: French stemming without unaccent
            has_unaccent = 0
    op.execute('CREATE TEXT SEARCH CONFIGURATION atelier_fr (COPY = french)')
    if has_unaccent:
        op.execute('ALTER TEXT SEARCH CONFIGURATION atelier_fr '
                   'ALTER MAPPING FOR hword, hword_part, word WITH unaccent, french_stem')
    op.execute(f"CREATE INDEX {CASES_INDEX} ON cases USING gin "
               "(to_tsvector('atelier_fr'::regconfig, (title || ' ' || description)))")
    op.execute(f"CREATE INDEX {COMPANIES_INDEX} ON companies USING gin "
               "(to_tsvector('atelier_fr'::regconfig, name))")


def downgrade():
    connection = op.get_bind()
    if connection.dialect.name != 'postgresql':
        return
    op.execute(f'DROP INDEX IF EXISTS {COMPANIES_INDEX}')
    op.execute(f'DROP INDEX IF EXISTS {CASES_INDEX}')
    op.execute('DROP TEXT SEARCH CONFIGURATION IF EXISTS atelier_fr')
    # the unaccent extension is left installed: other objects may use it
