"""Elders living alone (独居老人关爱 · 老伙伴计划 · 民生档案): the roster 居委会 staff keep and verify, the
livelihood file of each elder's household, the visits planned and made, the devices in their homes with the
events their vendors send, and the alarms that climb a ladder until someone takes them.

Nothing here is self-declared: an elder is on the roster because staff recorded and verified it. The file's
health notes and a visit's notes are stored encrypted. A device event is kept 90 days; alarms and visits three
years (config/rules/care.yaml)."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime, utcnow

# How the elder lives: 独居 (alone), 纯老 (only elders in the household), 孤老 (childless), with family (the watch
# ends when an elder moves in with family).
LIVING = ("alone", "elders_only", "childless")
# 1 is the highest risk.
RISK_TIERS = (1, 2, 3)
STATUSES = ("active", "ended")
END_REASONS = ("moved_in_with_family", "care_home", "moved_away", "deceased", "declined")
AWAY_REASONS = ("hospital", "with_family", "travel", "other")
# How a contact or a household member is related to the elder.
RELATIONS = ("self", "spouse", "child", "grandchild", "sibling", "other_relative", "neighbour", "friend", "other")
# Who visits: a 老伙伴 volunteer, 居委会 staff, a 社工.
VISITOR_ROLES = ("partner", "staff", "social_worker")
CHANNELS = ("door", "phone", "video", "centre")
OUTCOMES = ("well", "needs_help", "absent", "unreachable")
FINDINGS = ("case", "meal_delivery", "file")
DEVICE_KINDS = ("smoke", "gas", "door", "water", "motion", "sos")
# What a vendor reports: an alarm (smoke, gas, SOS pressed), an activity (a door opened, water used, movement),
# a heartbeat (the device is alive), a low battery, and a restored state (the alarm condition cleared).
EVENT_KINDS = ("alarm", "activity", "heartbeat", "battery_low", "restored")
ALARM_SOURCES = ("device", "no_activity", "meals_no_show", "meals_stopped", "notice_unacknowledged")
SEVERITIES = ("emergency", "urgent", "concern")
ALARM_STATES = ("open", "notifying", "taken", "on_site", "resolved")
LIVE_ALARM_STATES = ("open", "notifying", "taken", "on_site")
ALARM_OUTCOMES = ("false_alarm", "elder_well", "hospital", "deceased", "device_fault", "other")
STEP_RESULTS = ("sent", "answered", "no_answer", "timed_out", "skipped")
BigId = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def _partial(name: str, *columns: str, where: str, unique: bool = False) -> sa.Index:
    return sa.Index(name, *columns, unique=unique, sqlite_where=sa.text(where), postgresql_where=sa.text(where))


class Elder(Base):
    """An elder on a 居委会's roster. ``neighbourhood_id`` is the verified residence of the person when staff
    recorded them; ``street_id`` is its street (staff scope and audit placement)."""
    __tablename__ = "care_elder"
    __table_args__ = (
        _partial("uq_care_elder_live", "user_id", where="status = 'active'", unique=True),
        sa.Index("ix_care_elder_scope", "neighbourhood_id", "risk_tier", "id"),
        sa.Index("ix_care_elder_street", "street_id", "id"),
        sa.CheckConstraint("away_until IS NULL OR away_from IS NOT NULL", name="away_has_start"),
        sa.CheckConstraint("(status = 'ended') = (ended_at IS NOT NULL)", name="ended_has_time"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    neighbourhood_id: Mapped[int] = mapped_column(sa.ForeignKey("neighbourhood.id"))
    street_id: Mapped[int] = mapped_column(sa.ForeignKey("street.id"))
    living: Mapped[str] = mapped_column(sa.String(16))
    risk_tier: Mapped[int] = mapped_column(sa.SmallInteger, default=3)
    # Who verified the living situation, when, and on what (a home visit, the household register, …).
    verified_by: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    verified_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    verified_on: Mapped[str] = mapped_column(sa.String(32))
    status: Mapped[str] = mapped_column(sa.String(16), default="active")
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(sa.String(32))
    # Away (hospital, staying with family): no-activity alarms are paused between these.
    away_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    away_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    away_reason: Mapped[str | None] = mapped_column(sa.String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Contact(Base):
    """An emergency contact of an elder, in the order they are called. A contact may be a Linli user (a
    confirmed relative gets the elder's alarms in the app) or only a phone number (a neighbour, a spouse's
    phone)."""
    __tablename__ = "care_contact"
    __table_args__ = (sa.Index("ix_care_contact_elder", "elder_id", "position"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(sa.ForeignKey("care_elder.id"))
    position: Mapped[int] = mapped_column(sa.SmallInteger, default=1)
    name: Mapped[str] = mapped_column(sa.String(64))
    relation: Mapped[str] = mapped_column(sa.String(16))
    phone_enc: Mapped[str] = mapped_column(sa.String(255))
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"), index=True)


class LivelihoodFile(Base):
    """One version of an elder's 民生档案. A change is a new version; the old ones stay. ``health_enc`` (health
    and care needs) is encrypted and needs the elder's care consent."""
    __tablename__ = "care_file"
    __table_args__ = (sa.UniqueConstraint("elder_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(sa.ForeignKey("care_elder.id"))
    version: Mapped[int] = mapped_column(sa.Integer)
    # Household members (name, relation, lives in), benefits (低保, 特困, 高龄津贴, …), housing, needs.
    household: Mapped[list] = mapped_column(sa.JSON, default=list)
    benefits: Mapped[list] = mapped_column(sa.JSON, default=list)
    housing: Mapped[str | None] = mapped_column(sa.String(200))
    needs: Mapped[str | None] = mapped_column(sa.String(500))
    health_enc: Mapped[str | None] = mapped_column(sa.Text)
    written_by: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    written_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A visit's finding that went into the file.
    visit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("care_visit.id"))


class Pairing(Base):
    """Who visits an elder: a 老伙伴 volunteer, 居委会 staff or a 社工, from ``starts_on`` until ``ends_on``."""
    __tablename__ = "care_pairing"
    __table_args__ = (
        _partial("uq_care_pairing_live", "elder_id", "visitor_user_id", where="ends_on IS NULL", unique=True),
        _partial("ix_care_pairing_visitor", "visitor_user_id", "elder_id", where="ends_on IS NULL"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(sa.ForeignKey("care_elder.id"), index=True)
    visitor_user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    role: Mapped[str] = mapped_column(sa.String(16))
    starts_on: Mapped[date] = mapped_column(sa.Date)
    ends_on: Mapped[date | None] = mapped_column(sa.Date)
    created_by: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))


class VisitPlan(Base):
    """How often an elder is to be contacted by a role: an iCalendar recurrence rule (RFC 5545 RRULE) from
    ``starts_on``; each occurrence is a due visit open for ``window_days``."""
    __tablename__ = "care_plan"
    __table_args__ = (_partial("ix_care_plan_active", "id", where="ends_on IS NULL"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(sa.ForeignKey("care_elder.id"), index=True)
    role: Mapped[str] = mapped_column(sa.String(16))
    rrule: Mapped[str] = mapped_column(sa.String(200))
    window_days: Mapped[int] = mapped_column(sa.SmallInteger)
    starts_on: Mapped[date] = mapped_column(sa.Date)
    ends_on: Mapped[date | None] = mapped_column(sa.Date)
    # Why: the default plan of the role, a cold or heat warning (extra contacts), or staff's own.
    reason: Mapped[str] = mapped_column(sa.String(16), default="default")
    # Due visits exist up to this day (the weekly sweep extends it).
    generated_until: Mapped[date | None] = mapped_column(sa.Date)
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))


class VisitDue(Base):
    """A visit a plan asks for, to be made between ``earliest_at`` and ``latest_at``. Done by a visit or
    cancelled (the elder away, the plan ended), never both."""
    __tablename__ = "care_visit_due"
    __table_args__ = (
        sa.UniqueConstraint("plan_id", "earliest_at"),
        sa.CheckConstraint("earliest_at < latest_at", name="window_ordered"),
        sa.CheckConstraint("visit_id IS NULL OR cancelled_at IS NULL", name="done_or_cancelled"),
        _partial("ix_care_visit_due_open", "latest_at", "id", where="visit_id IS NULL AND cancelled_at IS NULL"),
        sa.Index("ix_care_visit_due_elder", "elder_id", "earliest_at"),
        # The due visit a visit completed (an elder's visits, one visit: joined by visit_id).
        _partial("ix_care_visit_due_visit", "visit_id", where="visit_id IS NOT NULL"),
        # The monthly visit rate per 居委会: the due visits closing in a month, read from the index alone.
        sa.Index("ix_care_visit_due_rate", "neighbourhood_id", "latest_at",
                 postgresql_include=["role", "visit_id", "cancelled_at"]),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    plan_id: Mapped[int] = mapped_column(sa.ForeignKey("care_plan.id"))
    elder_id: Mapped[int] = mapped_column(sa.ForeignKey("care_elder.id"))
    # The elder's 居委会 (an elder's neighbourhood never changes on the roster): the visit rate counts by it.
    neighbourhood_id: Mapped[int] = mapped_column(sa.ForeignKey("neighbourhood.id"))
    role: Mapped[str] = mapped_column(sa.String(16))
    earliest_at: Mapped[datetime] = mapped_column(UTCDateTime)
    latest_at: Mapped[datetime] = mapped_column(UTCDateTime)
    visit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("care_visit.id"))
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Visit(Base):
    """A visit or call made to an elder, recorded by the visitor (or by staff for them)."""
    __tablename__ = "care_visit"
    __table_args__ = (sa.Index("ix_care_visit_elder", "elder_id", "at"),
                      sa.Index("ix_care_visit_visitor", "visitor_user_id", "at"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    elder_id: Mapped[int] = mapped_column(sa.ForeignKey("care_elder.id"))
    visitor_user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    role: Mapped[str] = mapped_column(sa.String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    channel: Mapped[str] = mapped_column(sa.String(16))
    outcome: Mapped[str] = mapped_column(sa.String(16))
    notes_enc: Mapped[str | None] = mapped_column(sa.Text)
    # What the visit found, acted on: a case opened, meal delivery flagged, an entry in the file.
    finding: Mapped[str | None] = mapped_column(sa.String(16))
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("case.id"))
    # The alarm this visit answered (a no-activity alarm closes only with one).
    alarm_id: Mapped[int | None] = mapped_column(sa.ForeignKey("care_alarm.id"))
    recorded_by: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Vendor(Base):
    """A device vendor's integration: its events are signed with ``secret_enc`` (HMAC-SHA256 over the body)."""
    __tablename__ = "care_vendor"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    secret_enc: Mapped[str] = mapped_column(sa.String(255))
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Device(Base):
    """A device in an elder's home. ``last_activity_at`` is the last activity it reported (the no-activity
    sweep reads it), ``last_seen_at`` the last event of any kind (the silence check reads it)."""
    __tablename__ = "care_device"
    __table_args__ = (
        # A vendor's device is in one home at a time; once removed, it may be installed again elsewhere.
        _partial("uq_care_device_ref", "vendor_id", "vendor_ref", where="removed_at IS NULL", unique=True),
        _partial("ix_care_device_live", "elder_id", "kind", where="removed_at IS NULL"),
        _partial("ix_care_device_seen", "last_seen_at", "id", where="removed_at IS NULL"),
        # Every device of an elder, removed ones too (a withdrawn consent deletes all their events).
        sa.Index("ix_care_device_elder", "elder_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(sa.ForeignKey("care_elder.id"))
    vendor_id: Mapped[int] = mapped_column(sa.ForeignKey("care_vendor.id"))
    vendor_ref: Mapped[str] = mapped_column(sa.String(64))
    kind: Mapped[str] = mapped_column(sa.String(16))
    room: Mapped[str | None] = mapped_column(sa.String(32))
    installed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    installed_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    battery: Mapped[int | None] = mapped_column(sa.SmallInteger)
    # Silent (no heartbeat for the rule's hours): a maintenance task was opened at this time; cleared on the
    # next event.
    maintenance_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DeviceEvent(Base):
    """An event a vendor sent, once per vendor event id. An event for a device Linli does not know is kept
    with no device (quarantined) for staff to look at."""
    __tablename__ = "care_event"
    __table_args__ = (
        sa.UniqueConstraint("vendor_id", "vendor_event_id"),
        sa.Index("ix_care_event_device", "device_id", "at"),
        sa.Index("ix_care_event_received", "received_at"),
        _partial("ix_care_event_quarantine", "vendor_id", "id", where="device_id IS NULL"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    vendor_id: Mapped[int] = mapped_column(sa.ForeignKey("care_vendor.id"))
    vendor_event_id: Mapped[str] = mapped_column(sa.String(64))
    device_id: Mapped[int | None] = mapped_column(sa.ForeignKey("care_device.id"))
    vendor_ref: Mapped[str] = mapped_column(sa.String(64))
    kind: Mapped[str] = mapped_column(sa.String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    value: Mapped[float | None] = mapped_column(sa.Float)
    alarm_id: Mapped[int | None] = mapped_column(sa.ForeignKey("care_alarm.id"))


class Alarm(Base):
    """An alarm about an elder, climbing its ladder (``step``, next at ``next_at``) until someone takes it,
    then taken → on site → resolved with an outcome. At most one live alarm per elder and rule."""
    __tablename__ = "care_alarm"
    __table_args__ = (
        _partial("uq_care_alarm_live", "elder_id", "rule", where="state <> 'resolved'", unique=True),
        _partial("ix_care_alarm_next", "next_at", "id", where="state <> 'resolved'"),
        sa.Index("ix_care_alarm_elder", "elder_id", "id"),
        sa.Index("ix_care_alarm_street", "street_id", "id"),
        sa.CheckConstraint("(state = 'resolved') = (resolved_at IS NOT NULL)", name="resolved_has_time"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(sa.ForeignKey("care_elder.id"))
    street_id: Mapped[int] = mapped_column(sa.ForeignKey("street.id"))
    source: Mapped[str] = mapped_column(sa.String(24))
    # The rule of config/rules/care.yaml that raised it (smoke, no_water_12h, meals_no_show, …).
    rule: Mapped[str] = mapped_column(sa.String(32))
    severity: Mapped[str] = mapped_column(sa.String(16))
    state: Mapped[str] = mapped_column(sa.String(16), default="open")
    step: Mapped[int] = mapped_column(sa.SmallInteger, default=0)
    next_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # What raised it: the first device event, or another domain's object ("meal_booking:12").
    event_id: Mapped[int | None] = mapped_column(BigId)
    reference: Mapped[str | None] = mapped_column(sa.String(64))
    taken_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    on_site_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    outcome: Mapped[str | None] = mapped_column(sa.String(16))
    note: Mapped[str | None] = mapped_column(sa.String(500))


class AlarmStep(Base):
    """One rung of an alarm's ladder: whom it reached, how, when, and what came of it."""
    __tablename__ = "care_alarm_step"
    __table_args__ = (sa.Index("ix_care_alarm_step_alarm", "alarm_id", "n"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    alarm_id: Mapped[int] = mapped_column(sa.ForeignKey("care_alarm.id"))
    n: Mapped[int] = mapped_column(sa.SmallInteger)
    # elder, family, duty (居委会 duty phone and staff), visitor (老伙伴 or staff at the door), street_desk.
    target: Mapped[str] = mapped_column(sa.String(16))
    channel: Mapped[str] = mapped_column(sa.String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Was due at (the schedule): at - due_at is how late the ladder ran.
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recipients: Mapped[int] = mapped_column(sa.Integer, default=0)
    result: Mapped[str] = mapped_column(sa.String(16), default="sent")
