"""For tests only: lift the database's append-only guard on ``events`` for one transaction.

The application never changes or deletes an event; the database refuses it too (migration 0009).
Tests still need to do it: to play someone who edits the trail behind the application's back
(what ``verify-audit`` must report), to move events to known dates, and to empty the SQLite
database between tests. Statements go through the yielded connection (Core), which the session's
append-only listeners do not watch; everything else still is.
"""
from contextlib import contextmanager

from sqlalchemy import text

from atelier.extensions import db


@contextmanager
def rewriting_history():
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        # Transactional: the trigger is disabled for this transaction only, and a rollback re-enables it.
        connection.execute(text("ALTER TABLE events DISABLE TRIGGER events_append_only"))
        try:
            yield connection
        except BaseException:
            db.session.rollback()
            raise
        connection.execute(text("ALTER TABLE events ENABLE TRIGGER events_append_only"))
        return
    if not connection.connection.driver_connection.in_transaction:
        connection.exec_driver_sql("BEGIN")  # DDL would otherwise be committed at once, alone
    triggers = connection.execute(text(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'events'")).all()
    for name, _ in triggers:
        connection.execute(text(f'DROP TRIGGER "{name}"'))
    try:
        yield connection
    finally:
        # In the same transaction as the DROP: committed or rolled back together.
        for _, sql in triggers:
            connection.execute(text(sql.replace("CREATE TRIGGER", "CREATE TRIGGER IF NOT EXISTS", 1)))
