"""facility ↔ meal site

A 助餐 facility of the life circle that is a bookable meal site points at it
(``facility.meal_site_id``, at most one facility per site).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 20:45:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('facility', schema=None) as batch_op:
        batch_op.add_column(sa.Column('meal_site_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_facility_meal_site_id_meal_site'), 'meal_site', ['meal_site_id'],
                                    ['id'])
        batch_op.create_unique_constraint(batch_op.f('uq_facility_meal_site_id'), ['meal_site_id'])


def downgrade():
    with op.batch_alter_table('facility', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_facility_meal_site_id'), type_='unique')
        batch_op.drop_constraint(batch_op.f('fk_facility_meal_site_id_meal_site'), type_='foreignkey')
        batch_op.drop_column('meal_site_id')
