"""partner keys get the admin scope they were issued in (open311_key.scope_type, scope_id)

An existing key takes its issuer's admin scope when the issuer holds exactly one admin role;
otherwise its scope stays unknown (null), and only its issuer or a district admin may revoke it
(service/cases/open311.py).

Revision ID: 0012
Revises: 0008
Create Date: 2026-12-06 10:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0008'
branch_labels = None
depends_on = None

_ADMIN_ROLES = "FROM role_assignment r WHERE r.user_id = open311_key.created_by AND r.role = 'admin'"


def upgrade():
    with op.batch_alter_table('open311_key', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scope_type', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('scope_id', sa.Integer(), nullable=True))
    op.execute(f"UPDATE open311_key SET scope_type = (SELECT r.scope_type {_ADMIN_ROLES}), "
               f"scope_id = (SELECT r.scope_id {_ADMIN_ROLES}) WHERE (SELECT count(*) {_ADMIN_ROLES}) = 1")


def downgrade():
    with op.batch_alter_table('open311_key', schema=None) as batch_op:
        batch_op.drop_column('scope_id')
        batch_op.drop_column('scope_type')
