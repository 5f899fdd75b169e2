"""The schema only ever changes through a migration: the migrated database matches the models."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from atelier.extensions import db


def test_migrations_match_the_models(app):
    with db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), db.metadata)
    assert differences == []
