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
from service.errors import InvalidInput

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_ZH = {"mon": "周一", "tue": "周二", "wed": "周三", "thu": "周四", "fri": "周五", "sat": "周六", "sun": "周日"}
RULE_CHOICES = ("weekly", "closed") + DAYS
LOOKAHEAD_DAYS = 14
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")


class HoursError(ValueError):
    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}")
        self.path, self.message = path, message


def _minutes(text, path: str) -> int:
    if not isinstance(text, str) or not _TIME.match(text):
        raise HoursError(path, "time must be HH:MM (00:00–24:00)")
    hh, mm = text.split(":")
    return int(hh) * 60 + int(mm)


def _periods(value, path: str) -> list[list[str]]:
    if not isinstance(value, list) or len(value) > 6:
        raise HoursError(path, "must be a list of at most 6 [start, end] periods")
    out = []
    for i, period in enumerate(value):
        at = f"{path}[{i}]"
        if not isinstance(period, (list, tuple)) or len(period) != 2:
            raise HoursError(at, "a period is [start, end]")
        start, end = _minutes(period[0], f"{at}[0]"), _minutes(period[1], f"{at}[1]")
        if start == 24 * 60:
            raise HoursError(f"{at}[0]", "a period cannot start at 24:00")
        if start == end:
            raise HoursError(at, "start and end are the same")
        out.append([period[0], period[1]])
    return out


def normalise(value) -> dict | None:
    """Validate an hours document and return it in canonical form (raises HoursError)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise HoursError("hours", "must be an object")
    unknown = set(value) - {"always_open", "weekly", "holiday", "makeup_workday", "exceptions"}
    if unknown:
        raise HoursError(f"hours.{sorted(unknown)[0]}", "unknown field")
    always = value.get("always_open", False)
    if not isinstance(always, bool):
        raise HoursError("hours.always_open", "must be true or false")
    weekly_in = value.get("weekly") or {}
    if not isinstance(weekly_in, dict) or set(weekly_in) - set(DAYS):
        raise HoursError("hours.weekly", f"keys must be among {', '.join(DAYS)}")
    weekly = {day: _periods(weekly_in[day], f"hours.weekly.{day}") for day in DAYS if day in weekly_in}
    rules = {}
    for key in ("holiday", "makeup_workday"):
        choice = value.get(key, "weekly")
        if choice not in RULE_CHOICES:
            raise HoursError(f"hours.{key}", f"must be one of {', '.join(RULE_CHOICES)}")
        rules[key] = choice
    exceptions = []
    seen = set()
    raw = value.get("exceptions") or []
    if not isinstance(raw, list) or len(raw) > 100:
        raise HoursError("hours.exceptions", "must be a list of at most 100 dated exceptions")
    for i, item in enumerate(raw):
        at = f"hours.exceptions[{i}]"
        if not isinstance(item, dict):
            raise HoursError(at, "must be an object with date and periods")
        try:
            day = date.fromisoformat(str(item.get("date")))
        except ValueError:
            raise HoursError(f"{at}.date", "must be a date YYYY-MM-DD") from None
        if day in seen:
            raise HoursError(f"{at}.date", "the same date is listed twice")
        seen.add(day)
        note = item.get("note")
        if note is not None and (not isinstance(note, str) or len(note) > 100):
            raise HoursError(f"{at}.note", "must be text of at most 100 characters")
        exceptions.append({"date": day.isoformat(), "periods": _periods(item.get("periods", []), f"{at}.periods"),
                           **({"note": note} if note else {})})
    exceptions.sort(key=lambda e: e["date"])
    return {"always_open": always, "weekly": weekly, **rules, "exceptions": exceptions}


def validated(value, field: str = "hours") -> dict | None:
    """``normalise`` with a 422 naming the field on failure."""
    try:
        return normalise(value)
    except HoursError as exc:
        path = exc.path if field == "hours" else exc.path.replace("hours", field, 1)
        raise InvalidInput(path, f"营业时间有误（{path}）", exc.message, code="life_circle.hours_invalid") from None


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
            raise HoursError("hours", "not valid JSON") from None
    doc: dict = {"weekly": {}}
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        if part.lower() in ("24h", "24小时", "always"):
            doc["always_open"] = True
            continue
        words = part.split()
        if len(words) != 2:
            raise HoursError("hours", f"cannot read {part!r}")
        head, body = words[0].lower(), words[1]
        if head in ("holiday", "makeup"):
            doc["holiday" if head == "holiday" else "makeup_workday"] = body.lower()
            continue
        days = []
        for chunk in head.split(","):
            if "-" in chunk:
                first, last = chunk.split("-", 1)
                if first not in DAYS or last not in DAYS:
                    raise HoursError("hours", f"unknown day in {chunk!r}")
                days.extend(DAYS[DAYS.index(first):DAYS.index(last) + 1])
            elif chunk in DAYS:
                days.append(chunk)
            else:
                raise HoursError("hours", f"unknown day {chunk!r}")
        periods = [] if body.lower() == "closed" else [p.split("-", 1) for p in body.split(",")]
        if any(len(p) != 2 for p in periods):
            raise HoursError("hours", f"a period is HH:MM-HH:MM in {part!r}")
        for day in days:
            doc["weekly"][day] = periods
    return normalise(doc)


# --- evaluation ------------------------------------------------------------------------------------------------

def _day_periods(hours: dict, day: date) -> list[list[str]]:
    """The periods that start on ``day`` (local), after exceptions and the holiday rules."""
    for item in hours.get("exceptions") or ():
        if item["date"] == day.isoformat():
            return item["periods"]
    if hours.get("always_open"):
        return [["00:00", "24:00"]]
    weekly = hours.get("weekly") or {}
    key = DAYS[day.weekday()]
    kind = calendar.day_kind(day)
    rule = hours.get("holiday", "weekly") if kind == "holiday" else \
        hours.get("makeup_workday", "weekly") if kind == "makeup_workday" else "weekly"
    if rule == "closed":
        return []
    if rule != "weekly":
        key = rule
    return weekly.get(key) or []


def _hm(text: str) -> int:
    """Minutes of a stored (already validated) HH:MM."""
    return int(text[:2]) * 60 + int(text[3:5])


def _intervals(hours: dict, day: date) -> list[tuple[datetime, datetime]]:
    out = []
    for start, end in _day_periods(hours, day):
        s, e = _hm(start), _hm(end)
        begin = datetime.combine(day, time(0), tzinfo=SHANGHAI) + timedelta(minutes=s)
        finish = datetime.combine(day, time(0), tzinfo=SHANGHAI) + timedelta(minutes=e if e > s else e + 24 * 60)
        out.append((begin, finish))
    return sorted(out)


def state(hours: dict | None, status: str, moment: datetime) -> dict:
    """{"open_now": bool | None, "closes_at", "next_open_at"} at ``moment``. ``open_now`` is None when the
    hours are unknown; a facility that is not open (planned, building, closed) is never open."""
    if status != "open":
        return {"open_now": False, "closes_at": None, "next_open_at": None}
    if hours is None:
        return {"open_now": None, "closes_at": None, "next_open_at": None}
    local = moment.astimezone(SHANGHAI)
    today = local.date()
    spans = _intervals(hours, today - timedelta(days=1)) + _intervals(hours, today)
    current = [span for span in spans if span[0] <= local < span[1]]
    if current:
        return {"open_now": True, "closes_at": _closes(hours, max(end for _, end in current)), "next_open_at": None}
    for offset in range(LOOKAHEAD_DAYS + 1):
        for begin, _ in _intervals(hours, today + timedelta(days=offset)):
            if begin > local:
                return {"open_now": False, "closes_at": None, "next_open_at": begin}
    return {"open_now": False, "closes_at": None, "next_open_at": None}


def _closes(hours: dict, end: datetime) -> datetime | None:
    """When an open spell ending at ``end`` really ends (periods that touch are one spell); None if
    it runs on beyond the lookahead (24 hours)."""
    for _ in range(LOOKAHEAD_DAYS):
        following = [e for b, e in _intervals(hours, end.date()) if b == end and e > end]
        if not following:
            return end
        end = max(following)
    return None


def is_open(hours: dict | None, status: str, moment: datetime) -> bool | None:
    return state(hours, status, moment)["open_now"]
