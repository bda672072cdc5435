"""ballots linked into the motion's event chain in batches: ballot.chain_pending and its partial index

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 01:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('ballot', schema=None) as batch_op:
        batch_op.add_column(sa.Column('chain_pending', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_index('ix_ballot_chain_pending', ['motion_id'], unique=False,
                              sqlite_where=sa.text('chain_pending'), postgresql_where=sa.text('chain_pending'))


def downgrade():
    with op.batch_alter_table('ballot', schema=None) as batch_op:
        batch_op.drop_index('ix_ballot_chain_pending', sqlite_where=sa.text('chain_pending'),
                            postgresql_where=sa.text('chain_pending'))
        batch_op.drop_column('chain_pending')
