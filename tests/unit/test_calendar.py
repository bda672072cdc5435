"""Working-day deadlines in Asia/Shanghai: weekends, National Day and Spring Festival with
their 调休 make-up working days, operator overrides, and years no one knows yet."""
from datetime import date, datetime, timedelta

import pytest

from service import calendar, clock
from service.clock import SHANGHAI


@pytest.fixture(autouse=True)
def _no_overrides():
    calendar.set_overrides({})
    yield
    calendar.load()


def at(y, m, d, h=10):
    return datetime(y, m, d, h, tzinfo=SHANGHAI)


def due(start, n):
    result = calendar.add_working_days(start, n)
    local = result.at.astimezone(SHANGHAI)
    return local.date(), (local.hour, local.minute, local.second), result.provisional


def test_within_one_working_day_is_the_end_of_the_next_working_day():
    assert due(at(2026, 11, 17), 1) == (date(2026, 11, 18), (23, 59, 59), False)  # Tue → Wed


def test_a_friday_report_is_due_on_monday():
    assert due(at(2026, 11, 20), 1)[0] == date(2026, 11, 23)
    assert due(at(2026, 11, 20), 5)[0] == date(2026, 11, 27)


def test_a_weekend_report_counts_from_the_weekend_day():
    assert due(at(2026, 11, 21), 1)[0] == date(2026, 11, 23)  # Saturday → Monday


def test_late_evening_still_counts_from_that_day():
    assert due(at(2026, 11, 17, 23), 1)[0] == date(2026, 11, 18)


def test_national_day_2026_is_skipped_and_its_make_up_saturday_counts():
    # 2026: 10-01..10-07 off; Sunday 09-20 and Saturday 10-10 are working days.
    assert due(at(2026, 9, 30), 1)[0] == date(2026, 10, 8)
    assert due(at(2026, 9, 30), 2)[0] == date(2026, 10, 9)
    assert due(at(2026, 9, 30), 3)[0] == date(2026, 10, 10)  # the make-up Saturday
    assert due(at(2026, 9, 30), 4)[0] == date(2026, 10, 12)
    assert due(at(2026, 9, 19), 1)[0] == date(2026, 9, 20)  # the make-up Sunday


def test_spring_festival_2026_with_its_make_up_days():
    # 2026: 02-15..02-23 off; Saturdays 02-14 and 02-28 are working days.
    assert due(at(2026, 2, 13), 1)[0] == date(2026, 2, 14)
    assert due(at(2026, 2, 14), 1)[0] == date(2026, 2, 24)
    assert due(at(2026, 2, 14), 5)[0] == date(2026, 2, 28)


def test_a_year_the_calendar_does_not_know_keeps_its_statutory_holidays_and_is_provisional():
    # Thursday 2026-12-31: 1 January 2027 is 元旦 by statute, 2–3 are a weekend.
    assert due(at(2026, 12, 31), 1) == (date(2027, 1, 4), (23, 59, 59), True)
    assert due(at(2026, 12, 30), 1) == (date(2026, 12, 31), (23, 59, 59), False)
    assert due(at(2030, 3, 1), 1)[0] == date(2030, 3, 4)  # Friday → Monday, no crash
    assert due(at(2027, 9, 30), 1) == (date(2027, 10, 4), (23, 59, 59), True)  # 国庆 1–3, a Friday to a Sunday


def test_operator_overrides_win_and_make_a_year_known():
    calendar.set_overrides({date(2027, 1, 1): "holiday", date(2027, 1, 2): "holiday",
                            date(2027, 1, 3): "holiday"}, years={2027})
    assert due(at(2026, 12, 31), 1) == (date(2027, 1, 4), (23, 59, 59), False)
    calendar.set_overrides({date(2026, 11, 23): "holiday", date(2026, 11, 22): "makeup_workday"})
    assert due(at(2026, 11, 21), 1)[0] == date(2026, 11, 22)
    assert due(at(2026, 11, 22), 1)[0] == date(2026, 11, 24)


def test_zero_working_days_means_the_same_working_day():
    assert due(at(2026, 11, 17), 0)[0] == date(2026, 11, 17)
    assert due(at(2026, 10, 3), 0)[0] == date(2026, 10, 8)  # reported on a holiday


def test_working_days_between():
    assert calendar.working_days_between(date(2026, 9, 30), date(2026, 10, 12)) == 4
    assert calendar.working_days_between(date(2026, 11, 20), date(2026, 11, 20)) == 0


def test_bad_override_file_stops_with_a_clear_message(tmp_path):
    from service.rules import RulesError

    (tmp_path / "calendar.yaml").write_text("years: []\ndays:\n  - {date: 2027-01-01, kind: party}\n")
    with pytest.raises(RulesError, match=r"calendar.yaml: days\[0\].kind"):
        calendar.load(tmp_path)


# --- the statutory rule for years nobody has published yet --------------------------------------------------------

@pytest.mark.parametrize("year", [2025, 2026])
def test_the_statutory_days_are_holidays_in_the_published_arrangements(year):
    import chinese_calendar

    days = calendar.statutory_holidays(year)
    assert len(days) == 13  # 2024 amendment: 13 days (除夕 and 2 May added)
    for day in days:
        on_holiday, name = chinese_calendar.get_holiday_detail(day)
        assert on_holiday and name, day


def test_the_statutory_days_of_2027_from_the_lunar_calendar_and_the_solar_term():
    assert calendar.statutory_holidays(2027) == {
        date(2027, 1, 1): "new_year",
        date(2027, 2, 5): "spring_festival",  # 除夕, the 29th of the 12th month (a short month)
        date(2027, 2, 6): "spring_festival", date(2027, 2, 7): "spring_festival", date(2027, 2, 8): "spring_festival",
        date(2027, 4, 5): "qingming",
        date(2027, 5, 1): "labour_day", date(2027, 5, 2): "labour_day",
        date(2027, 6, 9): "dragon_boat",
        date(2027, 9, 15): "mid_autumn",
        date(2027, 10, 1): "national_day", date(2027, 10, 2): "national_day", date(2027, 10, 3): "national_day"}


@pytest.mark.parametrize("year, eve, last_day", [(2025, date(2025, 1, 28), 29), (2030, date(2030, 2, 2), 30)])
def test_new_years_eve_is_the_last_day_of_the_twelfth_month_29th_or_30th(year, eve, last_day):
    from lunardate import LunarDate

    lunar = LunarDate.from_solar_date(eve.year, eve.month, eve.day)
    assert (lunar.month, lunar.day) == (12, last_day)
    assert calendar.statutory_holidays(year)[eve] == "spring_festival"
    assert eve - timedelta(days=1) not in calendar.statutory_holidays(year)


def test_a_statutory_day_on_a_weekday_is_a_provisional_holiday_and_its_neighbours_are_not():
    assert calendar.is_working_day(date(2027, 6, 9)) == (False, True)   # 端午, a Wednesday
    assert calendar.is_working_day(date(2027, 6, 8)) == (True, True)
    assert calendar.is_working_day(date(2027, 6, 10)) == (True, True)
    assert calendar.day_kind(date(2027, 2, 5)) == "holiday"
    assert calendar.day_kind(date(2027, 2, 9)) == "workday"  # no arrangement yet: no bridge days


# --- a loaded arrangement, in every process ---------------------------------------------------------------------

ARRANGEMENT_2027 = {"notice": "国办发明电〔2026〕7号", "published_on": date(2026, 11, 12),
                    "holidays": [date(2027, 1, 1), date(2027, 1, 2), date(2027, 1, 3), date(2027, 1, 4),
                                 *[date(2027, 2, d) for d in range(5, 13)], date(2027, 4, 5),
                                 date(2027, 5, 1), date(2027, 5, 2), date(2027, 6, 9), date(2027, 9, 15),
                                 *[date(2027, 10, d) for d in range(1, 8)]],
                    "workdays": [date(2027, 1, 9), date(2027, 2, 20), date(2027, 9, 26)]}


def test_the_arrangement_is_checked_naming_each_date_and_rule():
    clock.set_now(at(2026, 12, 1))
    bad = {**ARRANGEMENT_2027,
           "holidays": [d for d in ARRANGEMENT_2027["holidays"] if d != date(2027, 10, 2)] + [date(2028, 3, 1)],
           "workdays": [date(2027, 1, 11), date(2027, 1, 9), date(2027, 1, 2), date(2027, 1, 9)],
           "published_on": date(2026, 12, 2)}
    found = calendar.problems(2027, bad, "en")
    holidays = len(bad["holidays"])
    assert found == {
        "published_on": ["The publication date cannot be in the future"],
        f"holidays[{holidays - 1}]": ["2028-03-01 is not in 2027 or the month before or after it"],
        "workdays[0]": ["2027-01-11 is a Monday: a make-up working day falls on a Saturday or Sunday"],
        "workdays[2]": ["2027-01-02 cannot be both a holiday and a working day"],
        "workdays[3]": ["2027-01-09 is listed twice"],
        "holidays": ["2027-10-02 (National Day) is a statutory holiday and must be among the holidays"]}
    assert calendar.problems(2027, ARRANGEMENT_2027) == {}
    # The month either side of the year is allowed (a 元旦 bridge), and no further.
    assert calendar.problems(2027, {**ARRANGEMENT_2027, "workdays": [date(2026, 12, 5), date(2028, 1, 30)]}) == {}
    assert set(calendar.problems(2027, {**ARRANGEMENT_2027, "workdays": [date(2026, 11, 29)]})) == {"workdays[0]"}
    assert calendar.problems(2027, {**ARRANGEMENT_2027, "notice": " "}, "en") == {
        "notice": ["The notice's document number is required"]}


def _store(year, arrangement, revision=1):
    from models.base import db
    from models.calendar import CalendarArrangement

    row = db.session.get(CalendarArrangement, year)
    values = {"notice": arrangement["notice"], "published_on": arrangement["published_on"],
              "holidays": [d.isoformat() for d in arrangement["holidays"]],
              "workdays": [d.isoformat() for d in arrangement["workdays"]], "revision": revision,
              "loaded_at": clock.now()}
    if row is None:
        db.session.add(CalendarArrangement(year=year, **values))
    else:
        for name, value in values.items():
            setattr(row, name, value)
    db.session.commit()


def test_an_arrangement_loaded_by_another_process_is_seen_after_the_refresh_interval(monkeypatch):
    import service.calendar as module

    ticks = [1000.0]
    monkeypatch.setattr(module._time, "monotonic", lambda: ticks[0])
    calendar.configure(5)
    try:
        calendar.refresh()
        assert due(at(2026, 12, 31), 1) == (date(2027, 1, 4), (23, 59, 59), True)
        _store(2027, ARRANGEMENT_2027)  # written by another process: this one has not heard of it
        ticks[0] += 4.9
        assert due(at(2026, 12, 31), 1)[0] == date(2027, 1, 4)  # within the interval: no query, the old answer
        ticks[0] += 0.1
        assert due(at(2026, 12, 31), 1) == (date(2027, 1, 5), (23, 59, 59), False)
        assert calendar.day_kind(date(2027, 1, 9)) == "makeup_workday"
        assert calendar.year_view(2027)["source"] == "notice"
        # Loaded again (a correction): the new revision replaces it.
        _store(2027, {**ARRANGEMENT_2027, "holidays": [d for d in ARRANGEMENT_2027["holidays"]
                                                       if d != date(2027, 1, 4)], "workdays": []}, revision=2)
        ticks[0] += 5
        assert due(at(2026, 12, 31), 1) == (date(2027, 1, 4), (23, 59, 59), False)
        assert calendar.day_kind(date(2027, 1, 9)) == "weekend"
    finally:
        calendar.configure(3600)


def test_the_check_for_a_new_load_is_one_small_query_at_most_every_interval(monkeypatch):
    import sqlalchemy as sa

    import service.calendar as module
    from models.base import db

    ticks = [2000.0]
    monkeypatch.setattr(module._time, "monotonic", lambda: ticks[0])
    calendar.configure(5)
    statements = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        calendar.refresh()
        statements.clear()
        for _ in range(3):
            calendar.add_working_days(at(2026, 12, 31), 5)
        assert statements == []
        ticks[0] += 5
        calendar.add_working_days(at(2026, 12, 31), 5)
        calendar.add_working_days(at(2026, 12, 31), 5)
        assert len(statements) == 1 and "calendar_arrangement" in statements[0]
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
        calendar.configure(3600)


def test_a_notice_wins_over_the_operator_file_for_its_year():
    calendar.set_overrides({date(2027, 1, 4): "makeup_workday", date(2027, 3, 1): "holiday"}, years={2027})
    _store(2027, ARRANGEMENT_2027)
    calendar.refresh()
    assert calendar.day_kind(date(2027, 1, 4)) == "holiday"  # the notice
    assert calendar.day_kind(date(2027, 3, 1)) == "workday"  # the file's day is not in the notice's year any more
    assert calendar.year_view(2027)["source"] == "notice"
