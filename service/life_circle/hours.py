"""Opening hours and "open now", in Asia/Shanghai, honouring public holidays and 调休.

A facility's hours are a JSON document::

    {"always_open": false,                        # true: 24 hours (dated exceptions still apply)
     "weekly": {"mon": [["08:00", "11:30"], ["13:30", "17:00"]], ..., "sun": []},
     "holiday": "closed",                         # public holidays: "weekly" (as usual), "closed",
                                                  #   or a weekday whose periods apply ("sun")
     "makeup_workday": "mon",                     # 调休 working weekend days: "weekly", "closed" or a weekday
     "exceptions": [{"date": "2026-12-31", "periods": [["08:00", "12:00"]], "note": "提前闭馆"}]}

A period is [start, end] in local time; "24:00" ends at midnight and an end at or
before the start runs past midnight into the next day (["22:00", "02:00"]). A day
missing from ``weekly`` is closed. A dated exception replaces that day's periods
(an empty list closes the day). The kind of day comes from service/calendar.py
(chinese_calendar plus config/rules/calendar.yaml).
"""
from __future__ import annotations

import json
import re
from datetime import date, datetime, time, timedelta

from service import calendar
from service.clock import SHANGHAI
from service.i18n import Text
from service.life_circle import errors

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
RULE_CHOICES = ("weekly", "closed") + DAYS
LOOKAHEAD_DAYS = 14
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")


class HoursError(ValueError):
    """A problem with an hours document: the path of the bad part and a message in both languages."""

    def __init__(self, path: str, message: Text):
        super().__init__(f"{path}: {message.en}")
        self.path, self.message = path, message


def _minutes(text, path: str) -> int:
    if not isinstance(text, str) or not _TIME.match(text):
        raise HoursError(path, errors.TIME_FORMAT)
    hh, mm = text.split(":")
    return int(hh) * 60 + int(mm)


def _periods(value, path: str) -> list[list[str]]:
    if not isinstance(value, list) or len(value) > 6:
        raise HoursError(path, errors.PERIODS)
    out = []
    for i, period in enumerate(value):
        at = f"{path}[{i}]"
        if not isinstance(period, (list, tuple)) or len(period) != 2:
            raise HoursError(at, errors.PERIOD)
        start, end = _minutes(period[0], f"{at}[0]"), _minutes(period[1], f"{at}[1]")
        if start == 24 * 60:
            raise HoursError(f"{at}[0]", errors.START_AT_MIDNIGHT)
        if start == end:
            raise HoursError(at, errors.START_IS_END)
        out.append([period[0], period[1]])
    return out


def normalise(value) -> dict | None:
    """Validate an hours document and return it in canonical form (raises HoursError)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise HoursError("hours", errors.NOT_OBJECT)
    unknown = set(value) - {"always_open", "weekly", "holiday", "makeup_workday", "exceptions"}
    if unknown:
        raise HoursError(f"hours.{sorted(unknown)[0]}", errors.UNKNOWN_FIELD)
    always = value.get("always_open", False)
    if not isinstance(always, bool):
        raise HoursError("hours.always_open", errors.TRUE_OR_FALSE)
    weekly_in = value.get("weekly") or {}
    if not isinstance(weekly_in, dict) or set(weekly_in) - set(DAYS):
        raise HoursError("hours.weekly", errors.day_keys(DAYS))
    weekly = {day: _periods(weekly_in[day], f"hours.weekly.{day}") for day in DAYS if day in weekly_in}
    rules = {}
    for key in ("holiday", "makeup_workday"):
        choice = value.get(key, "weekly")
        if choice not in RULE_CHOICES:
            raise HoursError(f"hours.{key}", errors.one_of(RULE_CHOICES))
        rules[key] = choice
    exceptions = []
    seen = set()
    raw = value.get("exceptions") or []
    if not isinstance(raw, list) or len(raw) > 100:
        raise HoursError("hours.exceptions", errors.EXCEPTIONS)
    for i, item in enumerate(raw):
        at = f"hours.exceptions[{i}]"
        if not isinstance(item, dict):
            raise HoursError(at, errors.EXCEPTION)
        try:
            day = date.fromisoformat(str(item.get("date")))
        except ValueError:
            raise HoursError(f"{at}.date", errors.DATE_FORMAT) from None
        if day in seen:
            raise HoursError(f"{at}.date", errors.DATE_TWICE)
        seen.add(day)
        note = item.get("note")
        if note is not None and (not isinstance(note, str) or len(note) > 100):
            raise HoursError(f"{at}.note", errors.too_long(100))
        exceptions.append({"date": day.isoformat(), "periods": _periods(item.get("periods", []), f"{at}.periods"),
                           **({"note": note} if note else {})})
    exceptions.sort(key=lambda e: e["date"])
    return {"always_open": always, "weekly": weekly, **rules, "exceptions": exceptions}


def canonical(value) -> dict | None:
    """Stored hours in the canonical form ``normalise`` gives (every key, exceptions by date), so that two
    documents meaning the same hours compare equal; a document that does not validate is returned as it is."""
    try:
        return normalise(value)
    except HoursError:
        return value


# --- a compact text form for CSV files -------------------------------------------------------------------------

def parse_text(text: str) -> dict | None:
    """Hours from a CSV cell: empty → unknown; JSON (starts with "{"); or the compact form
    ``24h`` or ``mon-fri 08:00-11:30,13:30-17:00; sat 09:00-12:00; holiday closed; makeup mon``."""
    text = (text or "").strip()
    if not text:
        return None
    if text.startswith("{"):
        try:
            return normalise(json.loads(text))
        except json.JSONDecodeError:
            raise HoursError("hours", errors.NOT_JSON) from None
    doc: dict = {"weekly": {}}
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        if part.lower() in ("24h", "24小时", "always"):
            doc["always_open"] = True
            continue
        words = part.split()
        if len(words) != 2:
            raise HoursError("hours", errors.unreadable(part))
        head, body = words[0].lower(), words[1]
        if head in ("holiday", "makeup"):
            doc["holiday" if head == "holiday" else "makeup_workday"] = body.lower()
            continue
        days = []
        for chunk in head.split(","):
            if "-" in chunk:
                first, last = chunk.split("-", 1)
                if first not in DAYS or last not in DAYS:
                    raise HoursError("hours", errors.unknown_day_in(chunk))
                days.extend(DAYS[DAYS.index(first):DAYS.index(last) + 1])
            elif chunk in DAYS:
                days.append(chunk)
            else:
                raise HoursError("hours", errors.unknown_day(chunk))
        periods = [] if body.lower() == "closed" else [p.split("-", 1) for p in body.split(",")]
        if any(len(p) != 2 for p in periods):
            raise HoursError("hours", errors.period_text(part))
        for day in days:
            doc["weekly"][day] = periods
    return normalise(doc)


# --- evaluation ------------------------------------------------------------------------------------------------
#
# An hours document is compiled once into a Schedule (periods as whole minutes from the day's local
# midnight), and the days around a moment into a Days (each day's date, weekday and kind, read once
# for however many facilities are evaluated at that moment). Times are compared as local wall-clock
# microseconds from today's midnight: periods start and end on whole minutes.

_US = 60_000_000          # microseconds in a minute
_DAY = 24 * 60
_ALWAYS = ((0, _DAY),)


def _hm(text: str) -> int:
    """Minutes of a stored (already validated) HH:MM."""
    return int(text[:2]) * 60 + int(text[3:5])


def _compile(periods) -> tuple[tuple[int, int], ...]:
    """[[start, end], …] → sorted (start, end) minutes, an end at or before the start moved past midnight."""
    out = []
    for start, end in periods or ():
        s, e = _hm(start), _hm(end)
        out.append((s, e if e > s else e + _DAY))
    return tuple(sorted(out))


class Schedule:
    """An hours document ready for evaluation (see the module docstring for the document)."""

    __slots__ = ("always_open", "weekly", "holiday", "makeup_workday", "exceptions")

    def __init__(self, hours: dict):
        self.always_open = bool(hours.get("always_open"))
        weekly = hours.get("weekly") or {}
        self.weekly = {day: _compile(weekly.get(day)) for day in DAYS}
        self.holiday = hours.get("holiday", "weekly")
        self.makeup_workday = hours.get("makeup_workday", "weekly")
        self.exceptions: dict[str, tuple] = {}
        for item in hours.get("exceptions") or ():
            self.exceptions.setdefault(item["date"], _compile(item["periods"]))   # the first listed wins

    def periods(self, iso: str, weekday: int, kind: str) -> tuple[tuple[int, int], ...]:
        """The periods that start on a day (after exceptions and the holiday rules)."""
        if self.exceptions:
            found = self.exceptions.get(iso)
            if found is not None:
                return found
        if self.always_open:
            return _ALWAYS
        rule = self.holiday if kind == "holiday" else self.makeup_workday if kind == "makeup_workday" else "weekly"
        if rule == "closed":
            return ()
        return self.weekly.get(DAYS[weekday] if rule == "weekly" else rule, ())


class Days:
    """The local (Asia/Shanghai) days around one moment, with their kinds from service/calendar.py."""

    __slots__ = ("midnight", "today", "t", "_days")

    def __init__(self, moment: datetime):
        local = moment.astimezone(SHANGHAI)
        self.today = local.date()
        self.midnight = datetime.combine(self.today, time(0), tzinfo=SHANGHAI)
        self.t = ((local.hour * 60 + local.minute) * 60 + local.second) * 1_000_000 + local.microsecond
        self._days: dict[int, tuple[str, int, str]] = {}

    def day(self, offset: int) -> tuple[str, int, str]:
        """(ISO date, weekday, kind) of today + ``offset`` days."""
        found = self._days.get(offset)
        if found is None:
            day = self.today + timedelta(days=offset)
            found = self._days[offset] = (day.isoformat(), day.weekday(), calendar.day_kind(day))
        return found

    def at(self, minutes: int) -> datetime:
        """The local time ``minutes`` after today's midnight."""
        return self.midnight + timedelta(minutes=minutes)


_CLOSED = {"open_now": False, "closes_at": None, "next_open_at": None}
_UNKNOWN = {"open_now": None, "closes_at": None, "next_open_at": None}


def evaluate(schedule: Schedule | None, status: str, days: Days) -> dict:
    """{"open_now": bool | None, "closes_at", "next_open_at"} at the moment of ``days``. ``open_now`` is
    None when the hours are unknown; a facility that is not open (planned, building, closed) is never open.

    Open now: a period that started yesterday or today contains the moment (start ≤ now < end). Then
    ``closes_at`` is the end of that spell (periods that touch are one spell; None past the lookahead).
    Closed: ``next_open_at`` is the first start after now within LOOKAHEAD_DAYS days (None if none)."""
    if status != "open":
        return dict(_CLOSED)
    if schedule is None:
        return dict(_UNKNOWN)
    t = days.t
    end = None
    for base, day in ((-_DAY, days.day(-1)), (0, days.day(0))):
        for s, e in schedule.periods(*day):
            if (base + s) * _US <= t < (base + e) * _US and (end is None or base + e > end):
                end = base + e
    if end is not None:
        return {"open_now": True, "closes_at": _closes(schedule, days, end), "next_open_at": None}
    for offset in range(LOOKAHEAD_DAYS + 1):
        base = offset * _DAY
        for s, _ in schedule.periods(*days.day(offset)):
            if (base + s) * _US > t:
                return {"open_now": False, "closes_at": None, "next_open_at": days.at(base + s)}
    return dict(_CLOSED)


def _closes(schedule: Schedule, days: Days, end: int) -> datetime | None:
    """When an open spell ending at ``end`` (minutes from today's midnight) really ends: a period that
    starts on the day of ``end`` exactly at ``end`` carries it on. None if it runs on beyond the lookahead."""
    for _ in range(LOOKAHEAD_DAYS):
        offset = end // _DAY
        base = offset * _DAY
        following = [base + e for s, e in schedule.periods(*days.day(offset)) if base + s == end and base + e > end]
        if not following:
            return days.at(end)
        end = max(following)
    return None


def state(hours: dict | None, status: str, moment: datetime) -> dict:
    """``evaluate`` for one hours document at one moment."""
    return evaluate(Schedule(hours) if hours is not None and status == "open" else None, status, Days(moment))


def is_open(hours: dict | None, status: str, moment: datetime) -> bool | None:
    return state(hours, status, moment)["open_now"]
