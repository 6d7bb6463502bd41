"""staging partitions: st_partition marks a plant × month cleaned / promoted through an id

The bulk pipeline records "cleaned through id N" and "promoted through id N" once per plant ×
month instead of rewriting the status (and activity link) of every staged reading
(docs/scaling-storage.md). Stored statuses other than ``new`` still win over the marks.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-25 21:10:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'st_partition',
        sa.Column('organization_id', sa.Integer(), nullable=False),
        sa.Column('month', sa.String(length=7), nullable=False),
        sa.Column('cleaned_through_id', sa.Integer(), nullable=True),
        sa.Column('promoted_through_id', sa.Integer(), nullable=True),
        sa.Column('cleaned_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('promoted_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('organization_id', 'month', name='pk_st_partition'),
    )


def downgrade():
    # The marks become per-row statuses again, so that nothing cleaned or promoted reads as new.
    op.execute("UPDATE st_row SET status = 'promoted', activity_id = (SELECT min(a.id) FROM mm_activity a "
               "WHERE a.source = 'staging' AND a.organization_id = st_row.organization_id "
               "AND a.subprocess_id = st_row.subprocess_id AND a.material_id = st_row.material_id "
               "AND a.month = st_row.month) WHERE status = 'new' AND EXISTS (SELECT 1 FROM st_partition p "
               "WHERE p.organization_id = st_row.organization_id AND p.month = st_row.month "
               "AND st_row.id <= p.promoted_through_id)")
    op.execute("UPDATE st_row SET status = 'cleaned' WHERE status = 'new' AND EXISTS (SELECT 1 FROM st_partition p "
               "WHERE p.organization_id = st_row.organization_id AND p.month = st_row.month "
               "AND st_row.id <= p.cleaned_through_id)")
    op.drop_table('st_partition')
