"""Working-day deadlines in Asia/Shanghai: weekends, National Day and Spring Festival with
their 调休 make-up working days, operator overrides, and years no one knows yet."""
from datetime import date, datetime

import pytest

from service import calendar
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


def test_a_year_the_calendar_does_not_know_falls_back_to_weekdays_and_is_provisional():
    day, _, provisional = due(at(2026, 12, 31), 1)
    assert day == date(2027, 1, 1) and provisional is True  # would be 元旦; nobody knows yet
    assert due(at(2026, 12, 30), 1) == (date(2026, 12, 31), (23, 59, 59), False)
    assert due(at(2030, 3, 1), 1)[0] == date(2030, 3, 4)  # Friday → Monday, no crash


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
