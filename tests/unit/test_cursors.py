"""Keyset cursors are read back only when this server issued them for the same list."""
from __future__ import annotations

from datetime import datetime, timezone

from service import cursors


def test_a_cursor_reads_back_for_its_own_list_only(app):
    moment = datetime(2026, 12, 7, 2, 0, tzinfo=timezone.utc)
    issued = cursors.issue_at("a.list", moment, 42)
    assert cursors.read_at("a.list", issued) == (moment, 42)
    assert cursors.read_at("another.list", issued) is None            # the tag is per list
    payload, tag = issued.split(".")
    assert cursors.read_at("a.list", f"{payload}x.{tag}") is None       # tampered
    assert cursors.read_at("a.list", "no-dot") is None
    assert cursors.read("a.list", issued, 3) is None                    # not the shape asked for
    assert cursors.read_at("a.list", cursors.issue("a.list", ["yesterday", 42])) is None
    assert cursors.read_at("a.list", cursors.issue("a.list", [None, 0])) is None
    assert cursors.read_at("a.list", cursors.issue("a.list", [None, True])) is None
    assert cursors.read_at("a.list", cursors.issue("a.list", ["2026-12-07T10:00:00", 1])) is None   # no offset
    assert cursors.read_at("a.list", cursors.issue_at("a.list", None, 7)) == (None, 7)
