"""Owners' assembly voting (业主大会表决): motions, the frozen electorate, ballots (online, paper and
proxy in one table), proxies, the per-motion hash-chained event log, and 换届 periods."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, ExactDecimal, UTCDateTime, utcnow

MOTION_STATUSES = ("draft", "announced", "open", "closed", "counted", "failed", "published", "cancelled")
MOTION_KINDS = ("question", "election")
SCOPE_TYPES = ("estate", "buildings", "entrance")
CHANNELS = ("online", "paper", "proxy")
CHOICES = ("yes", "no", "abstain", "spoiled")
# pending: a paper ballot waiting for its second staff confirmation; counted; superseded (last_wins);
# void: a paper ballot the second person refused. Only pending and counted ballots hold the voter's slot.
BALLOT_STATUSES = ("pending", "counted", "superseded", "void")
BigId = sa.BigInteger().with_variant(sa.Integer, "sqlite")


class Motion(Base):
    __tablename__ = "motion"
    __table_args__ = (
        sa.CheckConstraint("item BETWEEN 1 AND 9", name="item"),
        sa.Index("ix_motion_estate", "estate_id", "id"),
        # The scheduler's sweeps read only motions in the state they move on from.
        sa.Index("ix_motion_opening_due", "opens_at", sqlite_where=sa.text("status = 'announced'"),
                 postgresql_where=sa.text("status = 'announced'")),
        sa.Index("ix_motion_closing_due", "closes_at", sqlite_where=sa.text("status = 'open'"),
                 postgresql_where=sa.text("status = 'open'")),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    estate_id: Mapped[int] = mapped_column(sa.ForeignKey("estate.id"))
    title: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text)
    attachments: Mapped[list] = mapped_column(sa.JSON, default=list)
    item: Mapped[int] = mapped_column(sa.SmallInteger)
    kind: Mapped[str] = mapped_column(sa.String(16), default="question")
    seats: Mapped[int | None] = mapped_column(sa.SmallInteger)
    scope_type: Mapped[str] = mapped_column(sa.String(16), default="estate")
    scope_ids: Mapped[list] = mapped_column(sa.JSON, default=list)
    major_repair: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    status: Mapped[str] = mapped_column(sa.String(16), default="draft", index=True)
    notice_days: Mapped[int] = mapped_column(sa.SmallInteger)
    publication_days: Mapped[int] = mapped_column(sa.SmallInteger)
    revote: Mapped[str] = mapped_column(sa.String(16), default="first_final")
    silent_with_majority: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    # The clause of the assembly's 议事规则 that allows counting silent owners with the majority.
    silent_rule_clause: Mapped[str | None] = mapped_column(sa.String(200))
    # Reminder stages already sent (notice, opened, remind_3, remind_1, counted, published, extended).
    reminders_sent: Mapped[list] = mapped_column(sa.JSON, default=list)
    announced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    extended: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    counted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    publish_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The frozen electorate: totals over the scope and the hash of the snapshot.
    total_area: Mapped[Decimal | None] = mapped_column(ExactDecimal(2))
    total_heads: Mapped[int | None] = mapped_column(sa.Integer)
    snapshot_hash: Mapped[str | None] = mapped_column(sa.String(64))
    result: Mapped[dict | None] = mapped_column(sa.JSON)
    # The event chain's head (last hash) and length; advanced under the motion's row lock.
    chain_head: Mapped[str] = mapped_column(sa.String(64), default="0" * 64)
    chain_length: Mapped[int] = mapped_column(sa.Integer, default=0)
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(sa.Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    candidates: Mapped[list[Candidate]] = relationship(order_by="Candidate.position")


class Candidate(Base):
    __tablename__ = "motion_candidate"
    __table_args__ = (sa.UniqueConstraint("motion_id", "position"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    motion_id: Mapped[int] = mapped_column(sa.ForeignKey("motion.id"), index=True)
    position: Mapped[int] = mapped_column(sa.SmallInteger)
    name: Mapped[str] = mapped_column(sa.String(64))
    statement: Mapped[str | None] = mapped_column(sa.String(1000))


class Voter(Base):
    """One head of the frozen electorate: an owner entity with all its units in scope summed."""

    __tablename__ = "motion_voter"
    __table_args__ = (sa.UniqueConstraint("motion_id", "entity_key"),
                      sa.Index("ix_motion_voter_user", "motion_id", "user_id"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    motion_id: Mapped[int] = mapped_column(sa.ForeignKey("motion.id"))
    # "owners:3,17" (the unit's current owners), "developer:<estate>" or "unit:<id>" (not on the register).
    entity_key: Mapped[str] = mapped_column(sa.String(120))
    kind: Mapped[str] = mapped_column(sa.String(16))  # owners / developer / unregistered
    owner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("owner.id"))
    # The platform user of the designated voter (null when not verified: paper or proxy only).
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    name: Mapped[str] = mapped_column(sa.String(100))
    area: Mapped[Decimal] = mapped_column(ExactDecimal(2))
    units: Mapped[int] = mapped_column(sa.Integer)
    label: Mapped[str] = mapped_column(sa.String(120))


class VoterUnit(Base):
    """A unit in the frozen electorate, with its area and source as they were at opening."""

    __tablename__ = "motion_unit"
    __table_args__ = (sa.UniqueConstraint("motion_id", "unit_id"), sa.Index("ix_motion_unit_voter", "voter_id"),
                      # The participation list of one building, in unit order.
                      sa.Index("ix_motion_unit_building", "motion_id", "building_id", "unit_id"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    motion_id: Mapped[int] = mapped_column(sa.ForeignKey("motion.id"))
    voter_id: Mapped[int] = mapped_column(sa.ForeignKey("motion_voter.id"))
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("unit.id"))
    building_id: Mapped[int] = mapped_column(sa.ForeignKey("building.id"))
    area: Mapped[Decimal] = mapped_column(ExactDecimal(2))
    area_source: Mapped[str] = mapped_column(sa.String(16))
    label: Mapped[str] = mapped_column(sa.String(64))


class Proxy(Base):
    """A written mandate (书面委托): the proxy votes for the principal in this motion."""

    __tablename__ = "motion_proxy"
    __table_args__ = (
        sa.Index("uq_motion_proxy_principal", "motion_id", "voter_id", unique=True,
                 sqlite_where=sa.text("revoked_at IS NULL"), postgresql_where=sa.text("revoked_at IS NULL")),
        # The per-proxy cap: each principal takes one numbered slot; slots run 1..cap.
        sa.Index("uq_motion_proxy_slot", "motion_id", "proxy_user_id", "slot", unique=True,
                 sqlite_where=sa.text("revoked_at IS NULL"), postgresql_where=sa.text("revoked_at IS NULL")),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    motion_id: Mapped[int] = mapped_column(sa.ForeignKey("motion.id"))
    voter_id: Mapped[int] = mapped_column(sa.ForeignKey("motion_voter.id"))
    proxy_user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    slot: Mapped[int] = mapped_column(sa.SmallInteger)
    mandate_upload_id: Mapped[int] = mapped_column(sa.ForeignKey("upload.id"))
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    entered_by: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the proxy cast the principal's ballot: a mandate votes once (set by a conditional UPDATE).
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Ballot(Base):
    """Every ballot of every channel. One live (pending or counted) ballot per voter per motion: the
    partial unique index decides between channels and between concurrent requests."""

    __tablename__ = "ballot"
    __table_args__ = (
        sa.Index("uq_ballot_live", "motion_id", "voter_id", unique=True,
                 sqlite_where=sa.text("status IN ('pending', 'counted')"),
                 postgresql_where=sa.text("status IN ('pending', 'counted')")),
        sa.Index("ix_ballot_motion", "motion_id", "status"),
        sa.Index("ix_ballot_receipt", "motion_id", "receipt"),
        sa.Index("ix_ballot_chain_pending", "motion_id", sqlite_where=sa.text("chain_pending"),
                 postgresql_where=sa.text("chain_pending")),
        # A written mandate casts one ballot.
        sa.Index("uq_ballot_proxy", "proxy_id", unique=True, sqlite_where=sa.text("proxy_id IS NOT NULL"),
                 postgresql_where=sa.text("proxy_id IS NOT NULL")),
        sa.CheckConstraint("channel IN ('online', 'paper', 'proxy')", name="channel"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    motion_id: Mapped[int] = mapped_column(sa.ForeignKey("motion.id"))
    voter_id: Mapped[int] = mapped_column(sa.ForeignKey("motion_voter.id"))
    channel: Mapped[str] = mapped_column(sa.String(8))
    choice: Mapped[str | None] = mapped_column(sa.String(8))
    # Elections: the candidate ids the voter consents to.
    candidate_ids: Mapped[list | None] = mapped_column(sa.JSON)
    status: Mapped[str] = mapped_column(sa.String(12), default="counted")
    cast_by: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    confirmed_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    proxy_id: Mapped[int | None] = mapped_column(sa.ForeignKey("motion_proxy.id"))
    image_upload_id: Mapped[int | None] = mapped_column(sa.ForeignKey("upload.id"))
    nonce: Mapped[str] = mapped_column(sa.String(32))
    # SHA-256(canonical ballot ‖ nonce); the receipt code is its first 10 hex digits.
    digest: Mapped[str] = mapped_column(sa.String(64))
    receipt: Mapped[str] = mapped_column(sa.String(10))
    replaces_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ballot.id"))
    cast_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # An owner's or a proxy's ballot is stored at once and linked into the motion's event chain soon
    # after, in a batch (chain.link_pending): true until then.
    chain_pending: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())


class BallotRefusal(Base):
    """A ballot the database refused (a second one for the same owner, a mandate already used): logged
    here for the committee and staff, not in the motion's chain, which holds ballots and state changes."""

    __tablename__ = "ballot_refusal"
    __table_args__ = (sa.Index("ix_ballot_refusal_motion", "motion_id", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    motion_id: Mapped[int] = mapped_column(sa.ForeignKey("motion.id"))
    voter_id: Mapped[int] = mapped_column(sa.ForeignKey("motion_voter.id"))
    channel: Mapped[str] = mapped_column(sa.String(8))
    reason: Mapped[str] = mapped_column(sa.String(24))
    actor_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class VoteEvent(Base):
    """Append-only, hash-chained per motion: h_i = SHA-256(h_{i-1} ‖ canonical_json(event_i))."""

    __tablename__ = "vote_event"
    __table_args__ = (sa.UniqueConstraint("motion_id", "seq"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    motion_id: Mapped[int] = mapped_column(sa.ForeignKey("motion.id"))
    seq: Mapped[int] = mapped_column(sa.Integer)
    kind: Mapped[str] = mapped_column(sa.String(24))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    data: Mapped[dict] = mapped_column(sa.JSON)
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64))


class Reelection(Base):
    """换届: from the forming of the re-election group until the new committee is elected."""

    __tablename__ = "estate_reelection"
    __table_args__ = (sa.Index("uq_estate_reelection_active", "estate_id", unique=True,
                               sqlite_where=sa.text("ended_at IS NULL"), postgresql_where=sa.text("ended_at IS NULL")),)
    id: Mapped[int] = mapped_column(primary_key=True)
    estate_id: Mapped[int] = mapped_column(sa.ForeignKey("estate.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
