"""case photos get an unguessable media token (Open311 media_url); partner keys get the admin scope
they were issued in (open311_key.scope_type, scope_id)

Existing photos get a random token each. An existing key takes its issuer's admin scope when the
issuer holds exactly one admin role; otherwise its scope stays unknown (null), and only its issuer
or a district admin may revoke it (service/cases/open311.py).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 10:00:00

"""
import secrets

from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

BATCH = 1000
_ADMIN_ROLES = "FROM role_assignment r WHERE r.user_id = open311_key.created_by AND r.role = 'admin'"


def upgrade():
    with op.batch_alter_table('open311_key', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scope_type', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('scope_id', sa.Integer(), nullable=True))
    op.execute(f"UPDATE open311_key SET scope_type = (SELECT r.scope_type {_ADMIN_ROLES}), "
               f"scope_id = (SELECT r.scope_id {_ADMIN_ROLES}) WHERE (SELECT count(*) {_ADMIN_ROLES}) = 1")

    with op.batch_alter_table('case_photo', schema=None) as batch_op:
        batch_op.add_column(sa.Column('media_token', sa.String(length=32), nullable=True))
    connection = op.get_bind()
    photo = sa.table('case_photo', sa.column('id', sa.Integer()), sa.column('media_token', sa.String(32)))
    ids = connection.execute(sa.select(photo.c.id).order_by(photo.c.id)).scalars().all()
    fill = photo.update().where(photo.c.id == sa.bindparam('photo_id')).values(media_token=sa.bindparam('token'))
    for start in range(0, len(ids), BATCH):
        connection.execute(fill, [{'photo_id': photo_id, 'token': secrets.token_urlsafe(24)}
                                  for photo_id in ids[start:start + BATCH]])
    with op.batch_alter_table('case_photo', schema=None) as batch_op:
        batch_op.alter_column('media_token', existing_type=sa.String(length=32), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_case_photo_media_token'), ['media_token'])


def downgrade():
    with op.batch_alter_table('case_photo', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_case_photo_media_token'), type_='unique')
        batch_op.drop_column('media_token')
    with op.batch_alter_table('open311_key', schema=None) as batch_op:
        batch_op.drop_column('scope_id')
        batch_op.drop_column('scope_type')
