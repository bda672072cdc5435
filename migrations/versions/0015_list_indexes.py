"""list_indexes: the indexes the lists need at a district's scale

My cases reads what a user follows newest first: (user_id, case_id) replaces the index on user_id alone.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 10:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('case_follower', schema=None) as batch_op:
        batch_op.create_index('ix_case_follower_user_case', ['user_id', 'case_id'], unique=False)
        batch_op.drop_index(batch_op.f('ix_case_follower_user_id'))


def downgrade():
    with op.batch_alter_table('case_follower', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_follower_user_id'), ['user_id'], unique=False)
        batch_op.drop_index('ix_case_follower_user_case')
