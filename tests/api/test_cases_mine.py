"""GET /api/v1/me/cases: the cases I reported or follow, newest first, keyset-paginated by id."""
from __future__ import annotations

from models.base import db
from tests.api.test_cases import people, place, report  # noqa: F401  (fixtures)
from tests.factories import auth
from tests.statements import statements_sent


def mine(client, user, **params):
    return client.get("/api/v1/me/cases", query_string=params, headers=auth(user))


def walk(client, user, limit):
    """Every page, following next_cursor; returns the pages' ids."""
    pages, cursor = [], None
    while True:
        params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        answer = mine(client, user, **params)
        assert answer.status_code == 200, answer.json
        pages.append([c["id"] for c in answer.json["items"]])
        cursor = answer.json["next_cursor"]
        if cursor is None:
            return pages, answer.json["total"]


def test_reported_and_followed_merge_newest_first_without_repeats(client, place, people):
    own = [report(client, people.neighbour).json["id"] for _ in range(3)]
    theirs = [report(client, people.resident).json["id"] for _ in range(3)]
    for case_id in (theirs[0], theirs[2]):
        assert client.post(f"/api/v1/cases/{case_id}/follow", headers=auth(people.neighbour)).status_code == 200
    # Following one's own case adds nothing twice.
    client.post(f"/api/v1/cases/{own[1]}/follow", headers=auth(people.neighbour))
    expected = sorted(own + [theirs[0], theirs[2]], reverse=True)
    answer = mine(client, people.neighbour).json
    assert [c["id"] for c in answer["items"]] == expected
    assert answer["total"] == 5 and answer["next_cursor"] is None


def test_pages_at_the_boundaries(client, place, people):
    ids = sorted((report(client, people.resident).json["id"] for _ in range(5)), reverse=True)
    # A page exactly as long as the list: no next page.
    answer = mine(client, people.resident, limit=5).json
    assert [c["id"] for c in answer["items"]] == ids and answer["next_cursor"] is None
    # One shorter: a next page with the last one.
    pages, total = walk(client, people.resident, 4)
    assert pages == [ids[:4], ids[4:]] and total == 5
    pages, total = walk(client, people.resident, 1)
    assert pages == [[i] for i in ids] and total == 5
    pages, _ = walk(client, people.resident, 2)
    assert pages == [ids[0:2], ids[2:4], ids[4:5]]


def test_a_case_reported_while_paging_does_not_shift_the_pages(client, place, people):
    ids = sorted((report(client, people.resident).json["id"] for _ in range(4)), reverse=True)
    first = mine(client, people.resident, limit=2).json
    report(client, people.resident)
    second = mine(client, people.resident, limit=2, cursor=first["next_cursor"]).json
    assert [c["id"] for c in second["items"]] == ids[2:4]
    assert second["total"] == 5


def test_a_cursor_not_issued_here_is_refused(client, place, people):
    report(client, people.resident)
    for bad in ("abc", "eyJ4IjoxfQ.AAAA", "x" * 201):
        answer = mine(client, people.resident, cursor=bad)
        assert answer.status_code == 422, bad
        errors = answer.json["errors"]
        assert "cursor" in errors.get("query", errors), errors
    # The staff queue's cursor (a deadline and an id) is not a cursor of this list.
    from service.cases.queries import encode_cursor
    from datetime import datetime, timezone
    with client.application.test_request_context():
        queue_cursor = encode_cursor(datetime(2026, 11, 1, tzinfo=timezone.utc), 5)
    answer = mine(client, people.resident, cursor=queue_cursor)
    assert answer.status_code == 422 and answer.json["error"] == "cases.cursor_invalid"
    for limit in (0, 101, -1):
        assert mine(client, people.resident, limit=limit).status_code == 422


def test_nobody_else_sees_my_cases(client, place, people):
    report(client, people.resident)
    answer = mine(client, people.staff).json
    assert answer == {"items": [], "next_cursor": None, "total": 0}
    assert client.get("/api/v1/me/cases").status_code == 401


def test_the_page_reads_indexes_not_the_case_table(client, place, people, is_postgres):
    """The statement the endpoint sends (the page with its total) walks the reporter and follower indexes and
    does not scan "case"."""
    report(client, people.resident)
    with statements_sent() as everything:
        assert mine(client, people.resident).status_code == 200
    sent = [(statement, parameters) for statement, parameters in everything if "case_follower" in statement]
    assert len(sent) == 1, sent   # the page, with the total beside its rows
    conn = db.session.connection()
    for statement, parameters in sent:
        if is_postgres:
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # a tiny table would be scanned anyway
            plan = "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + statement, parameters))
            assert 'Seq Scan on "case"' not in plan, plan
        else:
            plan = " | ".join(r[-1] for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters))
            assert "SCAN case " not in plan + " ", plan
        print(plan)
        assert "ix_case_reporter" in plan and "ix_case_follower_user_case" in plan, plan
