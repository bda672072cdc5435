"""upload.storage_key: an upload's bytes move out of the database into the storage; data becomes nullable

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 10:00:00

Existing rows keep their bytes in ``data`` until ``flask uploads move-to-storage`` moves them.
"""
from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('upload', schema=None) as batch_op:
        batch_op.add_column(sa.Column('storage_key', sa.String(length=200), nullable=True))
        batch_op.alter_column('data', existing_type=sa.LargeBinary(), nullable=True)
        batch_op.create_unique_constraint(batch_op.f('uq_upload_storage_key'), ['storage_key'])


def downgrade():
    # Rows whose bytes are only in the storage cannot go back: move them back first (their data is NULL).
    with op.batch_alter_table('upload', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_upload_storage_key'), type_='unique')
        batch_op.alter_column('data', existing_type=sa.LargeBinary(), nullable=False)
        batch_op.drop_column('storage_key')
