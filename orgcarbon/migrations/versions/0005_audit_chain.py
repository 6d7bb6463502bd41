"""audit chain: SM3 prev_hash / entry_hash on every audit entry, existing entries chained in id order

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 12:55:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('entry_hash', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_audit_entry_entry_hash'), ['entry_hash'], unique=False)

    # Chain the entries written before this version, oldest first, so `orgcarbon audit verify`
    # covers the whole trail from its first entry.
    from orgcarbon.security.audit_chain import GENESIS, entry_hash

    conn = op.get_bind()
    table = sa.table(
        'audit_entry', sa.column('id'), sa.column('occurred_at', sa.DateTime(timezone=True)),
        sa.column('user_id'), sa.column('username'), sa.column('ip'), sa.column('action'),
        sa.column('table_name'), sa.column('row_id'), sa.column('before', sa.JSON),
        sa.column('after', sa.JSON), sa.column('prev_hash'), sa.column('entry_hash'),
    )
    prev = GENESIS
    for row in conn.execute(sa.select(table).order_by(table.c.id)).mappings().all():
        digest = entry_hash(prev, row)
        conn.execute(table.update().where(table.c.id == row['id']).values(prev_hash=prev, entry_hash=digest))
        prev = digest


def downgrade():
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_entry_entry_hash'))
        batch_op.drop_column('entry_hash')
        batch_op.drop_column('prev_hash')
