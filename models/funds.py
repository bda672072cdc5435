"""The owners' funds of an estate, disclosed to its owners (业委会公示): 维修资金 (the maintenance fund, kept by
building) and 公共收益 (income from the common parts), mirrored by double entry in fen for disclosure (the bank
or the fund centre keeps the book of record). Every journal sums to zero and is immutable once posted; both are
enforced by the database too (migration 0024's triggers). Periods open, close (carrying the balance forward)
and publish."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, utcnow

FUNDS = ("maint", "public_income")
# What an account is: the fund's bank balance (by building for the maintenance fund), an income, a spending,
# or a transfer between the estate's funds (公共收益 topping up 维修资金).
ACCOUNT_KINDS = ("bank", "income", "expense", "transfer")
PERIOD_STATES = ("open", "closed", "published")


class FundAccount(Base):
    __tablename__ = "fund_account"
    __table_args__ = (sa.UniqueConstraint("estate_id", "fund", "kind", "code", "building_id",
                                          name="uq_fund_account"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    estate_id: Mapped[int] = mapped_column(sa.ForeignKey("estate.id"), index=True)
    fund: Mapped[str] = mapped_column(sa.String(16))
    kind: Mapped[str] = mapped_column(sa.String(16))
    code: Mapped[str] = mapped_column(sa.String(32))           # the category (advertising, repair, …) or "bank"
    building_id: Mapped[int | None] = mapped_column(sa.ForeignKey("building.id"))


class FundPeriod(Base):
    """A reporting period of one fund of an estate: quarterly for 公共收益, half-yearly for 维修资金."""
    __tablename__ = "fund_period"
    __table_args__ = (
        sa.Index("uq_fund_period_open", "estate_id", "fund", unique=True, sqlite_where=sa.text("state = 'open'"),
                 postgresql_where=sa.text("state = 'open'")),
        sa.UniqueConstraint("estate_id", "fund", "starts_on", name="uq_fund_period_start"),
        sa.CheckConstraint("ends_on > starts_on", name="ends_after_start"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    estate_id: Mapped[int] = mapped_column(sa.ForeignKey("estate.id"))
    fund: Mapped[str] = mapped_column(sa.String(16))
    starts_on: Mapped[date] = mapped_column(sa.Date)
    ends_on: Mapped[date] = mapped_column(sa.Date)                # the last day of the period
    state: Mapped[str] = mapped_column(sa.String(16), default="open")
    opening_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    closing_fen: Mapped[int | None] = mapped_column(sa.BigInteger)
    bank_balance_fen: Mapped[int | None] = mapped_column(sa.BigInteger)  # entered from the bank's statement
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notice_id: Mapped[int | None] = mapped_column(sa.ForeignKey("notice.id"))
    # The disclosure calendar: the committee reminded before the statement is due, the 居委会 told after.
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Journal(Base):
    """One posting: entries summing to zero, written while ``posted`` is false, then posted (and frozen)."""
    __tablename__ = "journal"
    __table_args__ = (sa.Index("ix_journal_period", "period_id", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    estate_id: Mapped[int] = mapped_column(sa.ForeignKey("estate.id"))
    period_id: Mapped[int] = mapped_column(sa.ForeignKey("fund_period.id"))
    booked_on: Mapped[date] = mapped_column(sa.Date)
    memo: Mapped[str] = mapped_column(sa.String(200))
    source_doc: Mapped[str | None] = mapped_column(sa.String(100))
    entered_by: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    reverses_id: Mapped[int | None] = mapped_column(sa.ForeignKey("journal.id"), unique=True)
    posted: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class JournalEntry(Base):
    __tablename__ = "journal_entry"
    __table_args__ = (sa.CheckConstraint("amount_fen <> 0", name="amount_not_zero"),
                      sa.Index("ix_journal_entry_account", "account_id", "journal_id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    journal_id: Mapped[int] = mapped_column(sa.ForeignKey("journal.id"), index=True)
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("fund_account.id"))
    amount_fen: Mapped[int] = mapped_column(sa.BigInteger)        # debit positive, credit negative


QUERY_STATES = ("open", "answered", "escalated")


class FundQuery(Base):
    """An owner's question about a published statement (Arts. 12, 27: 知情权、监督权, 查询), optionally about one
    of its lines; the committee answers; unanswered after the rules' days it goes to the 居委会. The asker's
    name is never shown to other owners."""
    __tablename__ = "fund_query"
    __table_args__ = (
        sa.Index("ix_fund_query_period", "period_id", "id"),
        sa.Index("ix_fund_query_open", "asked_at", "id", sqlite_where=sa.text("state = 'open'"),
                 postgresql_where=sa.text("state = 'open'")),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    period_id: Mapped[int] = mapped_column(sa.ForeignKey("fund_period.id"))
    category: Mapped[str | None] = mapped_column(sa.String(32))      # the statement's line asked about
    asked_by: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    text: Mapped[str] = mapped_column(sa.String(1000))
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    state: Mapped[str] = mapped_column(sa.String(16), default="open")
    answer: Mapped[str | None] = mapped_column(sa.String(2000))
    answered_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


AUDIT_KINDS = ("annual", "reelection")


class FundAudit(Base):
    """An audit of the estate's funds (上海市住宅物业管理规定 Art. 67: yearly, and at each 换届), posted to the estate
    for 30 days as a notice with the audit report attached."""
    __tablename__ = "fund_audit"
    __table_args__ = (sa.UniqueConstraint("estate_id", "kind", "year", name="uq_fund_audit_year"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    estate_id: Mapped[int] = mapped_column(sa.ForeignKey("estate.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    year: Mapped[int] = mapped_column(sa.Integer)       # the year audited (a 换届 audit: the year of the 换届)
    auditor: Mapped[str] = mapped_column(sa.String(100))
    summary: Mapped[str] = mapped_column(sa.String(2000))
    notice_id: Mapped[int] = mapped_column(sa.ForeignKey("notice.id"))
    entered_by: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Commitment(Base):
    """A committee member's written commitment (书面承诺; 上海市住宅物业管理规定 Arts. 20, 23: filed with the street
    within 30 days of the election), published to the estate as a notice. ``term`` is the 换届 the member was
    elected in (``estate_reelection.id``), or 0 for a committee elected before Linli recorded its 换届; one
    commitment per member and term."""
    __tablename__ = "committee_commitment"
    __table_args__ = (sa.UniqueConstraint("estate_id", "term", "member_user_id", name="uq_committee_commitment"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    estate_id: Mapped[int] = mapped_column(sa.ForeignKey("estate.id"), index=True)
    term: Mapped[int] = mapped_column(sa.Integer)
    member_user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    filed_on: Mapped[date] = mapped_column(sa.Date)     # the day it was filed with the street
    text: Mapped[str] = mapped_column(sa.String(2000))
    notice_id: Mapped[int] = mapped_column(sa.ForeignKey("notice.id"))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
