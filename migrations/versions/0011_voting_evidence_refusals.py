"""voting: refused ballots logged in ballot_refusal (not the chain); a proxy's mandate marked used and
casting one ballot; motion_unit indexed by building; uploads attached to a motion's paper ballots and
mandates name that motion; a motion's listed attachments still there become its own

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 01:00:00

"""
from alembic import op
import sqlalchemy as sa
import models.base


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('ballot_refusal',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('motion_id', sa.Integer(), nullable=False),
    sa.Column('voter_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('reason', sa.String(length=24), nullable=False),
    sa.Column('actor_user_id', sa.Integer(), nullable=True),
    sa.Column('at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_user_id'], ['user.id'], name=op.f('fk_ballot_refusal_actor_user_id_user')),
    sa.ForeignKeyConstraint(['motion_id'], ['motion.id'], name=op.f('fk_ballot_refusal_motion_id_motion')),
    sa.ForeignKeyConstraint(['voter_id'], ['motion_voter.id'], name=op.f('fk_ballot_refusal_voter_id_motion_voter')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ballot_refusal'))
    )
    with op.batch_alter_table('ballot_refusal', schema=None) as batch_op:
        batch_op.create_index('ix_ballot_refusal_motion', ['motion_id', 'id'], unique=False)

    with op.batch_alter_table('motion_proxy', schema=None) as batch_op:
        batch_op.add_column(sa.Column('used_at', models.base.UTCDateTime(timezone=True), nullable=True))

    with op.batch_alter_table('ballot', schema=None) as batch_op:
        batch_op.create_index('uq_ballot_proxy', ['proxy_id'], unique=True,
                              sqlite_where=sa.text('proxy_id IS NOT NULL'),
                              postgresql_where=sa.text('proxy_id IS NOT NULL'))

    with op.batch_alter_table('motion_unit', schema=None) as batch_op:
        batch_op.create_index('ix_motion_unit_building', ['motion_id', 'building_id', 'unit_id'], unique=False)

    # A proxy that already cast its ballot has used its mandate.
    op.execute("UPDATE motion_proxy SET used_at = (SELECT min(ballot.cast_at) FROM ballot "
               "WHERE ballot.proxy_id = motion_proxy.id) "
               "WHERE EXISTS (SELECT 1 FROM ballot WHERE ballot.proxy_id = motion_proxy.id)")
    # Paper-ballot images and mandates were marked 'ballot' and 'proxy' without their object, which no
    # visibility rule knew: they now name their motion ('paper:<motion>', 'mandate:<motion>').
    op.execute("UPDATE upload SET attached_to = 'paper:' || CAST((SELECT min(ballot.motion_id) FROM ballot "
               "WHERE ballot.image_upload_id = upload.id) AS VARCHAR(20)) "
               "WHERE attached_to = 'ballot' AND EXISTS (SELECT 1 FROM ballot WHERE ballot.image_upload_id = upload.id)")
    op.execute("UPDATE upload SET attached_to = 'mandate:' || CAST((SELECT min(motion_proxy.motion_id) "
               "FROM motion_proxy WHERE motion_proxy.mandate_upload_id = upload.id) AS VARCHAR(20)) "
               "WHERE attached_to = 'proxy' AND EXISTS (SELECT 1 FROM motion_proxy "
               "WHERE motion_proxy.mandate_upload_id = upload.id)")
    # A motion's attachments were listed but never attached, so only their uploader saw them and the sweep of
    # abandoned uploads took them after a day: those still there become the motion's. (Ids the sweep already
    # took stay listed: the motion is a record as announced.)
    connection = op.get_bind()
    motions = sa.table('motion', sa.column('id'), sa.column('attachments', sa.JSON()))
    uploads = sa.table('upload', sa.column('id'), sa.column('attached_to'))
    for motion_id, attachments in connection.execute(sa.select(motions.c.id, motions.c.attachments)).all():
        ids = [i for i in (attachments or []) if isinstance(i, int) and not isinstance(i, bool)]
        if ids:
            connection.execute(sa.update(uploads).where(uploads.c.id.in_(ids), uploads.c.attached_to.is_(None))
                               .values(attached_to=f"motion:{motion_id}"))


def downgrade():
    op.execute("UPDATE upload SET attached_to = NULL WHERE attached_to LIKE 'motion:%'")
    op.execute("UPDATE upload SET attached_to = 'ballot' WHERE attached_to LIKE 'paper:%'")
    op.execute("UPDATE upload SET attached_to = 'proxy' WHERE attached_to LIKE 'mandate:%'")
    with op.batch_alter_table('motion_unit', schema=None) as batch_op:
        batch_op.drop_index('ix_motion_unit_building')

    with op.batch_alter_table('ballot', schema=None) as batch_op:
        batch_op.drop_index('uq_ballot_proxy', sqlite_where=sa.text('proxy_id IS NOT NULL'),
                            postgresql_where=sa.text('proxy_id IS NOT NULL'))

    with op.batch_alter_table('motion_proxy', schema=None) as batch_op:
        batch_op.drop_column('used_at')

    with op.batch_alter_table('ballot_refusal', schema=None) as batch_op:
        batch_op.drop_index('ix_ballot_refusal_motion')

    op.drop_table('ballot_refusal')
