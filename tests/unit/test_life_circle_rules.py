"""Life-circle rules file: loaded and validated at start-up; walking estimate and opening hours."""
from datetime import date, datetime
from pathlib import Path

import pytest
import yaml

from config import RULES_DIR
from service import calendar, geo
from service.clock import SHANGHAI
from service.life_circle import hours, rules, walking
from service.rules import RulesError


def _write(tmp_path: Path, mutate) -> Path:
    data = yaml.safe_load((RULES_DIR / "life_circle.yaml").read_text(encoding="utf-8"))
    mutate(data)
    (tmp_path / "life_circle.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return tmp_path


def test_shipped_rules_have_the_brief_s_thresholds():
    assert rules.current().category("elder_care").threshold_m == 500
    assert rules.current().category("meal").threshold_m == 500
    assert rules.current().category("health").threshold_m == 1000
    assert rules.current().category("public_space").threshold_m == 300
    assert len(rules.current().categories()) == 19
    assert set(rules.current().required_codes()) == {"health", "elder_care", "meal", "commerce", "culture", "sport",
                                           "gov_service", "public_space"}
    assert rules.current().pace("standard").m_per_min == 60 and rules.current().pace("elder").m_per_min == 48


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["categories"][0].update(threshold_m=0), "threshold_m"),
    (lambda d: d["categories"][0].update(dimension="购物"), "dimension"),
    (lambda d: d["categories"].append(dict(d["categories"][0])), "duplicate"),
    (lambda d: d["walk"].update(detour_factor=0.9), "detour_factor"),
    (lambda d: d["paces"].pop("elder"), "elder"),
    (lambda d: [c.update(required=False) for c in d["categories"]], "required"),
])
def test_a_bad_rules_file_stops_the_start_with_a_clear_message(tmp_path, mutate, message):
    directory = _write(tmp_path, mutate)
    with pytest.raises(RulesError, match=message):
        rules.load(directory)
    rules.load()  # restore the shipped rules


# --- walking estimate --------------------------------------------------------------------------------------------

def test_walking_estimate_against_hand_computed_values():
    # 0.0045° of latitude = 2πR × 0.0045 / 360 = 500.378 m; × 1.3 = 650.49 → 650 m;
    # standard pace ⌈650 / 60⌉ = 11 min, elder ⌈650 / 48⌉ = 14 min.
    walk = walking.estimate(31.2, 121.4, 31.2045, 121.4)
    assert walk.distance_m == 500 and walk.walk_m == 650 and walk.minutes == 11 and walk.method == "estimated"
    assert walking.estimate(31.2, 121.4, 31.2045, 121.4, pace="elder").minutes == 14
    # Exact multiples: 600 m at 60 m/min is 10 minutes, 601 m is 11.
    assert walking.minutes_for(600) == 10 and walking.minutes_for(601) == 11
    assert walking.minutes_for(480, "elder") == 10 and walking.minutes_for(481, "elder") == 11
    assert walking.minutes_for(0) == 0
    # Network seconds win when known: ⌈61 / 60⌉ = 2.
    assert walking.minutes_for(10, "standard", walk_s=61) == 2


def test_grid_cells_cover_every_point_of_the_box():
    lat, lng = 31.2345, 121.4567
    box = walking.search_box(lat, lng, 700)
    cells = set(walking.cells_for_box(*box))
    for dlat in (-0.0063, 0, 0.0063):
        for dlng in (-0.0074, 0, 0.0074):
            assert walking.cell_of(lat + dlat, lng + dlng) in cells
    assert geo.distance_m(lat, lng, box[1], lng) > 700


# --- opening hours -----------------------------------------------------------------------------------------------

def at(y, m, d, hh, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


OFFICE = hours.normalise({"weekly": {d: [["08:30", "11:30"], ["13:30", "17:00"]] for d in
                                     ("mon", "tue", "wed", "thu", "fri")},
                          "holiday": "closed", "makeup_workday": "mon"})
NIGHT = hours.normalise({"weekly": {d: [["18:00", "02:00"]] for d in hours.DAYS}})


def test_opening_hours_on_an_ordinary_week():
    s = hours.state(OFFICE, "open", at(2026, 11, 20, 9))         # Friday 09:00
    assert s["open_now"] is True and s["closes_at"] == at(2026, 11, 20, 11, 30)
    s = hours.state(OFFICE, "open", at(2026, 11, 20, 12))        # lunch break
    assert s["open_now"] is False and s["next_open_at"] == at(2026, 11, 20, 13, 30)
    s = hours.state(OFFICE, "open", at(2026, 11, 20, 17))        # closing time itself is closed
    assert s["open_now"] is False and s["next_open_at"] == at(2026, 11, 23, 8, 30)   # Monday


def test_opening_hours_across_midnight():
    assert hours.is_open(NIGHT, "open", at(2026, 11, 21, 1, 59)) is True       # from Friday's evening
    assert hours.is_open(NIGHT, "open", at(2026, 11, 21, 2, 0)) is False
    s = hours.state(NIGHT, "open", at(2026, 11, 21, 23))
    assert s["open_now"] is True and s["closes_at"] == at(2026, 11, 22, 2)
    assert hours.state(NIGHT, "open", at(2026, 11, 21, 10))["next_open_at"] == at(2026, 11, 21, 18)


def test_public_holiday_closes_and_makeup_working_day_opens():
    assert calendar.day_kind(date(2026, 10, 1)) == "holiday"          # National Day, a Thursday
    assert hours.is_open(OFFICE, "open", at(2026, 10, 1, 9)) is False
    s = hours.state(OFFICE, "open", at(2026, 10, 1, 9))
    assert s["next_open_at"] == at(2026, 10, 8, 8, 30)                # 1–7 October off; Thursday 8th
    assert calendar.day_kind(date(2026, 10, 10)) == "makeup_workday"  # Saturday 调休
    assert hours.is_open(OFFICE, "open", at(2026, 10, 10, 9)) is True
    assert hours.is_open(OFFICE, "open", at(2026, 10, 17, 9)) is False  # an ordinary Saturday


def test_operator_calendar_overrides_are_honoured():
    try:
        calendar.set_overrides({date(2026, 11, 20): "holiday"})
        assert hours.is_open(OFFICE, "open", at(2026, 11, 20, 9)) is False
    finally:
        calendar.load()


def test_dated_exceptions_and_24_hours():
    doc = hours.normalise({"always_open": True, "exceptions": [{"date": "2026-11-21", "periods": [["08:00", "12:00"]]}]})
    assert hours.is_open(doc, "open", at(2026, 11, 20, 3)) is True
    assert hours.state(doc, "open", at(2026, 11, 20, 3))["closes_at"] == at(2026, 11, 21, 0)  # the exception day starts closed
    assert hours.is_open(doc, "open", at(2026, 11, 21, 13)) is False
    assert hours.state(doc, "open", at(2026, 11, 21, 13))["next_open_at"] == at(2026, 11, 22, 0)
    assert hours.state(None, "open", at(2026, 11, 21, 13))["open_now"] is None
    assert hours.is_open(doc, "closed", at(2026, 11, 20, 3)) is False


@pytest.mark.parametrize("bad, path", [
    ({"weekly": {"mon": [["8:00", "17:00"]]}}, "hours.weekly.mon[0][0]"),
    ({"weekly": {"mon": [["08:00", "08:00"]]}}, "hours.weekly.mon[0]"),
    ({"weekly": {"xyz": []}}, "hours.weekly"),
    ({"holiday": "sometimes"}, "hours.holiday"),
    ({"exceptions": [{"date": "2026-02-30", "periods": []}]}, "hours.exceptions[0].date"),
])
def test_bad_hours_name_the_field(bad, path):
    with pytest.raises(hours.HoursError) as exc:
        hours.normalise(bad)
    assert exc.value.path == path


def test_compact_text_hours():
    doc = hours.parse_text("mon-fri 08:30-11:30,13:30-17:00; sat 09:00-12:00; holiday closed; makeup mon")
    assert doc == hours.normalise({"weekly": {**{d: [["08:30", "11:30"], ["13:30", "17:00"]] for d in
                                                 ("mon", "tue", "wed", "thu", "fri")}, "sat": [["09:00", "12:00"]]},
                                   "holiday": "closed", "makeup_workday": "mon"})
    assert hours.parse_text("24h")["always_open"] is True
    assert hours.parse_text("") is None


# --- the compiled evaluator against a plain reading of the rules -------------------------------------------------

def _reference_state(doc, moment):
    """The rules read literally, with datetimes (the evaluator compiles them to minutes)."""
    from datetime import time, timedelta

    def periods(day):
        for item in doc.get("exceptions") or ():
            if item["date"] == day.isoformat():
                return item["periods"]
        if doc.get("always_open"):
            return [["00:00", "24:00"]]
        kind = calendar.day_kind(day)
        rule = doc.get("holiday", "weekly") if kind == "holiday" else \
            doc.get("makeup_workday", "weekly") if kind == "makeup_workday" else "weekly"
        if rule == "closed":
            return []
        return (doc.get("weekly") or {}).get(hours.DAYS[day.weekday()] if rule == "weekly" else rule) or []

    def spans(day):
        out = []
        for start, end in periods(day):
            s = int(start[:2]) * 60 + int(start[3:])
            e = int(end[:2]) * 60 + int(end[3:])
            midnight = datetime.combine(day, time(0), tzinfo=SHANGHAI)
            out.append((midnight + timedelta(minutes=s), midnight + timedelta(minutes=e if e > s else e + 1440)))
        return sorted(out)

    local = moment.astimezone(SHANGHAI)
    today = local.date()
    current = [sp for sp in spans(today - timedelta(days=1)) + spans(today) if sp[0] <= local < sp[1]]
    if current:
        end = max(e for _, e in current)
        for _ in range(hours.LOOKAHEAD_DAYS):
            following = [e for b, e in spans(end.date()) if b == end and e > end]
            if not following:
                return {"open_now": True, "closes_at": end, "next_open_at": None}
            end = max(following)
        return {"open_now": True, "closes_at": None, "next_open_at": None}
    for offset in range(hours.LOOKAHEAD_DAYS + 1):
        for begin, _ in spans(today + timedelta(days=offset)):
            if begin > local:
                return {"open_now": False, "closes_at": None, "next_open_at": begin}
    return {"open_now": False, "closes_at": None, "next_open_at": None}


@pytest.mark.parametrize("seed", range(6))
def test_open_now_matches_a_literal_reading_of_the_rules(seed):
    import random
    from datetime import timedelta

    rng = random.Random(seed)
    marks = ["00:00", "06:30", "08:00", "11:30", "12:00", "13:30", "17:00", "18:00", "22:00", "23:59", "24:00"]

    def period():
        start = rng.choice(marks[:-1])
        end = rng.choice([m for m in marks if m != start])
        return [start, end]

    checked = 0
    for _ in range(40):
        doc = {"always_open": rng.random() < 0.1,
               "weekly": {d: [period() for _ in range(rng.randint(0, 3))] for d in hours.DAYS if rng.random() < 0.8},
               "holiday": rng.choice(hours.RULE_CHOICES), "makeup_workday": rng.choice(hours.RULE_CHOICES),
               "exceptions": [{"date": f"2026-{m:02d}-{d:02d}", "periods": [period() for _ in range(rng.randint(0, 2))]}
                              for m, d in {(rng.choice((9, 10, 12)), rng.randint(1, 28)) for _ in range(3)}]}
        doc = hours.normalise(doc)
        for _ in range(25):
            # Around National Day (holidays and 调休 Saturdays), and at exact period edges.
            moment = datetime(2026, rng.choice((9, 10, 12)), rng.randint(1, 28), rng.randint(0, 23),
                              rng.choice((0, 29, 30, 59)), rng.choice((0, 0, 59)), tzinfo=SHANGHAI)
            if rng.random() < 0.2:
                moment += timedelta(microseconds=rng.randint(1, 999_999))
            assert hours.state(doc, "open", moment) == _reference_state(doc, moment), (doc, moment)
            checked += 1
    assert checked == 1000
