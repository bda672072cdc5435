"""The one source of "now". Tests and jobs may move it; business rules use Asia/Shanghai."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from models import base as _models_base

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Asia/Shanghai has kept UTC+8 without daylight saving since 1991: the fixed offset converts several times
# faster than the zone database and writes the same ISO 8601 (+08:00) for every moment the service keeps.
SHANGHAI_OFFSET = timezone(timedelta(hours=8))

_offset = timedelta(0)
_frozen: datetime | None = None


def now() -> datetime:
    """Aware UTC now, honouring a test's frozen or shifted clock."""
    if _frozen is not None:
        return _frozen
    return datetime.now(timezone.utc) + _offset


_models_base.now_source = now  # created_at/updated_at defaults follow this clock


def local_now() -> datetime:
    return now().astimezone(SHANGHAI)


def local(moment: datetime | None) -> datetime | None:
    """``moment`` in Shanghai time (a naive value is UTC): what an answer built JSON-ready holds, so that
    orjson writes it natively with +08:00 (the same text as :func:`iso`)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(SHANGHAI_OFFSET)


def iso(moment: datetime | None, timespec: str = "auto") -> str | None:
    """The one way a moment leaves the service: ISO 8601 in Asia/Shanghai time (``+08:00``). Every answer
    (JSON, CSV, XML, notifications) writes its timestamps through this; storage stays UTC. A naive value
    is UTC (how SQLite hands one back)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(SHANGHAI_OFFSET).isoformat(timespec=timespec)


def set_now(moment: datetime | None) -> None:
    global _frozen
    if moment is not None and moment.tzinfo is None:
        raise ValueError("set_now needs an aware datetime")
    _frozen = moment.astimezone(timezone.utc) if moment else None


def shift(delta: timedelta) -> None:
    global _offset
    _offset = delta


@contextmanager
def frozen_at(moment: datetime):
    previous = _frozen
    set_now(moment)
    try:
        yield
    finally:
        set_now(previous)
