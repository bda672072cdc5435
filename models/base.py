"""Declarative base, naming convention and the column types every domain uses."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import ROUND_HALF_EVEN, Decimal

import sqlalchemy as sa
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Indexes a migration makes on PostgreSQL over an expression of its own that the models do not declare
# (alembic's comparison of the models with the database passes over them; a migration's tests check them).
MIGRATION_ONLY_INDEXES = frozenset({"ix_facility_grams"})


def compared_by_alembic(obj, name, type_, reflected, compare_to) -> bool:
    """alembic's ``include_object``: everything but MIGRATION_ONLY_INDEXES."""
    return not (type_ == "index" and name in MIGRATION_ONLY_INDEXES)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every database (SQLite stores naive text). On PostgreSQL every session
    is in UTC (``_sessions_in_utc``), so psycopg reads each value as a UTC-aware datetime already: nothing is
    converted on the way out (a case row has six of them, a page a hundred and more)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def result_processor(self, dialect, coltype):
        if dialect.name == "postgresql":
            return None
        return super().result_processor(dialect, coltype)

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


@sa.event.listens_for(sa.engine.Engine, "connect")
def _sessions_in_utc(dbapi_connection, record) -> None:
    """Every PostgreSQL session in UTC, whatever the server's default: psycopg answers a timestamptz in the
    session's time zone, and UTCDateTime takes it as read. Once per new connection, not per request."""
    info = getattr(dbapi_connection, "info", None)
    parameter = getattr(info, "parameter_status", None)
    if parameter is None or parameter("TimeZone") == "UTC":   # not psycopg (SQLite), or UTC already
        return
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True   # a plain SET would end with the transaction it began
    try:
        dbapi_connection.execute("SET TIME ZONE 'UTC'")
    finally:
        dbapi_connection.autocommit = autocommit


class ExactDecimal(TypeDecorator):
    """A decimal with a fixed number of places, stored as a scaled integer.

    SQLite has no exact decimal type (NUMERIC becomes REAL, and SUM() adds
    floats), so areas and money are kept as integers of the smallest unit
    (hundredths of a square metre, fen). Sums in SQL stay exact on SQLite and
    PostgreSQL alike; Python sees ``Decimal``.
    """

    impl = sa.BigInteger
    cache_ok = True

    def __init__(self, places: int = 2):
        super().__init__()
        self.places = places
        self.quantum = Decimal(1).scaleb(-places)
        self.factor = 10 ** places

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        value = Decimal(str(value)) if not isinstance(value, Decimal) else value
        scaled = value * self.factor
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{value} has more than {self.places} decimal places")
        return int(scaled)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return (Decimal(int(value)) / self.factor).quantize(self.quantum, rounding=ROUND_HALF_EVEN)

    def coerce_compared_value(self, op, value):
        return self


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


def _system_now() -> datetime:
    return datetime.now(timezone.utc)


# The source of "now" for created_at/updated_at defaults. The service clock (service/clock.py, which tests
# may move) installs itself here when imported; models import nothing above them.
now_source = _system_now


def utcnow() -> datetime:
    return now_source()


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False)


db = SQLAlchemy(model_class=Base, session_options={"join_transaction_mode": "create_savepoint"})
