"""case_escalation_due: the overdue sweep's work in a table of its own, kept by triggers on "case"

The sweep found its cases through ix_case_escalation_due, an index of "case" whose condition named
escalation_level; raising a level therefore wrote a new entry into every index of the case table (fifteen),
a thousand cases at a time. Now the open cases below 督办 (level 2) and their deadlines are rows of
case_escalation_due, inserted, moved and deleted by a trigger on each write of a case's due_at or
escalation_level (on both databases, so every writer keeps it: the workflow, the sweep, imports, restores);
escalation_level is in no index, and on PostgreSQL the case table keeps a tenth of each page free
(fillfactor 90), so raising a level is a heap-only update. Existing cases are copied in.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 13:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

ESCALATE = 2  # service/cases/reminders.py: 督办, the last level the sweep raises a case to

POSTGRESQL = [
    f"""
CREATE FUNCTION linli_case_escalation_due() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.due_at IS NOT DISTINCT FROM OLD.due_at
     AND (NEW.escalation_level < {ESCALATE}) = (OLD.escalation_level < {ESCALATE}) THEN
    RETURN NULL;
  END IF;
  IF NEW.due_at IS NOT NULL AND NEW.escalation_level < {ESCALATE} THEN
    INSERT INTO case_escalation_due (case_id, due_at) VALUES (NEW.id, NEW.due_at)
    ON CONFLICT (case_id) DO UPDATE SET due_at = EXCLUDED.due_at;
  ELSIF TG_OP = 'UPDATE' THEN
    DELETE FROM case_escalation_due WHERE case_id = NEW.id;
  END IF;
  RETURN NULL;
END
$$""",
    """CREATE TRIGGER case_escalation_due AFTER INSERT OR UPDATE OF due_at, escalation_level ON "case"
       FOR EACH ROW EXECUTE FUNCTION linli_case_escalation_due()""",
    'ALTER TABLE "case" SET (fillfactor = 90)',
]

SQLITE = [
    f"""CREATE TRIGGER case_escalation_due_insert AFTER INSERT ON "case"
        WHEN NEW.due_at IS NOT NULL AND NEW.escalation_level < {ESCALATE}
        BEGIN
          INSERT INTO case_escalation_due (case_id, due_at) VALUES (NEW.id, NEW.due_at);
        END""",
    f"""CREATE TRIGGER case_escalation_due_update AFTER UPDATE OF due_at, escalation_level ON "case"
        WHEN NEW.due_at IS NOT OLD.due_at OR (NEW.escalation_level < {ESCALATE}) <> (OLD.escalation_level < {ESCALATE})
        BEGIN
          DELETE FROM case_escalation_due WHERE case_id = NEW.id;
          INSERT INTO case_escalation_due (case_id, due_at)
            SELECT NEW.id, NEW.due_at WHERE NEW.due_at IS NOT NULL AND NEW.escalation_level < {ESCALATE};
        END""",
]


def upgrade():
    op.create_table(
        'case_escalation_due',
        sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['case.id'], name=op.f('fk_case_escalation_due_case_id_case'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('case_id', name=op.f('pk_case_escalation_due')),
    )
    op.execute(f'INSERT INTO case_escalation_due (case_id, due_at) SELECT id, due_at FROM "case" '
               f'WHERE due_at IS NOT NULL AND escalation_level < {ESCALATE}')
    op.create_index('ix_case_escalation_due_at', 'case_escalation_due', ['due_at', 'case_id'], unique=False)
    op.drop_index('ix_case_escalation_due', table_name='case')
    for statement in POSTGRESQL if op.get_bind().dialect.name == "postgresql" else SQLITE:
        op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute('DROP TRIGGER case_escalation_due ON "case"')
        op.execute("DROP FUNCTION linli_case_escalation_due()")
        op.execute('ALTER TABLE "case" RESET (fillfactor)')
    else:
        op.execute("DROP TRIGGER case_escalation_due_insert")
        op.execute("DROP TRIGGER case_escalation_due_update")
    where = sa.text(f"due_at IS NOT NULL AND escalation_level < {ESCALATE}")
    op.create_index('ix_case_escalation_due', 'case', ['due_at', 'id'], unique=False,
                    sqlite_where=where, postgresql_where=where)
    op.drop_index('ix_case_escalation_due_at', table_name='case_escalation_due')
    op.drop_table('case_escalation_due')
