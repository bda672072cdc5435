"""The one writer of the CSV files people open in Excel or WPS (kitchen manifests, subsidy statements,
coverage reports, case metrics): UTF-8 with a BOM, so the Chinese text opens intact, and no cell that a
spreadsheet would run as a formula.

A cell is often text someone typed (a diet note, a name, an address); a spreadsheet runs text that
starts with ``=``, ``+``, ``-`` or ``@`` as a formula (``=HYPERLINK(…)`` sends data away, ``=cmd|…``
runs programs through DDE), and some skip a leading tab or carriage return first. As OWASP's CSV injection
guidance advises, such a text is written with a leading single quote, which the spreadsheet shows as
text and does not display. Numbers are not text: an int or a Decimal, and a string that is exactly a
decimal number (``-2.50``, a money amount), are written as they are, so a negative amount stays a
number a spreadsheet can add up.
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from service import clock

BOM = "\ufeff"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")


def cell(value) -> str:
    """One cell's text: None is empty, numbers as they are, moments in Shanghai time, formula-like text quoted."""
    if value is None:
        return ""
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, datetime):
        return clock.iso(value)
    text = str(value)
    if text.startswith(FORMULA_START) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def write(header: Iterable, rows: Iterable[Iterable]) -> str:
    """The whole file: a BOM, the header row, then the rows; every cell through ``cell``."""
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out)
    writer.writerow([cell(value) for value in header])
    writer.writerows([cell(value) for value in row] for row in rows)
    return out.getvalue()
