"""Working days in Asia/Shanghai: weekends, public holidays and 调休 make-up working days.

Sources, for a day, in order:

1. the official arrangement of its year (国务院办公厅 notice) loaded by a district admin
   (``PUT /api/v1/calendar/{year}`` or ``flask calendar load``; table ``calendar_arrangement``):
   its days off and make-up working days, every other day Monday–Friday;
2. the operator's override file (config/rules/calendar.yaml): single days, and ``years`` it
   describes completely;
3. the chinese_calendar package (2004–2026 in 1.11);
4. the statutory holidays of 《全国年节及纪念日放假办法》 (as amended in 2024, in force from 2025),
   computed for any year (lunar dates from lunardate, the 清明 solar term from chinese_calendar),
   every other day Monday–Friday. Every answer that depended on this guess is **provisional**.

A process keeps the calendar in memory and checks the table for a newly loaded arrangement at most
every ``CALENDAR_REFRESH_SECONDS`` (one small query), so a load reaches every web worker and the
scheduler without a restart.
"""
from __future__ import annotations

import functools
import time as _time
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Callable

import chinese_calendar
import sqlalchemy as sa
from lunardate import LunarDate

from service import clock, labels, rules
from service.clock import SHANGHAI
from service.db import session_usable
from service.platform_errors import ArrangementInvalid, DistrictAdminRequired, YearOutOfRange

KINDS = ("holiday", "makeup_workday")
# The statutory rule (2024 amendment) applies from this year; the lunar library covers up to 2099.
FIRST_RULE_YEAR = 2025
FIRST_YEAR, LAST_YEAR = 2004, 2099


@dataclass(frozen=True)
class Deadline:
    at: datetime  # aware, the last second of the due day in Asia/Shanghai
    provisional: bool


@dataclass(frozen=True)
class Arrangement:
    """A year's official arrangement as loaded."""
    year: int
    notice: str
    published_on: date
    holidays: frozenset
    workdays: frozenset
    revision: int = 0
    loaded_at: datetime | None = None


# --- the statutory rule --------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=256)
def statutory_holidays(year: int) -> dict[date, str]:
    """The statutory days off of ``year`` under the 2024 rule (11 → 13 days): 元旦 1 January; 春节 除夕
    (the last day of the 12th lunar month) and 正月初一 to 初三; 清明 the day of the solar term;
    劳动节 1–2 May; 端午 五月初五; 中秋 八月十五; 国庆 1–3 October. Day → festival code."""
    days = {date(year, 1, 1): "new_year", date(year, 5, 1): "labour_day", date(year, 5, 2): "labour_day",
            date(year, 10, 1): "national_day", date(year, 10, 2): "national_day", date(year, 10, 3): "national_day"}
    try:
        new_year = LunarDate(year, 1, 1).to_solar_date()
        for offset in (-1, 0, 1, 2):
            days[new_year + timedelta(days=offset)] = "spring_festival"
        days[LunarDate(year, 5, 5).to_solar_date()] = "dragon_boat"
        days[LunarDate(year, 8, 15).to_solar_date()] = "mid_autumn"
    except ValueError:  # beyond the lunar tables (1900–2099): the fixed days only
        pass
    try:
        for day, name in chinese_calendar.get_solar_terms(date(year, 4, 1), date(year, 4, 30)):
            if name == "清明":
                days[day] = "qingming"
    except (ValueError, KeyError, IndexError):
        pass
    return dict(sorted(days.items()))


def _package_knows(year: int) -> bool:
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


# --- one version of the calendar --------------------------------------------------------------------------------

class Calendar:
    """The calendar from one set of sources (immutable; a new load builds a new one)."""

    def __init__(self, arrangements: dict[int, Arrangement], overrides: dict[date, str], override_years: set[int]):
        self.arrangements = dict(arrangements)
        self.overrides = dict(overrides)
        self.override_years = set(override_years)
        self._notice_days: dict[date, str] = {}
        # A notice may name days of the adjacent years (a 元旦 bridge); its own year's notice wins a day.
        for arrangement in sorted(self.arrangements.values(), key=lambda a: a.year):
            for day in arrangement.holidays:
                if day.year == arrangement.year or day not in self._notice_days:
                    self._notice_days[day] = "holiday"
            for day in arrangement.workdays:
                if day.year == arrangement.year or day not in self._notice_days:
                    self._notice_days[day] = "makeup_workday"
        self._kinds: dict[date, tuple[str, bool]] = {}

    def with_arrangement(self, arrangement: Arrangement) -> Calendar:
        return Calendar({**self.arrangements, arrangement.year: arrangement}, self.overrides, self.override_years)

    def source(self, year: int) -> str:
        if year in self.arrangements:
            return "notice"
        if year in self.override_years:
            return "config"
        if _package_knows(year):
            return "package"
        return "statutory"

    def kind(self, day: date) -> tuple[str, bool]:
        """(kind, provisional?): "workday", "weekend", "holiday" (a public holiday, its weekend days
        included) or "makeup_workday" (a 调休 weekend day that is worked)."""
        found = self._kinds.get(day)
        if found is None:
            found = self._kinds[day] = self._kind(day)
        return found

    def _kind(self, day: date) -> tuple[str, bool]:
        weekday = "weekend" if day.weekday() >= 5 else "workday"
        kind = self._notice_days.get(day)
        if kind is not None:
            return kind, False
        if day.year in self.arrangements:
            return weekday, False
        kind = self.overrides.get(day)
        if kind is not None:
            return kind, False
        if day.year in self.override_years:
            return weekday, False
        try:
            on_holiday, name = chinese_calendar.get_holiday_detail(day)
        except NotImplementedError:
            pass
        else:
            if on_holiday:
                return ("holiday" if name else "weekend"), False
            return ("makeup_workday" if day.weekday() >= 5 else "workday"), False
        if day in statutory_holidays(day.year):
            return "holiday", True
        return weekday, True

    def is_working_day(self, day: date) -> tuple[bool, bool]:
        kind, provisional = self.kind(day)
        return kind in ("workday", "makeup_workday"), provisional

    def next_working_day(self, day: date) -> tuple[date, bool]:
        provisional = False
        while True:
            day += timedelta(days=1)
            working, guess = self.is_working_day(day)
            provisional |= guess
            if working:
                return day, provisional

    def nth_working_day_after(self, day: date, n: int) -> tuple[date, bool]:
        """The ``n``-th working day after ``day`` (``n`` >= 0; 0: ``day`` itself if working, else the next)."""
        if n < 0:
            raise ValueError("n must be >= 0")
        provisional = False
        for _ in range(n):
            day, guess = self.next_working_day(day)
            provisional |= guess
        if n == 0:
            working, guess = self.is_working_day(day)
            provisional |= guess
            if not working:
                day, guess = self.next_working_day(day)
                provisional |= guess
        return day, provisional

    def working_days_between(self, after: date, until: date) -> int:
        count, day = 0, after
        while day < until:
            day += timedelta(days=1)
            if self.is_working_day(day)[0]:
                count += 1
        return count

    def provisional_between(self, after: date, until: date) -> bool:
        """Whether any day in (after, until] is a guess (lies in a year only the statutory rule knows)."""
        return any(self.source(year) == "statutory" for year in range(after.year, until.year + 1)
                   if date(year, 12, 31) > after)


# --- the process's calendar ---------------------------------------------------------------------------------------

_current = Calendar({}, {}, set())
_signature: frozenset | None = None  # (year, revision, loaded_at) of the rows the current calendar was built from
_checked_at = float("-inf")
_refresh_seconds = 5.0
_listeners: dict[str, Callable] = {}


def configure(refresh_seconds: float) -> None:
    global _refresh_seconds
    _refresh_seconds = float(refresh_seconds)


def current() -> Calendar:
    """The calendar now, after checking the table for a new load when the last check is old enough."""
    if _time.monotonic() - _checked_at >= _refresh_seconds and session_usable():
        refresh()
    return _current


def refresh(force: bool = False) -> bool:
    """Read the loaded arrangements when they changed since the last read (one small query to tell).
    Returns True when the calendar changed."""
    global _current, _signature, _checked_at
    from models.base import db
    from models.calendar import CalendarArrangement as Row

    _checked_at = _time.monotonic()
    signature = frozenset(db.session.execute(sa.select(Row.year, Row.revision, Row.loaded_at)).tuples())
    if signature == _signature and not force:
        return False
    rows = db.session.execute(sa.select(Row)).scalars().all()
    arrangements = {row.year: _arrangement(row) for row in rows}
    _current = Calendar(arrangements, _current.overrides, _current.override_years)
    _signature = signature
    return True


def forget() -> None:
    """Drop the loaded arrangements from memory, as if the table were empty (tests roll back their loads)."""
    global _current, _signature, _checked_at
    _current = Calendar({}, _current.overrides, _current.override_years)
    _signature, _checked_at = frozenset(), _time.monotonic()


def _arrangement(row) -> Arrangement:
    return Arrangement(year=row.year, notice=row.notice, published_on=row.published_on,
                       holidays=frozenset(date.fromisoformat(d) for d in row.holidays),
                       workdays=frozenset(date.fromisoformat(d) for d in row.workdays),
                       revision=row.revision, loaded_at=row.loaded_at)


def subscribe(name: str, listener: Callable) -> None:
    """Call ``listener(old, new, arrangement, now)`` inside the transaction that loads an arrangement
    (a domain moves its open deadlines); it returns a count of what it changed. Keyed by ``name``."""
    _listeners[name] = listener


def load(directory=None) -> None:
    """Read and validate the override file (called at start-up)."""
    data = rules.load("calendar", directory)
    years = data.get("years") or []
    days = data.get("days") or []
    rules.require(isinstance(years, list) and all(isinstance(y, int) for y in years), "calendar.yaml",
                  "'years' must be a list of years")
    rules.require(isinstance(days, list), "calendar.yaml", "'days' must be a list")
    overrides = {}
    for index, entry in enumerate(days):
        rules.require(isinstance(entry, dict) and isinstance(entry.get("date"), date), "calendar.yaml",
                      f"days[{index}] needs a date (YYYY-MM-DD)")
        rules.require(entry.get("kind") in KINDS, "calendar.yaml", f"days[{index}].kind must be one of {KINDS}")
        overrides[entry["date"]] = entry["kind"]
    set_overrides(overrides, set(years))


def set_overrides(overrides: dict[date, str], years: set[int] | None = None) -> None:
    """Replace the operator overrides (start-up and tests)."""
    global _current
    _current = Calendar(_current.arrangements, overrides, set(years or ()))


# --- the questions the domains ask ------------------------------------------------------------------------------

def is_working_day(day: date) -> tuple[bool, bool]:
    """(working?, provisional?) for one day."""
    return current().is_working_day(day)


def next_working_day(day: date) -> tuple[date, bool]:
    """The first working day strictly after ``day``."""
    return current().next_working_day(day)


def add_working_days(start: datetime, n: int) -> Deadline:
    """"Within N working days" of ``start``: by 23:59:59 Asia/Shanghai of the N-th working day after the start day."""
    day, provisional = current().nth_working_day_after(start.astimezone(SHANGHAI).date(), n)
    return Deadline(end_of_day(day), provisional)


def end_of_day(day: date) -> datetime:
    return datetime.combine(day, time(23, 59, 59), tzinfo=SHANGHAI)


def working_days_between(after: date, until: date) -> int:
    """Working days d with after < d <= until."""
    return current().working_days_between(after, until)


def day_kind(day: date) -> str:
    """What kind of day ``day`` is in Asia/Shanghai: "workday", "weekend", "holiday" (a public
    holiday, including its weekend days) or "makeup_workday" (a 调休 weekend day that is worked)."""
    return current().kind(day)[0]


def source_name(source: str, lang: str = "zh") -> str:
    return labels.name("calendar", "source", source, lang)


def festival_name(code: str, lang: str = "zh") -> str:
    return labels.name("calendar", "festival", code, lang)


# --- a year's calendar, and loading its official arrangement -------------------------------------------------------

WEEKDAYS = (("周一", "Monday"), ("周二", "Tuesday"), ("周三", "Wednesday"), ("周四", "Thursday"),
            ("周五", "Friday"), ("周六", "Saturday"), ("周日", "Sunday"))


class _CliActor:
    """The operator running ``flask calendar load`` on a server (audited with no user)."""
    user_id = None
    acting_role = "cli"
    is_admin = True
    ip = None

    def scope_ids(self, role, scope_type):
        return set()


CLI_ACTOR = _CliActor()


def _check_year(year, first: int) -> int:
    if isinstance(year, bool) or not isinstance(year, int) or not first <= year <= LAST_YEAR:
        raise YearOutOfRange(first=first, last=LAST_YEAR)
    return year


def year_view(year: int, lang: str = "zh", calendar: Calendar | None = None) -> dict:
    """The working-day calendar of ``year``: where it comes from, whether it is a guess, its days off
    (weekend days inside a holiday included) and make-up working days, and the statutory days."""
    _check_year(year, FIRST_YEAR)
    cal = calendar or current()
    source = cal.source(year)
    holidays, workdays, working = [], [], 0
    day = date(year, 1, 1)
    while day.year == year:
        kind = cal.kind(day)[0]
        if kind == "holiday":
            holidays.append(day)
        elif kind == "makeup_workday":
            workdays.append(day)
        if kind in ("workday", "makeup_workday"):
            working += 1
        day += timedelta(days=1)
    arrangement = cal.arrangements.get(year)
    statutory = [{"date": d, "festival": code, "festival_name": festival_name(code, lang)}
                 for d, code in statutory_holidays(year).items()] if year >= FIRST_RULE_YEAR else []
    return {"year": year, "source": source, "source_name": source_name(source, lang),
            "provisional": source == "statutory",
            "notice": arrangement.notice if arrangement else None,
            "published_on": arrangement.published_on if arrangement else None,
            "loaded_at": arrangement.loaded_at.astimezone(SHANGHAI) if arrangement and arrangement.loaded_at else None,
            "holidays": holidays, "workdays": workdays, "working_days": working, "statutory_holidays": statutory}


def problems(year: int, data: dict, lang: str = "zh") -> dict[str, list[str]]:
    """Every reason the arrangement cannot be loaded, by field (``holidays[2]`` is the third holiday)."""
    en = lang == "en"
    found: dict[str, list[str]] = {}

    def add(field, zh, english):
        found.setdefault(field, []).append(english if en else zh)

    notice = data.get("notice")
    if not isinstance(notice, str) or not notice.strip():
        add("notice", "请填写通知文号", "The notice's document number is required")
    elif len(notice.strip()) > 64:
        add("notice", "文号不能超过64字", "At most 64 characters")
    published = data.get("published_on")
    if not isinstance(published, date) or isinstance(published, datetime):
        add("published_on", "请填写发布日期（YYYY-MM-DD）", "The publication date is required (YYYY-MM-DD)")
    elif published > clock.now().astimezone(SHANGHAI).date():
        add("published_on", "发布日期不能晚于今天", "The publication date cannot be in the future")
    first, last = date(year - 1, 12, 1), date(year + 1, 1, 31)
    lists = {}
    for field in ("holidays", "workdays"):
        values = data.get(field)
        if values is None and field == "workdays":
            values = []
        if not isinstance(values, list) or (field == "holidays" and not values):
            add(field, "请列出放假日期" if field == "holidays" else "调休上班日期应为列表",
                "List the days off" if field == "holidays" else "The make-up working days must be a list")
            lists[field] = []
            continue
        seen = set()
        for index, day in enumerate(values):
            name = f"{field}[{index}]"
            if not isinstance(day, date) or isinstance(day, datetime):
                add(name, "应为日期（YYYY-MM-DD）", "Must be a date (YYYY-MM-DD)")
                continue
            if day in seen:
                add(name, f"{day} 重复列出", f"{day} is listed twice")
            seen.add(day)
            if not first <= day <= last:
                add(name, f"{day} 不在{year}年及其前后相邻的月份内",
                    f"{day} is not in {year} or the month before or after it")
            if field == "workdays" and day.weekday() < 5:
                zh_day, en_day = WEEKDAYS[day.weekday()]
                add(name, f"{day} 是{zh_day}：调休上班日应在周末", f"{day} is a {en_day}: a make-up working day "
                                                                  "falls on a Saturday or Sunday")
        lists[field] = values
    holidays = {d for d in lists["holidays"] if isinstance(d, date)}
    for index, day in enumerate(lists["workdays"]):
        if isinstance(day, date) and day in holidays:
            add(f"workdays[{index}]", f"{day} 不能既放假又调休上班", f"{day} cannot be both a holiday and a working day")
    if data.get("holidays"):
        for day, code in statutory_holidays(year).items():
            if day not in holidays:
                add("holidays", f"{day}（{festival_name(code)}）是法定节假日，应列为放假日",
                    f"{day} ({festival_name(code, 'en')}) is a statutory holiday and must be among the holidays")
    return found


def load_arrangement(actor, year: int, data: dict, *, lang: str = "zh") -> dict:
    """Load ``year``'s official arrangement (district admins; the CLI): validated, stored, audited; every
    open case's future deadlines follow it (the domains subscribed). Every process sees it within
    ``CALENDAR_REFRESH_SECONDS``, this one at once. Refused with every problem named, changing nothing."""
    global _checked_at
    result = _load_arrangement(actor, year, data, lang)
    _checked_at = float("-inf")  # committed: this process reads it back on its next question
    return result


def _may_load(actor) -> bool:
    return actor is CLI_ACTOR or (getattr(actor, "is_admin", False) and bool(actor.scope_ids("admin", "district")))


def _load_arrangement(actor, year, data, lang):
    from service.db import transactional

    return transactional(_load_in_transaction)(actor, year, data, lang)


def _load_in_transaction(actor, year, data, lang):
    from models.base import db
    from models.calendar import CalendarArrangement as Row
    from service import audit

    if not _may_load(actor):
        raise DistrictAdminRequired()
    _check_year(year, FIRST_RULE_YEAR)
    found = problems(year, data, lang)
    if found:
        first = next(iter(found.values()))[0]
        raise ArrangementInvalid(first=first, errors=found)
    now = clock.now()
    old = current()
    row = db.session.get(Row, year, with_for_update=True)
    before = None
    holidays = sorted(set(data["holidays"]))
    workdays = sorted(set(data.get("workdays") or []))
    values = {"notice": data["notice"].strip(), "published_on": data["published_on"],
              "holidays": [d.isoformat() for d in holidays], "workdays": [d.isoformat() for d in workdays]}
    if row is None:
        row = Row(year=year, revision=1, loaded_at=now, loaded_by=actor.user_id, **values)
        db.session.add(row)
    else:
        before = {"notice": row.notice, "published_on": row.published_on.isoformat(), "holidays": row.holidays,
                  "workdays": row.workdays, "revision": row.revision}
        for name, value in values.items():
            setattr(row, name, value)
        row.revision, row.loaded_at, row.loaded_by = row.revision + 1, now, actor.user_id
    db.session.flush()
    arrangement = _arrangement(row)
    new = old.with_arrangement(arrangement)
    changed = {name: listener(old, new, arrangement, now) for name, listener in sorted(_listeners.items())}
    audit.record(actor, "calendar.arrangement_loaded", "calendar", year, before=before,
                 after={**values, "published_on": values["published_on"].isoformat(), "revision": row.revision,
                        "changed": changed}, street_id=None)
    return {**year_view(year, lang, new), "changed": changed}


# --- nobody is surprised ----------------------------------------------------------------------------------------------

def missing_years(today: date | None = None) -> list[int]:
    """The years whose arrangement is awaited: this year, and from 1 November next year, when only the
    statutory rule knows them."""
    today = today or clock.now().astimezone(SHANGHAI).date()
    years = [today.year] + ([today.year + 1] if today.month >= 11 else [])
    cal = current()
    return [year for year in years if cal.source(year) == "statutory"]


def warnings(lang: str = "zh") -> list[dict]:
    """What /readyz reports (a warning, not a failure) while an arrangement is awaited."""
    return [{"code": "calendar.arrangement_missing", "year": year,
             "message": (f"The State Council's holiday arrangement for {year} is not loaded: deadlines in {year} "
                         f"are provisional (PUT /api/v1/calendar/{year})") if lang == "en" else
             (f"{year}年放假安排尚未导入，该年的办理时限为暂定（PUT /api/v1/calendar/{year}）")}
            for year in missing_years()]


def remind_admins() -> dict:
    """Tell every active district admin, once a week, which arrangement is awaited. Commits."""
    from models.base import db
    from models.people import RoleAssignment, User
    from service import notifications
    from service.db import transactional

    years = missing_years()
    if not years:
        return {"years": [], "notified": 0}
    today = clock.now().astimezone(SHANGHAI).date()
    week = "%d-W%02d" % today.isocalendar()[:2]

    @transactional
    def send():
        admins = db.session.execute(
            sa.select(RoleAssignment.user_id).join(User, User.id == RoleAssignment.user_id)
            .where(RoleAssignment.role == "admin", RoleAssignment.scope_type == "district",
                   User.is_active.is_(True)).distinct().order_by(RoleAssignment.user_id)).scalars().all()
        listed = "、".join(f"{y}年" for y in years)
        sent = 0
        for user_id in admins:
            sent += notifications.notify(
                user_id, kind="calendar.arrangement_missing", dedupe_key=f"calendar:missing:{week}:{user_id}",
                title=f"请导入{listed}放假安排",
                body=(f"国务院办公厅{listed}部分节假日安排尚未导入，相关办理时限按法定节假日推算，标为暂定。"
                      f"通知发布后请在管理后台或用 flask calendar load 导入。"),
                data={"years": years})
        return sent

    return {"years": years, "notified": send()}
