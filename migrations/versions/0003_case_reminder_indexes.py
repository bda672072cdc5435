"""case reminder indexes

Partial indexes for the reminder sweeps (service/cases/reminders.py): each sweep
reads only the cases whose watched deadline is due, so its cost grows with the
number of due cases, not with the size of the table. ``due_at`` is null once a
case is no longer open, so "due_at IS NOT NULL" keeps closed cases out.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 09:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

OPEN = "due_at IS NOT NULL"
INDEXES = (
    ("ix_case_contact_due", ["contact_due_at", "id"], "first_contact_at IS NULL AND due_at IS NOT NULL"),
    ("ix_case_handle_due", ["handle_due_at", "id"], OPEN),
    ("ix_case_rework_due", ["rework_due_at", "id"], OPEN),
    ("ix_case_overdue", ["due_at", "id"], OPEN),
    # The overdue sweep: open cases not yet at 督办 (level 2, service.cases.reminders.ESCALATE).
    ("ix_case_escalation_due", ["due_at", "id"], "due_at IS NOT NULL AND escalation_level < 2"),
    ("ix_case_visit_due", ["visit_due_at", "id"], "visited_at IS NULL"),
    ("ix_case_rating_due", ["closed_at", "id"], "rating IS NULL"),
)


def upgrade():
    for name, columns, where in INDEXES:
        op.create_index(name, "case", columns, unique=False, sqlite_where=sa.text(where),
                        postgresql_where=sa.text(where))


def downgrade():
    for name, _, _ in reversed(INDEXES):
        op.drop_index(name, table_name="case")
