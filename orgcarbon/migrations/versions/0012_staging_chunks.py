"""staging column chunks: st_chunk holds each batch's columns per plant × month for bulk cleaning

The staging writer stores, beside the rows it COPYs, their columns as one uncompressed bytea per
plant × month of the batch (collection/chunks.py). PostgreSQL triggers keep track of when the
chunks may no longer match the rows: an UPDATE or DELETE of st_row raises the touched partitions'
``unchunked_through_id``; an INSERT that does not come from the writer raises
``st_chunk_state.unchunked_through_id``. Chunks at or below a mark can no longer be read and are
deleted by the same trigger (and by ``mark_cleaned`` at the cleaned mark). Rows staged before this migration have no chunks: the
state starts at their highest id. SQLite gets the tables (the writer does not fill them there).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 07:40:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

# Raise the marks of the partitions a statement touched (ordered, so that two statements lock
# partition rows in the same order) and delete the chunks no window can read any more (a window
# reads chunks only from above the mark). Rows without organisation or month belong to no partition.
_RAISE = """
    WITH touched AS (
        SELECT organization_id, month, max(id) AS through_id FROM ({rows}) AS t
        WHERE organization_id IS NOT NULL AND month IS NOT NULL GROUP BY organization_id, month),
    marked AS (
        INSERT INTO st_partition (organization_id, month, unchunked_through_id)
        SELECT organization_id, month, through_id FROM touched ORDER BY organization_id, month
        ON CONFLICT (organization_id, month) DO UPDATE
            SET unchunked_through_id = greatest(st_partition.unchunked_through_id, excluded.unchunked_through_id)
        RETURNING organization_id, month, unchunked_through_id)
    DELETE FROM st_chunk c USING marked m
    WHERE c.organization_id = m.organization_id AND c.month = m.month AND c.last_id <= m.unchunked_through_id;
"""

TRIGGERS = f"""
CREATE FUNCTION st_row_unchunked_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {_RAISE.format(rows="SELECT organization_id, month, id FROM st_row_old UNION ALL "
                        "SELECT organization_id, month, id FROM st_row_new")}
    RETURN NULL;
END $$;
CREATE TRIGGER st_row_unchunked_update AFTER UPDATE ON st_row
    REFERENCING OLD TABLE AS st_row_old NEW TABLE AS st_row_new
    FOR EACH STATEMENT EXECUTE FUNCTION st_row_unchunked_update();

CREATE FUNCTION st_row_unchunked_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {_RAISE.format(rows="SELECT organization_id, month, id FROM st_row_old")}
    RETURN NULL;
END $$;
CREATE TRIGGER st_row_unchunked_delete AFTER DELETE ON st_row
    REFERENCING OLD TABLE AS st_row_old
    FOR EACH STATEMENT EXECUTE FUNCTION st_row_unchunked_delete();

CREATE FUNCTION st_row_unchunked_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    mark integer;
BEGIN
    IF coalesce(current_setting('orgcarbon.chunked', true), '') <> 'on' THEN
        UPDATE st_chunk_state SET unchunked_through_id = greatest(unchunked_through_id, (SELECT max(id) FROM st_row))
        RETURNING unchunked_through_id INTO mark;
        DELETE FROM st_chunk WHERE last_id <= mark;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER st_row_unchunked_insert AFTER INSERT ON st_row
    FOR EACH STATEMENT EXECUTE FUNCTION st_row_unchunked_insert();

-- Emptying st_chunk by hand must not make staged rows invisible to cleaning: every window below
-- the highest staged id reads the rows instead.
CREATE FUNCTION st_chunk_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE st_chunk_state SET unchunked_through_id =
        greatest(unchunked_through_id, (SELECT coalesce(max(id), 0) FROM st_row));
    RETURN NULL;
END $$;
CREATE TRIGGER st_chunk_truncated AFTER TRUNCATE ON st_chunk
    FOR EACH STATEMENT EXECUTE FUNCTION st_chunk_truncated();

ALTER TABLE st_chunk ALTER COLUMN data SET STORAGE EXTERNAL;
"""


def upgrade():
    op.create_table(
        'st_chunk',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('organization_id', sa.Integer(), nullable=False),
        sa.Column('month', sa.String(length=7), nullable=False),
        sa.Column('first_id', sa.Integer(), nullable=False),
        sa.Column('last_id', sa.Integer(), nullable=False),
        sa.Column('rows', sa.Integer(), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('id', name='pk_st_chunk'),
    )
    op.create_index('ix_st_chunk_partition', 'st_chunk', ['organization_id', 'month', 'last_id'])
    op.create_table(
        'st_chunk_state',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('unchunked_through_id', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id', name='pk_st_chunk_state'),
    )
    op.add_column('st_partition', sa.Column('unchunked_through_id', sa.Integer(), nullable=True))
    op.execute("INSERT INTO st_chunk_state (id, unchunked_through_id) SELECT 1, coalesce(max(id), 0) FROM st_row")
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(TRIGGERS)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        for name in ('update', 'delete', 'insert'):
            op.execute(f'DROP TRIGGER IF EXISTS st_row_unchunked_{name} ON st_row')
            op.execute(f'DROP FUNCTION IF EXISTS st_row_unchunked_{name}()')
        op.execute('DROP TRIGGER IF EXISTS st_chunk_truncated ON st_chunk')
        op.execute('DROP FUNCTION IF EXISTS st_chunk_truncated()')
    with op.batch_alter_table('st_partition') as batch:
        batch.drop_column('unchunked_through_id')
    op.drop_table('st_chunk_state')
    op.drop_index('ix_st_chunk_partition', table_name='st_chunk')
    op.drop_table('st_chunk')
