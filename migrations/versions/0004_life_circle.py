"""life circle

The 15-minute community life circle: facilities (GCJ-02 coordinates with a grid
cell for the nearby prefilter, opening hours as JSON, a stable external id for
idempotent imports) and the imported table of precomputed estate → facility
network walking distances.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 19:24:06.700971

"""
from alembic import op
import sqlalchemy as sa
import models.base


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('facility',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=True),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('category_code', sa.String(length=32), nullable=False),
    sa.Column('subtype', sa.String(length=48), nullable=True),
    sa.Column('address', sa.String(length=200), nullable=True),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('lng', sa.Float(), nullable=False),
    sa.Column('coord_source', sa.String(length=16), nullable=False),
    sa.Column('cell', sa.BigInteger(), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('services', sa.JSON(), nullable=True),
    sa.Column('target_groups', sa.JSON(), nullable=True),
    sa.Column('capacity', sa.Integer(), nullable=True),
    sa.Column('accessible', sa.Boolean(), nullable=False),
    sa.Column('bookable', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('hours', sa.JSON(), nullable=True),
    sa.Column('description', sa.String(length=500), nullable=True),
    sa.Column('street_id', sa.Integer(), nullable=True),
    sa.Column('neighbourhood_id', sa.Integer(), nullable=True),
    sa.Column('closed_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("status IN ('planned', 'building', 'open', 'closed')", name=op.f('ck_facility_status')),
    sa.CheckConstraint('capacity IS NULL OR capacity >= 0', name=op.f('ck_facility_capacity')),
    sa.ForeignKeyConstraint(['neighbourhood_id'], ['neighbourhood.id'], name=op.f('fk_facility_neighbourhood_id_neighbourhood')),
    sa.ForeignKeyConstraint(['street_id'], ['street.id'], name=op.f('fk_facility_street_id_street')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_facility')),
    sa.UniqueConstraint('external_id', name=op.f('uq_facility_external_id'))
    )
    with op.batch_alter_table('facility', schema=None) as batch_op:
        batch_op.create_index('ix_facility_category', ['category_code', 'status'], unique=False)
        batch_op.create_index('ix_facility_cell', ['cell', 'lat', 'lng', 'status', 'category_code', 'id'], unique=False)
        batch_op.create_index('ix_facility_name', ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_facility_neighbourhood_id'), ['neighbourhood_id'], unique=False)
        batch_op.create_index('ix_facility_street', ['street_id', 'category_code'], unique=False)

    op.create_table('facility_walk',
    sa.Column('estate_id', sa.Integer(), nullable=False),
    sa.Column('facility_id', sa.Integer(), nullable=False),
    sa.Column('walk_m', sa.Integer(), nullable=False),
    sa.Column('walk_s_standard', sa.Integer(), nullable=True),
    sa.Column('walk_s_elder', sa.Integer(), nullable=True),
    sa.Column('graph_version', sa.String(length=64), nullable=True),
    sa.Column('computed_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('walk_m >= 0', name=op.f('ck_facility_walk_walk_m')),
    sa.ForeignKeyConstraint(['estate_id'], ['estate.id'], name=op.f('fk_facility_walk_estate_id_estate'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['facility_id'], ['facility.id'], name=op.f('fk_facility_walk_facility_id_facility'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('estate_id', 'facility_id', name=op.f('pk_facility_walk'))
    )
    with op.batch_alter_table('facility_walk', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_facility_walk_facility_id'), ['facility_id'], unique=False)



def downgrade():
    with op.batch_alter_table('facility_walk', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_facility_walk_facility_id'))

    op.drop_table('facility_walk')
    with op.batch_alter_table('facility', schema=None) as batch_op:
        batch_op.drop_index('ix_facility_street')
        batch_op.drop_index(batch_op.f('ix_facility_neighbourhood_id'))
        batch_op.drop_index('ix_facility_name')
        batch_op.drop_index('ix_facility_cell')
        batch_op.drop_index('ix_facility_category')

    op.drop_table('facility')
