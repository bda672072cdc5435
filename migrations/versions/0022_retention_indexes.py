"""retention_indexes: what the retention sweep anonymises, found without reading the whole table — closed cases
that still name their reporter, meal bookings still holding an address or a diet note

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 18:35:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

CASE_WHERE = sa.text("reporter_user_id IS NOT NULL AND due_at IS NULL AND closed_at IS NOT NULL")
BOOKING_WHERE = sa.text("address IS NOT NULL OR diet_note IS NOT NULL")


def upgrade():
    op.create_index("ix_case_reporter_kept", "case", ["closed_at", "id"], unique=False, sqlite_where=CASE_WHERE,
                    postgresql_where=CASE_WHERE)
    op.create_index("ix_meal_booking_details", "meal_booking", ["day", "id"], unique=False,
                    sqlite_where=BOOKING_WHERE, postgresql_where=BOOKING_WHERE)


def downgrade():
    op.drop_index("ix_meal_booking_details", table_name="meal_booking")
    op.drop_index("ix_case_reporter_kept", table_name="case")
