"""account security and tamper-evident audit trail (issue 6)

Events get ``previous_hash`` and ``hash`` (a hash chain per dossier, see atelier/audit.py) and the
end of each chain is kept in ``audit_chain_heads``. Events that already exist are chained here, in
the order of their ids, so that ``flask verify-audit`` checks the whole history: what happened
before this migration is vouched for from the migration on, not before.

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa

import atelier.common


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('previous_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('hash', sa.String(length=64), nullable=True))

    op.create_table(
        'audit_chain_heads',
        sa.Column('case_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('last_hash', sa.String(length=64), nullable=False),
        sa.Column('event_count', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_audit_chain_heads_case_id_cases'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('case_id', name=op.f('pk_audit_chain_heads')),
    )

    _chain_existing_events()

    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.alter_column('previous_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint('uq_events_case_id_previous_hash', ['case_id', 'previous_hash'])


def _chain_existing_events():
    from atelier.audit import GENESIS, HASHED_FIELDS, chain_hash

    events = sa.table(
        'events', sa.column('id', sa.Integer), sa.column('case_id', sa.Integer),
        sa.column('line_id', sa.Integer), sa.column('actor_id', sa.Integer), sa.column('agency_id', sa.Integer),
        sa.column('entity', sa.String), sa.column('name', sa.String), sa.column('from_state', sa.String),
        sa.column('to_state', sa.String), sa.column('reason', sa.Text), sa.column('data', sa.JSON),
        sa.column('created_at', atelier.common.UTCDateTime()),
        sa.column('previous_hash', sa.String), sa.column('hash', sa.String))
    heads = sa.table('audit_chain_heads', sa.column('case_id', sa.Integer),
                     sa.column('last_hash', sa.String), sa.column('event_count', sa.Integer))
    connection = op.get_bind()
    rows = connection.execute(sa.select(events.c.id, *(events.c[f] for f in HASHED_FIELDS))
                              .order_by(events.c.case_id, events.c.id)).all()
    updates, chain_ends = [], {}
    for row in rows:
        previous, count = chain_ends.get(row.case_id, (GENESIS, 0))
        digest = chain_hash(row._mapping, previous)
        updates.append({'event_id': row.id, 'previous_hash': previous, 'hash': digest})
        chain_ends[row.case_id] = (digest, count + 1)
    if updates:
        connection.execute(events.update().where(events.c.id == sa.bindparam('event_id'))
                           .values(previous_hash=sa.bindparam('previous_hash'), hash=sa.bindparam('hash')),
                           updates)
        connection.execute(heads.insert(), [{'case_id': case_id, 'last_hash': digest, 'event_count': count}
                                            for case_id, (digest, count) in chain_ends.items()])


def downgrade():
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_constraint('uq_events_case_id_previous_hash', type_='unique')
        batch_op.drop_column('hash')
        batch_op.drop_column('previous_hash')
    op.drop_table('audit_chain_heads')
