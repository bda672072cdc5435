"""Visit plans: which recurrence rules a plan accepts, the days they give, and the due windows, with the 居委会's
windows moved past weekends and public holidays (the 2027 Spring Festival and National Day)."""
from __future__ import annotations

from datetime import date, datetime

import pytest

from service import calendar, clock
from service.care import errors, plans

SH = clock.SHANGHAI


def at(*args) -> datetime:
    return datetime(*args, tzinfo=SH)


@pytest.mark.parametrize("rule", ["FREQ=WEEKLY;BYDAY=MO,TH", "FREQ=MONTHLY;BYMONTHDAY=1", "FREQ=DAILY",
                                  "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=WE", "FREQ=YEARLY;BYMONTH=1;BYMONTHDAY=15",
                                  "FREQ=MONTHLY;BYDAY=2TU,-1FR", "FREQ=MONTHLY;BYMONTHDAY=13;BYDAY=FR"])
def test_rules_at_most_daily_are_accepted(rule):
    assert plans.check(rule).startswith("FREQ=")


@pytest.mark.parametrize("rule", ["FREQ=HOURLY", "FREQ=MINUTELY;INTERVAL=30", "FREQ=DAILY;BYHOUR=8,20",
                                  "FREQ=WEEKLY;BYDAY=XX", "weekly", "", "DTSTART:20270101T000000\nRRULE:FREQ=DAILY",
                                  "FREQ=DAILY;INTERVAL=0", "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
                                  "FREQ=WEEKLY;BYSETPOS=1;BYDAY=MO", "FREQ=MONTHLY;BYDAY=6FR", "FREQ=WEEKLY;BYDAY=+1MO",
                                  "FREQ=MONTHLY;BYMONTHDAY=1;BYDAY=+4MO", "FREQ=YEARLY;BYMONTH=13",
                                  "FREQ=DAILY;COUNT=-1", "FREQ=MONTHLY;BYMONTHDAY=0", "FREQ=MONTHLY;BYMONTHDAY=x"])
def test_rules_more_often_than_daily_or_broken_are_refused_naming_the_field(rule):
    with pytest.raises(errors.RruleInvalid) as refused:
        plans.check(rule, "rrule")
    assert refused.value.status == 422 and list(refused.value.errors) == ["rrule"]


def test_occurrences_are_the_rules_days_between_both_ends_included():
    days = plans.occurrences("FREQ=WEEKLY;BYDAY=MO,TH", date(2027, 3, 1), date(2027, 3, 1), date(2027, 3, 15))
    assert days == [date(2027, 3, 1), date(2027, 3, 4), date(2027, 3, 8), date(2027, 3, 11), date(2027, 3, 15)]
    assert plans.occurrences("FREQ=WEEKLY;BYDAY=MO,TH", date(2027, 3, 1), date(2027, 3, 2), date(2027, 3, 3)) == []
    assert plans.occurrences("FREQ=DAILY;COUNT=1", date(2027, 3, 5), date(2027, 3, 1), date(2027, 3, 31)) == [
        date(2027, 3, 5)]


def test_a_partners_window_is_its_day_from_midnight_for_window_days_whatever_the_calendar():
    # 2027-02-05 (除夕) for 3 days: ends on 初三's end, a holiday: a volunteer's window is not moved.
    assert plans.window(date(2027, 2, 5), 3, "partner") == (at(2027, 2, 5), at(2027, 2, 8))


def _first_working_day_after(day: date) -> date:
    return calendar.next_working_day(day)[0]


def test_a_staff_window_ending_in_the_spring_festival_is_moved_to_the_end_of_the_next_working_day():
    # The window's last day is 2027-02-06 (正月初一, a statutory holiday).
    assert calendar.is_working_day(date(2027, 2, 6))[0] is False
    earliest, latest = plans.window(date(2027, 1, 10), 28, "staff")
    after = _first_working_day_after(date(2027, 2, 6))
    # By the statutory rule (no 2027 notice yet): 除夕 to 初三 (5–8 February) off, Tuesday 9 February worked.
    assert after == date(2027, 2, 9)
    assert earliest == at(2027, 1, 10) and latest == at(2027, 2, 9, 23, 59, 59)
    # A window whose last day is the working day before (Thursday 4 February) is not moved.
    assert plans.window(date(2027, 1, 8), 28, "staff")[1] == at(2027, 2, 5)
    # The same window of a volunteer: not moved.
    assert plans.window(date(2027, 1, 10), 28, "partner")[1] == at(2027, 2, 7)


def test_a_staff_window_ending_on_national_day_is_moved_past_the_holiday():
    assert calendar.is_working_day(date(2027, 10, 2))[0] is False
    _, latest = plans.window(date(2027, 9, 5), 28, "staff")        # last day 2027-10-02
    assert _first_working_day_after(date(2027, 10, 2)) == date(2027, 10, 4)
    assert latest == at(2027, 10, 4, 23, 59, 59)
    # Last day 1 October (Friday, a holiday): the same Monday.
    assert plans.window(date(2027, 9, 4), 28, "staff")[1] == at(2027, 10, 4, 23, 59, 59)


def test_a_staff_window_whose_last_day_is_a_working_day_is_not_moved():
    # Last day Friday 2027-03-05 (closes at Saturday 00:00): a working day, nothing moves.
    assert calendar.is_working_day(date(2027, 3, 5))[0] is True
    assert plans.window(date(2027, 3, 1), 5, "staff") == (at(2027, 3, 1), at(2027, 3, 6))
    # One more day: the last day is Saturday 2027-03-06 → the end of Monday 2027-03-08.
    assert plans.window(date(2027, 3, 1), 6, "staff") == (at(2027, 3, 1), at(2027, 3, 8, 23, 59, 59))
