"""audit entries placed: audit_entry.street_id, the street of the audited object at write time, indexed
with the id for an admin's newest-first page; stored login answers (tokens) deleted from the idempotency
records

Entries written before this revision have no street: only district admins (and their authors) read them.
Logins are no longer recorded for Idempotency-Key; the answers recorded before held tokens in plain text.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 01:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('street_id', sa.Integer(), nullable=True))
        batch_op.create_index('ix_audit_entry_street', ['street_id', 'id'], unique=False)
    op.execute("DELETE FROM idempotency_record WHERE response_body LIKE '%\"refresh_token\"%'")


def downgrade():
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_entry_street')
        batch_op.drop_column('street_id')
