"""calendar_arrangement: the official holiday arrangement of a year, loaded by district admins

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 12:00:00

"""
from alembic import op
import sqlalchemy as sa

import models.base


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('calendar_arrangement',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('notice', sa.String(length=64), nullable=False),
    sa.Column('published_on', sa.Date(), nullable=False),
    sa.Column('holidays', sa.JSON(), nullable=False),
    sa.Column('workdays', sa.JSON(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('loaded_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('loaded_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['loaded_by'], ['user.id'], name=op.f('fk_calendar_arrangement_loaded_by_user')),
    sa.PrimaryKeyConstraint('year', name=op.f('pk_calendar_arrangement'))
    )


def downgrade():
    op.drop_table('calendar_arrangement')
