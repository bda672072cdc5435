"""audit_entry: whose personal data an entry concerns, archives, and a log the database itself keeps unchanged

- ``subject_user_id``: the person whose data the audited action viewed or changed (a resident viewed or
  verified, the reporter of a case whose details were viewed, the elder of a family link, the claimant of a
  unit claim, the diner of a meal booking), so that a person can read who looked (``GET /api/v1/me/data-access``)
  off one index. Existing entries are filled in from their objects.
- ``audit_archive``: each archived run of entries (service.retention): its id range, count, checksum and the
  stored object holding it.
- Triggers on both databases: an UPDATE of an entry is refused; a DELETE is refused unless the entry is in
  an archived range and older than six months (网络安全法 Art. 21), whoever asks, the application's own
  database user included. On PostgreSQL TRUNCATE is refused too.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 16:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

MESSAGE = "audit_entry is append-only: an entry is deleted only once archived and six months old"

POSTGRESQL = [
    f"""
CREATE FUNCTION linli_audit_entry_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND OLD.at < now() - interval '6 months'
     AND OLD.id <= (SELECT coalesce(max(last_id), 0) FROM audit_archive) THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'insufficient_privilege';
END
$$""",
    """CREATE TRIGGER audit_entry_kept BEFORE UPDATE OR DELETE ON audit_entry
       FOR EACH ROW EXECUTE FUNCTION linli_audit_entry_kept()""",
    """CREATE TRIGGER audit_entry_not_truncated BEFORE TRUNCATE ON audit_entry
       FOR EACH STATEMENT EXECUTE FUNCTION linli_audit_entry_kept()""",
]

SQLITE = [
    f"""CREATE TRIGGER audit_entry_not_updated BEFORE UPDATE ON audit_entry
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
    f"""CREATE TRIGGER audit_entry_kept BEFORE DELETE ON audit_entry
        WHEN OLD.at >= datetime('now', '-6 months')
          OR OLD.id > (SELECT coalesce(max(last_id), 0) FROM audit_archive)
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END""",
]

# Existing entries: their subject from their object (object ids are text in the log).
BACKFILL = [
    "UPDATE audit_entry SET subject_user_id = CAST(object_id AS INTEGER) "
    "WHERE object_type = 'user' AND object_id IS NOT NULL",
    'UPDATE audit_entry SET subject_user_id = (SELECT reporter_user_id FROM "case" '
    "WHERE \"case\".id = CAST(audit_entry.object_id AS BIGINT)) "
    "WHERE object_type = 'case' AND action = 'case.reporter_viewed'",
    "UPDATE audit_entry SET subject_user_id = (SELECT elder_user_id FROM family_link "
    "WHERE family_link.id = CAST(audit_entry.object_id AS INTEGER)) WHERE object_type = 'family_link'",
    "UPDATE audit_entry SET subject_user_id = (SELECT user_id FROM unit_claim "
    "WHERE unit_claim.id = CAST(audit_entry.object_id AS INTEGER)) WHERE object_type = 'unit_claim'",
    "UPDATE audit_entry SET subject_user_id = (SELECT diner_user_id FROM meal_booking "
    "WHERE meal_booking.id = CAST(audit_entry.object_id AS BIGINT)) WHERE object_type = 'meal_booking'",
]


def upgrade():
    op.add_column('audit_entry', sa.Column('subject_user_id', sa.Integer(), nullable=True))
    for statement in BACKFILL:
        op.execute(statement)
    op.create_index('ix_audit_entry_subject', 'audit_entry', ['subject_user_id', 'id'], unique=False)
    op.create_table(
        'audit_archive',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('first_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('last_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('entries', sa.Integer(), nullable=False),
        sa.Column('before', sa.DateTime(timezone=True), nullable=False),
        sa.Column('storage_key', sa.String(length=255), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_archive')),
        sa.UniqueConstraint('storage_key', name=op.f('uq_audit_archive_storage_key')),
    )
    for statement in POSTGRESQL if op.get_bind().dialect.name == "postgresql" else SQLITE:
        op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_entry_not_truncated ON audit_entry")
        op.execute("DROP TRIGGER audit_entry_kept ON audit_entry")
        op.execute("DROP FUNCTION linli_audit_entry_kept()")
    else:
        op.execute("DROP TRIGGER audit_entry_not_updated")
        op.execute("DROP TRIGGER audit_entry_kept")
    op.drop_table('audit_archive')
    op.drop_index('ix_audit_entry_subject', table_name='audit_entry')
    op.drop_column('audit_entry', 'subject_user_id')
