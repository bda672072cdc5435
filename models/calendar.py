"""The holiday arrangements loaded by admins (国务院办公厅 notices), one per year."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, utcnow


class CalendarArrangement(Base):
    """A year's official arrangement: its days off and its 调休 make-up working days. It decides that
    year's working days over the holiday package and the statutory rule (service/calendar.py)."""

    __tablename__ = "calendar_arrangement"
    year: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    notice: Mapped[str] = mapped_column(sa.String(64))  # the document number, e.g. 国办发明电〔2026〕7号
    published_on: Mapped[date] = mapped_column(sa.Date)
    holidays: Mapped[list] = mapped_column(sa.JSON)  # ISO dates, sorted
    workdays: Mapped[list] = mapped_column(sa.JSON)  # ISO dates of make-up working days, sorted
    # Bumped on every load of the year: a process compares (year, revision) to notice a new load.
    revision: Mapped[int] = mapped_column(sa.Integer, default=1)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    loaded_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
