"""facility: ix_facility_cell also holds each facility's version, so the nearby prefilter answers which version
of a facility it found (the item cache's key) from the index alone, without a second read by primary key

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07 10:20:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('facility', schema=None) as batch_op:
        batch_op.drop_index('ix_facility_cell')
        batch_op.create_index('ix_facility_cell', ['cell', 'lat', 'lng', 'status', 'category_code', 'id', 'version'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('facility', schema=None) as batch_op:
        batch_op.drop_index('ix_facility_cell')
        batch_op.create_index('ix_facility_cell', ['cell', 'lat', 'lng', 'status', 'category_code', 'id'],
                              unique=False)
