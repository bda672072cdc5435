"""Moments come back from the database as UTC-aware datetimes whatever the session's time zone would have been:
on PostgreSQL every session is set to UTC when it connects (models.base), so nothing is converted per value."""
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from models.base import UTCDateTime

SHANGHAI = timezone(timedelta(hours=8))
_PROBE = sa.Table("linli_utc_probe", sa.MetaData(), sa.Column("at", UTCDateTime))


def _engine(database_url: str, tmp_path):
    """An engine of its own whose connections would start in Shanghai time, as a server configured so would (on
    SQLite a file of its own: the tests' database is held by their session)."""
    if database_url.startswith("postgresql"):
        return sa.create_engine(database_url, connect_args={"options": "-c TimeZone=Asia/Shanghai"})
    return sa.create_engine(f"sqlite:///{tmp_path / 'probe.db'}")


def test_a_moment_reads_back_as_the_same_instant_in_utc(app, database_url, is_postgres, tmp_path):
    engine = _engine(database_url, tmp_path)
    written = datetime(2026, 12, 7, 0, 30, tzinfo=SHANGHAI)   # 2026-12-06 16:30 UTC: the day differs
    try:
        with engine.begin() as connection:
            _PROBE.create(connection)
            try:
                connection.execute(_PROBE.insert().values(at=written))
                read = connection.execute(sa.select(_PROBE.c.at)).scalar_one()
                if is_postgres:
                    assert connection.connection.dbapi_connection.info.parameter_status("TimeZone") == "UTC"
                    # what the type leaves as it is: the driver's own value, in UTC
                    assert connection.exec_driver_sql("SELECT at FROM linli_utc_probe").scalar_one().tzinfo \
                        is timezone.utc
            finally:
                _PROBE.drop(connection)
    finally:
        engine.dispose()
    assert read == written and read.tzinfo is timezone.utc
    assert (read.year, read.month, read.day, read.hour) == (2026, 12, 6, 16)
