"""events are append-only

The audit trail is written once: the database itself refuses to UPDATE or DELETE a row of
``events``, whatever program sends the statement (the application refuses it earlier, in
atelier/audit.py). PostgreSQL: one trigger function raising a French message, fired before each
row updated or deleted. SQLite: two triggers with ``RAISE(ABORT, …)``. A trigger fires on the rows
that a foreign key cascade deletes as well, so a dossier that has events cannot be deleted either.

TRUNCATE fires no row trigger: emptying the whole table stays possible for its owner (the tests
empty the database this way between tests).

Revision ID: 0009
Revises: 0008
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

REFUSED = ("L''historique des dossiers est en ajout seul : un événement enregistré ne peut pas "
           "être")  # then "modifié" or "supprimé"; quotes doubled: the text of an SQL string literal

POSTGRESQL_UPGRADE = [
    f"""
    CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '{REFUSED} % (événement n° %).',
            CASE TG_OP WHEN 'UPDATE' THEN 'modifié' ELSE 'supprimé' END, OLD.id;
    END
    $$
    """,
    "CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events "
    "FOR EACH ROW EXECUTE FUNCTION events_append_only()",
]
POSTGRESQL_DOWNGRADE = [
    "DROP TRIGGER IF EXISTS events_append_only ON events",
    "DROP FUNCTION IF EXISTS events_append_only()",
]
SQLITE_UPGRADE = [
    f"CREATE TRIGGER events_no_update BEFORE UPDATE ON events "
    f"BEGIN SELECT RAISE(ABORT, '{REFUSED} modifié.'); END",
    f"CREATE TRIGGER events_no_delete BEFORE DELETE ON events "
    f"BEGIN SELECT RAISE(ABORT, '{REFUSED} supprimé.'); END",
]
SQLITE_DOWNGRADE = [
    "DROP TRIGGER IF EXISTS events_no_update",
    "DROP TRIGGER IF EXISTS events_no_delete",
]


def _run(statements):
    for statement in statements:
        op.execute(statement)


def upgrade():
    dialect = op.get_bind().dialect.name
    if dialect == 'postgresql':
        _run(POSTGRESQL_UPGRADE)
    elif dialect == 'sqlite':
        _run(SQLITE_UPGRADE)


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == 'postgresql':
        _run(POSTGRESQL_DOWNGRADE)
    elif dialect == 'sqlite':
        _run(SQLITE_DOWNGRADE)
