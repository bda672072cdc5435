"""case_sweep_indexes: the reminder sweeps' partial indexes hold only the rows each sweep can find

ix_case_visit_due held every case not visited (every open case too), ix_case_rating_due every case not rated,
ix_case_rework_due and ix_case_handle_due every open case: a write to an open case (the overdue sweep raises a
thousand at a time) added an entry to each. Now each holds the rows whose deadline it sorts by is set.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 13:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

INDEXES = {  # name: (columns, predicate before, predicate after)
    "ix_case_handle_due": (["handle_due_at", "id"], "due_at IS NOT NULL",
                           "due_at IS NOT NULL AND handle_due_at IS NOT NULL"),
    "ix_case_rework_due": (["rework_due_at", "id"], "due_at IS NOT NULL",
                           "due_at IS NOT NULL AND rework_due_at IS NOT NULL"),
    "ix_case_visit_due": (["visit_due_at", "id"], "visited_at IS NULL",
                          "visited_at IS NULL AND visit_due_at IS NOT NULL"),
    "ix_case_rating_due": (["closed_at", "id"], "rating IS NULL", "rating IS NULL AND closed_at IS NOT NULL"),
}


def _recreate(which: int) -> None:
    for name, (columns, *predicates) in INDEXES.items():
        where = sa.text(predicates[which])
        op.drop_index(name, table_name="case")
        op.create_index(name, "case", columns, unique=False, sqlite_where=where, postgresql_where=where)


def upgrade():
    _recreate(1)


def downgrade():
    _recreate(0)
