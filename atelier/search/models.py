"""The full-text indexes of the search (created by migration 0008, on PostgreSQL only).

Declared here so that the models and the migrations agree (tests/test_migrations.py): ``ddl_if``
keeps them out of any other database, and Alembic does not compare expression indexes on SQLite.
The expressions must stay identical to those of ``search.queries`` for the planner to use them.
"""
from sqlalchemy import Index, func, literal_column

# The table is given: an index made only of expressions would not find it (literal_column first).

from ..cases.models import Case
from ..companies.models import Company

_CONFIG = literal_column("'atelier_fr'::regconfig")
_cases = Case.__table__.c
_companies = Company.__table__.c

CASES_SEARCH_INDEX = Index(
    "ix_cases_search_fr",
    func.to_tsvector(_CONFIG, _cases.title.op("||")(literal_column("' '")).op("||")(_cases.description)),
    postgresql_using="gin", _table=Case.__table__,
).ddl_if(dialect="postgresql")
COMPANIES_SEARCH_INDEX = Index(
    "ix_companies_search_fr", func.to_tsvector(_CONFIG, _companies.name), postgresql_using="gin",
    _table=Company.__table__,
).ddl_if(dialect="postgresql")
