"""lean staging: st_row without per-row foreign keys or unused indexes; st_batch keeps API batch bodies

st_row: no foreign keys on the ids the staging writer fills for every row (a PostgreSQL trigger on
each parent still refuses to delete a referenced row), no indexes that no query uses, partial
indexes for the connector and activity look-ups, request_id as long as an idempotency key (128).
st_batch keeps each accepted API batch's body once instead of a JSON copy per row
(docs/scaling-storage.md).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25 17:20:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

# The ids the staging writer fills for every row: their foreign keys cost a referential check (a
# look-up and a row lock of the parent) per row and id. Column → referred table.
UNCHECKED = {
    'organization_id': 'mm_organization',
    'subprocess_id': 'mm_subprocess',
    'material_id': 'mm_material',
    'api_client_id': 'cn_api_client',
    'connector_id': 'cn_connector',
}
# Indexes no query uses (or replaced by a partial index below).
UNUSED = ('ix_st_row_api_client_id', 'ix_st_row_batch_id', 'ix_st_row_connector_id',
          'ix_st_row_import_id', 'ix_st_row_status')
# SQLite: 0007 created the foreign keys without names; reflection gives them these.
NAMING = {'fk': 'fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s'}

# PostgreSQL keeps refusing to delete a parent that staged rows still name, as the foreign keys
# did (same SQLSTATE 23503), checked once per deleted parent instead of once per inserted row.
# SQLite never enforced st_row's foreign keys (no PRAGMA foreign_keys), so nothing changes there.


def _guard_sql(column: str, table: str) -> str:
    # One statement per column so that the planner sees a plain ``column = id`` (index when there is one).
    return f"""
CREATE FUNCTION st_row_guard_{column}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM st_row WHERE {column} = OLD.id) THEN
        RAISE EXCEPTION '暂存数据（st_row.{column}）仍引用 {table}.id=%，不能删除', OLD.id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN OLD;
END $$;
CREATE TRIGGER st_row_guard_{column} BEFORE DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION st_row_guard_{column}();
"""


def _foreign_key_names() -> dict[str, str]:
    """Constrained column → name of st_row's foreign key (the convention's name where unnamed)."""
    names = {}
    for fk in sa.inspect(op.get_bind()).get_foreign_keys('st_row'):
        column = fk['constrained_columns'][0]
        names[column] = fk['name'] or f"fk_st_row_{column}_{fk['referred_table']}"
    return names


def upgrade():
    names = _foreign_key_names()
    with op.batch_alter_table('st_row', schema=None, naming_convention=NAMING) as batch_op:
        for column in UNCHECKED:
            if column in names:
                batch_op.drop_constraint(names[column], type_='foreignkey')
        for index in UNUSED:
            batch_op.drop_index(index)
        batch_op.alter_column('request_id', existing_type=sa.String(length=64), type_=sa.String(length=128),
                              existing_nullable=True)
        batch_op.create_index('ix_st_row_activity', ['activity_id'], unique=False,
                              postgresql_where=sa.text('activity_id IS NOT NULL'),
                              sqlite_where=sa.text('activity_id IS NOT NULL'))
        batch_op.create_index('ix_st_row_connector', ['connector_id'], unique=False,
                              postgresql_where=sa.text('connector_id IS NOT NULL'),
                              sqlite_where=sa.text('connector_id IS NOT NULL'))

    op.create_table('st_batch',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('batch_id', sa.String(length=64), nullable=False),
    sa.Column('api_client_id', sa.Integer(), nullable=True),
    sa.Column('request_id', sa.String(length=128), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('body_sm3', sa.String(length=64), nullable=False),
    sa.Column('encoding', sa.String(length=16), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['api_client_id'], ['cn_api_client.id'], name='fk_st_batch_api_client_id_cn_api_client'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('st_batch', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_st_batch_batch_id'), ['batch_id'], unique=False)

    if op.get_bind().dialect.name == 'postgresql':
        for column, table in UNCHECKED.items():
            op.execute(_guard_sql(column, table))


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        for column, table in UNCHECKED.items():
            op.execute(f'DROP TRIGGER IF EXISTS st_row_guard_{column} ON {table}')
            op.execute(f'DROP FUNCTION IF EXISTS st_row_guard_{column}()')

    with op.batch_alter_table('st_batch', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_st_batch_batch_id'))
    op.drop_table('st_batch')

    postgresql = op.get_bind().dialect.name == 'postgresql'
    with op.batch_alter_table('st_row', schema=None, naming_convention=NAMING) as batch_op:
        batch_op.drop_index('ix_st_row_connector')
        batch_op.drop_index('ix_st_row_activity')
        # Fails (rather than cutting keys) if rows staged meanwhile carry keys over 64 characters.
        batch_op.alter_column('request_id', existing_type=sa.String(length=128), type_=sa.String(length=64),
                              existing_nullable=True)
        batch_op.create_index('ix_st_row_status', ['status'], unique=False)
        batch_op.create_index('ix_st_row_import_id', ['import_id'], unique=False)
        batch_op.create_index('ix_st_row_connector_id', ['connector_id'], unique=False)
        batch_op.create_index('ix_st_row_batch_id', ['batch_id'], unique=False)
        batch_op.create_index('ix_st_row_api_client_id', ['api_client_id'], unique=False)
        for column, table in UNCHECKED.items():
            name = f'st_row_{column}_fkey' if postgresql else f'fk_st_row_{column}_{table}'
            batch_op.create_foreign_key(name, table, [column], ['id'])
