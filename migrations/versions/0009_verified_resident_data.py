"""verified resident data: declared birth date and neighbourhood, who verified the ID number, birth date and
residence and when; self-typed values become declared; links confirmed by their own requester reopen

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 01:00:00

Until now ``PATCH /me`` wrote birth_date and neighbourhood_id straight into the columns that decide meal
eligibility, tiers, delivery and priority, and a typed ID number counted as verified. No staff path ever
wrote them, so nothing in the data is evidence of a verification: every existing birth_date and
neighbourhood_id moves to declared_birth_date / declared_neighbourhood_id, and every stored ID number stays
stored but unverified (id_verified_at NULL). unit_id was never writable by residents (only administrative
loads set it), so it stays where it is.

A family link whose requester also decided it (a staff member confirming their own request under the staff
role) can never stand: it goes back to pending, with an audit entry (no actor: the migration) saying so.

Downgrade puts the declared values back only where no verified value took their place.
"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa

import models.base


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

VERIFIED_BY = ('id_verified', 'birth_date_verified', 'residence_verified')


def upgrade():
    with op.batch_alter_table('resident_profile', schema=None) as batch_op:
        batch_op.add_column(sa.Column('declared_birth_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('declared_neighbourhood_id', sa.Integer(), nullable=True))
        for prefix in VERIFIED_BY:
            batch_op.add_column(sa.Column(f'{prefix}_by', sa.Integer(), nullable=True))
            batch_op.add_column(sa.Column(f'{prefix}_at', models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_resident_profile_declared_neighbourhood_id_neighbourhood'),
                                    'neighbourhood', ['declared_neighbourhood_id'], ['id'])
        for prefix in VERIFIED_BY:
            batch_op.create_foreign_key(batch_op.f(f'fk_resident_profile_{prefix}_by_user'), 'user',
                                        [f'{prefix}_by'], ['id'])
        batch_op.create_index(batch_op.f('ix_resident_profile_declared_neighbourhood_id'),
                              ['declared_neighbourhood_id'], unique=False)

    # What residents typed was never verified: it is declared.
    op.execute("UPDATE resident_profile SET declared_birth_date = birth_date, "
               "declared_neighbourhood_id = neighbourhood_id, birth_date = NULL, neighbourhood_id = NULL")

    links = sa.table('family_link', sa.column('id', sa.Integer()), sa.column('status', sa.String()),
                     sa.column('proxy_user_id', sa.Integer()), sa.column('decided_by', sa.Integer()),
                     sa.column('decided_at', models.base.UTCDateTime(timezone=True)),
                     sa.column('reason', sa.String()))
    connection = op.get_bind()
    self_confirmed = connection.execute(
        sa.select(links.c.id, links.c.decided_by, links.c.decided_at, links.c.reason)
        .where(links.c.status == 'confirmed', links.c.decided_by == links.c.proxy_user_id)
        .order_by(links.c.id)).all()
    if self_confirmed:
        connection.execute(sa.update(links).where(links.c.id.in_([row.id for row in self_confirmed]))
                           .values(status='pending', decided_by=None, decided_at=None, reason=None))
        audit = sa.table('audit_entry', sa.column('at', models.base.UTCDateTime(timezone=True)),
                         sa.column('actor_user_id', sa.Integer()), sa.column('actor_role', sa.String()),
                         sa.column('action', sa.String()), sa.column('object_type', sa.String()),
                         sa.column('object_id', sa.String()), sa.column('before', sa.JSON()),
                         sa.column('after', sa.JSON()))
        now = datetime.now(timezone.utc)
        connection.execute(audit.insert(), [{
            'at': now, 'actor_user_id': None, 'actor_role': None, 'action': 'family_link.reopened',
            'object_type': 'family_link', 'object_id': str(row.id),
            'before': {'status': 'confirmed', 'decided_by': row.decided_by,
                       'decided_at': row.decided_at.isoformat() if row.decided_at else None, 'reason': row.reason},
            'after': {'status': 'pending', 'why': 'decided by its own requester'}} for row in self_confirmed])


def downgrade():
    op.execute("UPDATE resident_profile SET birth_date = declared_birth_date "
               "WHERE birth_date IS NULL AND declared_birth_date IS NOT NULL")
    op.execute("UPDATE resident_profile SET neighbourhood_id = declared_neighbourhood_id "
               "WHERE neighbourhood_id IS NULL AND declared_neighbourhood_id IS NOT NULL")
    with op.batch_alter_table('resident_profile', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_resident_profile_declared_neighbourhood_id'))
        for prefix in reversed(VERIFIED_BY):
            batch_op.drop_constraint(batch_op.f(f'fk_resident_profile_{prefix}_by_user'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_resident_profile_declared_neighbourhood_id_neighbourhood'),
                                 type_='foreignkey')
        for prefix in reversed(VERIFIED_BY):
            batch_op.drop_column(f'{prefix}_at')
            batch_op.drop_column(f'{prefix}_by')
        batch_op.drop_column('declared_neighbourhood_id')
        batch_op.drop_column('declared_birth_date')
