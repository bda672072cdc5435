"""The same owner voting through several channels at the same moment is counted once. Real threads, real
commits: on PostgreSQL the partial unique index decides (and the motion's row lock for the chain's appends);
on SQLite the write lock."""
import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from models.base import db
from models.voting import Ballot, BallotRefusal, Motion
from service import clock, people
from service.db import transactional
from service.voting import chain
from tests.api.test_voting import CLOSES, OPENS, create, act, upload
from tests.factories import VALID_ID, auth, make_user, make_world
from tests.factories.voting import make_voting_estate
from service.voting import reminders, workflow
from tests.concurrency import run_at_once


def _open_motion(app, owners, **overrides):
    """An estate with one 50 m² unit for each owner named, and a motion over it, open now."""
    world = make_world()
    e = make_voting_estate(world, [("1", "1", "50.00", (name,), True) for name in owners])
    clerk = make_user(name="李", roles=[("staff", "neighbourhood", world.nb.id)])
    client = app.test_client()
    motion_id = create(client, clerk, e["estate"].id, **overrides)
    act(client, clerk, motion_id, "announce")
    clock.set_now(OPENS + timedelta(minutes=1))
    reminders.open_due()
    return e, clerk, client, motion_id


@pytest.mark.real_commits
@pytest.mark.parametrize("revote", ["first_final", "last_wins"])
def test_online_paper_and_proxy_at_once_count_once(app, revote):
    rounds = 6
    e, clerk, client, motion_id = _open_motion(app, [f"o{i}" for i in range(rounds)], revote=revote)
    proxy = make_user(name="赵代理", id_number=VALID_ID)
    path = f"/api/v1/motions/{motion_id}/ballots"
    unit_ids = [u.id for u in e["units"]]
    owner_headers = [auth(e["users"][f"o{i}"]) for i in range(rounds)]
    proxy_headers, clerk_headers, proxy_id = auth(proxy), auth(clerk), proxy.id
    mandates = [upload(clerk) for _ in range(rounds)]
    images = [upload(clerk) for _ in range(rounds)]
    db.session.remove()   # the main thread holds no transaction while the threads race
    for i in range(rounds):
        registered = client.post(f"/api/v1/motions/{motion_id}/proxies", json={
            "unit_id": unit_ids[i], "proxy_user_id": proxy_id, "mandate_upload_id": mandates[i]},
            headers=clerk_headers)
        assert registered.status_code == 201, registered.json
        db.session.remove()
        results = run_at_once(app, [
            (path, {"choice": "yes"}, owner_headers[i]),
            (path, {"choice": "no"}, owner_headers[i]),
            (path, {"choice": "abstain", "on_behalf_of_unit": unit_ids[i]}, proxy_headers),
            (f"/api/v1/motions/{motion_id}/paper-ballots",
             {"unit_id": unit_ids[i], "choice": "no", "image_upload_id": images[i]}, clerk_headers),
        ])
        codes = [code for code, _ in results]
        assert all(code in (201, 409) for code in codes), results
        assert codes.count(201) >= 1
        if revote == "first_final":
            assert codes.count(201) == 1, results
        live = db.session.execute(sa.select(sa.func.count()).select_from(Ballot).where(
            Ballot.motion_id == motion_id, Ballot.status.in_(("pending", "counted")))).scalar()
        assert live == i + 1, results
        # Revoke the proxy so the next round's registration takes the capped slot again.
        db.session.execute(sa.text("UPDATE motion_proxy SET revoked_at = CURRENT_TIMESTAMP"))
        db.session.commit()
        db.session.remove()
    per_voter = db.session.execute(sa.select(Ballot.voter_id, sa.func.count()).where(
        Ballot.motion_id == motion_id, Ballot.status.in_(("pending", "counted"))).group_by(Ballot.voter_id)).all()
    assert len(per_voter) == rounds and all(count == 1 for _, count in per_voter)
    assert chain.verify(motion_id)["valid"] is True
    db.session.remove()


@pytest.mark.real_commits
def test_many_owners_at_once_all_counted_and_the_chain_stays_whole(app):
    voters = 12
    e, _, _, motion_id = _open_motion(app, [f"o{i}" for i in range(voters)])
    headers = [auth(e["users"][f"o{i}"]) for i in range(voters)]
    db.session.remove()
    path = f"/api/v1/motions/{motion_id}/ballots"
    calls = [(path, {"choice": "yes"}, h) for h in headers] + [(path, {"choice": "no"}, h) for h in headers[:4]]
    results = run_at_once(app, calls)
    codes = [code for code, _ in results]
    assert codes.count(201) == voters and codes.count(409) == 4, results
    reminders.link_pending_ballots()
    report = chain.verify(motion_id)
    assert report["valid"] is True and report["pending"] == 0
    assert report["events"] == 2 + voters   # notice, snapshot, casts: the refusals are logged apart
    refused = db.session.execute(sa.select(BallotRefusal.reason).where(BallotRefusal.motion_id == motion_id)).scalars()
    assert list(refused) == ["already_voted"] * 4
    db.session.remove()


@pytest.mark.real_commits
def test_a_close_waits_for_a_ballot_in_flight_and_counts_it(app):
    """A ballot written just before the closing time, still uncommitted when the close starts: the close
    waits for it (PostgreSQL: its KEY SHARE lock on the motion against the close's FOR UPDATE; SQLite: the
    write lock) and counts it."""
    e, _, client, motion_id = _open_motion(app, "abc")
    for owner in ("a", "c"):
        path = f"/api/v1/motions/{motion_id}/ballots"
        assert client.post(path, json={"choice": "yes"}, headers=auth(e["users"][owner])).status_code == 201
    clock.set_now(CLOSES - timedelta(seconds=1))
    plan = workflow._plan_cast(people.load_caller(e["users"]["b"].id), motion_id, "no", None, None, None)
    db.session.remove()
    written, release, outcome = threading.Event(), threading.Event(), []
    now = clock.now()

    def ballot_in_flight():
        @transactional
        def write():
            row = {**plan, "cast_at": now, "settled_at": now, "chain_pending": True}
            inserted = db.session.connection().execute(
                workflow._INSERT_IF_OPEN, {f"b_{name}": row.get(name) for name in workflow._CAST_COLUMNS}).scalar()
            written.set()
            release.wait(30)
            return inserted

        with app.app_context():
            try:
                outcome.append(("ballot", write()))
            finally:
                db.session.remove()

    def close():
        with app.app_context():
            try:
                outcome.append(("close", reminders.close_due()))
            finally:
                db.session.remove()

    writer = threading.Thread(target=ballot_in_flight)
    writer.start()
    assert written.wait(30)
    clock.set_now(CLOSES + timedelta(minutes=1))
    closer = threading.Thread(target=close)
    closer.start()
    time.sleep(0.5)
    assert closer.is_alive() and outcome == []  # the close waits for the ballot in flight
    release.set()
    writer.join(30)
    closer.join(60)
    done = dict(outcome)
    assert done["ballot"] is not None and done["close"] == {"counted": 1, "failed": 0, "extended": 0}
    result = db.session.execute(sa.select(Motion.result).where(Motion.id == motion_id)).scalar_one()
    assert result["participation"]["heads"] == 3
    assert chain.verify(motion_id)["valid"] is True and chain.verify(motion_id)["pending"] == 0
    db.session.remove()


@pytest.mark.real_commits
def test_a_ballot_that_meets_a_close_in_progress_waits_and_is_refused(app):
    """The other order: the close holds the motion (FOR UPDATE on PostgreSQL, the write lock on SQLite) when
    a ballot decided while the motion was open is written. The ballot waits, reads the motion again once
    the close has committed, and is refused: nothing is stored after the count."""
    e, _, _, motion_id = _open_motion(app, "ab")
    plan = workflow._plan_cast(people.load_caller(e["users"]["b"].id), motion_id, "no", None, None, None)
    db.session.remove()
    locked, release, outcome = threading.Event(), threading.Event(), []

    def closing():
        @transactional
        def close():
            workflow.lock_motion(motion_id, exclusive=True).status = "closed"
            db.session.flush()
            locked.set()
            release.wait(30)

        with app.app_context():
            try:
                close()
                outcome.append("closed")
            finally:
                db.session.remove()

    def ballot():
        with app.app_context():
            try:
                workflow._record_cast(plan)
                outcome.append("stored")
            except Exception as exc:  # noqa: BLE001 - the refusal is the expected outcome
                outcome.append(getattr(exc, "code", repr(exc)))
            finally:
                db.session.remove()

    closer = threading.Thread(target=closing)
    closer.start()
    assert locked.wait(30)
    writer = threading.Thread(target=ballot)
    writer.start()
    time.sleep(0.5)
    assert writer.is_alive() and outcome == []  # the ballot waits for the close
    release.set()
    closer.join(30)
    writer.join(30)
    assert sorted(outcome) == ["closed", "voting.not_open"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Ballot).where(Ballot.motion_id == motion_id)) == 0
    db.session.remove()


@pytest.mark.real_commits
def test_one_signed_image_entered_for_two_units_at_once_serves_one_ballot(app):
    e, clerk, client, motion_id = _open_motion(app, ["a", "b", "c", "d"])
    headers, unit_ids = auth(clerk), [u.id for u in e["units"]]
    scans = [upload(clerk) for _ in range(2)]
    db.session.remove()
    path = f"/api/v1/motions/{motion_id}/paper-ballots"
    for scan, pair in zip(scans, ((0, 1), (2, 3))):
        results = run_at_once(app, [(path, {"unit_id": unit_ids[i], "choice": "yes", "image_upload_id": scan},
                                     headers) for i in pair])
        assert sorted(code for code, _ in results) == [201, 422], results
        assert [body["error"] for code, body in results if code == 422] == ["uploads.already_attached"]
    used = db.session.execute(sa.select(Ballot.image_upload_id).where(Ballot.motion_id == motion_id)).scalars().all()
    assert sorted(used) == sorted(scans)
    db.session.remove()
