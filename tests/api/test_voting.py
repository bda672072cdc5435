"""Owners' voting over HTTP: the electorate's counting rules, the thresholds end to end, one ballot per owner
across online, paper and proxy, receipts, results, the hash chain, the 换届 lock."""
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from flask_jwt_extended import decode_token

from models.base import db
from models.places import Owner, Ownership
from models.uploads import Upload
from models.voting import Ballot, Motion, VoteEvent, Voter
from service import auth as auth_service, clock, people
from service.errors import Conflict
from service.clock import SHANGHAI
from service.voting import chain, reminders, workflow
from tests.factories import VALID_ID, auth, make_user, make_world
from tests.factories.voting import make_voting_estate

T0 = datetime(2026, 12, 1, 10, tzinfo=SHANGHAI)
OPENS = datetime(2026, 12, 18, 9, tzinfo=SHANGHAI)   # 16 full days after T0's day
CLOSES = OPENS + timedelta(days=14)

# voting.md worked example 6: owner P with 3 × 90 m², the developer's 2 unsold × 120 m² and 1 undelivered
# 100 m², one co-owned 80 m² unit, 4 other 80 m² units. A = 1,010 m², N = 7 (not 11).
EXAMPLE_6 = ([("1", "1", "90.00", ("P",), True)] * 3
             + [("1", "1", "120.00", ("developer",), False)] * 2 + [("1", "1", "100.00", ("developer",), False)]
             + [("2", "1", "80.00", ("C1", "C2"), True)]
             + [("2", "1", "80.00", (tag,), True) for tag in ("Q", "R", "S", "T")])


@pytest.fixture
def world():
    return make_world()


@pytest.fixture
def staff(world):
    return (make_user(name="李", roles=[("staff", "neighbourhood", world.nb.id)]),
            make_user(name="陈", roles=[("staff", "neighbourhood", world.nb.id)]))


def upload(user):
    item = Upload(owner_user_id=user.id, content_type="image/jpeg", width=1, height=1, size=3, sha256="0" * 64,
                  data=b"abc")
    db.session.add(item)
    db.session.commit()
    return item.id


def motion_body(estate_id, item=2, **overrides):
    return {"estate_id": estate_id, "title": "修改管理规约", "body": "拟修改管理规约第十二条", "item": item,
            "opens_at": OPENS.isoformat(), "closes_at": CLOSES.isoformat(), **overrides}


def create(client, manager, estate_id, **overrides):
    clock.set_now(T0)
    response = client.post("/api/v1/motions", json=motion_body(estate_id, **overrides), headers=auth(manager))
    assert response.status_code == 201, response.json
    return response.json["id"]


def act(client, manager, motion_id, action):
    return client.post(f"/api/v1/motions/{motion_id}/actions", json={"action": action}, headers=auth(manager))


def start(client, manager, estate_id, **overrides):
    motion_id = create(client, manager, estate_id, **overrides)
    assert act(client, manager, motion_id, "announce").status_code == 200
    clock.set_now(OPENS + timedelta(minutes=1))
    assert reminders.open_due() == {"opened": 1, "blocked": 0}
    return motion_id


def vote(client, user, motion_id, choice="yes", **extra):
    return client.post(f"/api/v1/motions/{motion_id}/ballots", json={"choice": choice, **extra}, headers=auth(user))


def paper(client, staff_pair, motion_id, unit, choice):
    clerk, checker = staff_pair
    response = client.post(f"/api/v1/motions/{motion_id}/paper-ballots", json={
        "unit_id": unit.id, "choice": choice, "image_upload_id": upload(clerk)}, headers=auth(clerk))
    assert response.status_code == 201, response.json
    confirm = client.post(f"/api/v1/motions/{motion_id}/paper-ballots/{response.json['ballot_id']}/confirmation",
                          json={"accept": True}, headers=auth(checker))
    assert confirm.status_code == 200 and confirm.json["status"] == "counted"
    return confirm.json


def finish(client, manager, motion_id):
    clock.set_now(CLOSES + timedelta(minutes=1))
    reminders.close_due()
    response = client.get(f"/api/v1/motions/{motion_id}/result", headers=auth(manager))
    assert response.status_code == 200, response.json
    return response.json


def test_example_6_counts_heads_by_owner_entity_and_fails_on_heads(client, world, staff):
    e = make_voting_estate(world, EXAMPLE_6)
    motion_id = start(client, staff[0], e["estate"].id, item=2)
    motion = db.session.get(Motion, motion_id)
    assert str(motion.total_area) == "1010.00" and motion.total_heads == 7
    users = e["users"]
    assert vote(client, users["P"], motion_id, "yes").status_code == 201
    paper(client, staff, motion_id, e["units"][3], "yes")          # the developer, on paper
    assert vote(client, users["C1"], motion_id, "no").status_code == 201
    assert vote(client, users["C2"], motion_id, "no").status_code == 403  # not the designated voter
    assert vote(client, users["Q"], motion_id, "no").status_code == 201
    assert vote(client, users["R"], motion_id, "no").status_code == 201
    result = finish(client, staff[0], motion_id)
    assert result["participation"]["area"] == "850.00" and result["participation"]["heads"] == 5
    assert result["participation"]["met"] is True
    assert result["approval"]["area"] == "610.00" and result["approval"]["heads"] == 2
    assert result["approval"]["area_met"] is True and result["approval"]["heads_met"] is False
    assert result["decision"] == "rejected" and result["passed"] is False
    assert result["approval"]["arithmetic"] == ["2×61000 > 85000", "2×2 > 5"]
    assert result["channels"] == {"online": 4, "paper": 1}
    buildings = {b["name"]: b for b in result["buildings"]}
    assert buildings["1号楼"]["voted_area"] == "610.00" and buildings["1号楼"]["voted_units"] == 6
    assert buildings["2号楼"]["voted_area"] == "240.00" and buildings["2号楼"]["yes_area"] == "0.00"


def test_elevator_retrofit_for_one_entrance_passes_at_exactly_two_thirds_and_three_quarters(client, world, staff):
    layout = ([("3", "2", "75.00", (f"h{i}",), True) for i in range(8)]
              + [("3", "2", "60.00", (f"s{i}",), True) for i in range(4)]
              + [("3", "1", "75.00", ("other",), True)] * 3)
    e = make_voting_estate(world, layout)
    entrance = e["entrances"][("3", "2")]
    motion_id = start(client, staff[0], e["estate"].id, item=7, scope_type="entrance", scope_ids=[entrance.id])
    motion = db.session.get(Motion, motion_id)
    assert (str(motion.total_area), motion.total_heads) == ("840.00", 12)
    users = e["users"]
    assert vote(client, users["other"], motion_id, "yes").status_code == 403   # another entrance
    for i, choice in enumerate(["yes"] * 6 + ["no", "abstain"]):
        assert vote(client, users[f"h{i}"], motion_id, choice).status_code == 201
    result = finish(client, staff[0], motion_id)
    assert result["participation"]["met"] and result["approval"]["met"] and result["decision"] == "passed"
    assert result["approval"]["arithmetic"] == ["4×45000 ≥ 3×60000", "4×6 ≥ 3×8"]


@pytest.mark.parametrize("voters, decision", [(5, "failed_participation"), (6, "rejected"), (7, "passed")])
def test_participation_boundary_and_exactly_half_fails_end_to_end(client, world, staff, voters, decision):
    # 9 equal units, 9 owners: 2/3 is 6. With 6 voters, 3 yes is exactly half → fails; 4 of 7 passes.
    e = make_voting_estate(world, [("1", "1", "50.00", (f"o{i}",), True) for i in range(9)])
    motion_id = start(client, staff[0], e["estate"].id, item=4)
    choices = {5: ["yes"] * 5, 6: ["yes"] * 3 + ["no"] * 3, 7: ["yes"] * 4 + ["no"] * 3}[voters]
    for i, choice in enumerate(choices):
        assert vote(client, e["users"][f"o{i}"], motion_id, choice).status_code == 201
    result = finish(client, staff[0], motion_id)
    assert result["decision"] == decision
    assert db.session.get(Motion, motion_id).status == ("failed" if voters == 5 else "counted")


def test_notice_needs_fifteen_full_days(client, world, staff):
    e = make_voting_estate(world, [("1", "1", "50.00", ("a",), True)])
    motion_id = create(client, staff[0], e["estate"].id)
    clock.set_now(OPENS - timedelta(days=16))    # 12-02 → 12-18: 15 full days between
    assert act(client, staff[0], motion_id, "announce").status_code == 200
    other = create(client, staff[0], e["estate"].id)
    clock.set_now(OPENS - timedelta(days=15))    # 12-03 → 12-18: 14 full days
    response = act(client, staff[0], other, "announce")
    assert response.status_code == 422 and response.json["error"] == "voting.notice_too_short"


@pytest.mark.parametrize("first", ["online", "paper"])
def test_paper_and_online_for_the_same_owner_count_once_in_either_order(client, world, staff, first):
    e = make_voting_estate(world, [("1", "1", "50.00", ("a",), True), ("1", "1", "60.00", ("b",), True)])
    motion_id = start(client, staff[0], e["estate"].id)
    owner, unit = e["users"]["a"], e["units"][0]
    clerk = staff[0]
    if first == "online":
        assert vote(client, owner, motion_id, "yes").status_code == 201
        response = client.post(f"/api/v1/motions/{motion_id}/paper-ballots", json={
            "unit_id": unit.id, "choice": "no", "image_upload_id": upload(clerk)}, headers=auth(clerk))
    else:
        paper(client, staff, motion_id, unit, "no")
        response = vote(client, owner, motion_id, "yes")
    assert response.status_code == 409 and response.json["error"] == "voting.already_voted"
    counted = db.session.execute(sa.select(Ballot.choice).where(Ballot.motion_id == motion_id,
                                                                Ballot.status == "counted")).scalars().all()
    assert counted == (["yes"] if first == "online" else ["no"])
    kinds = db.session.execute(sa.select(VoteEvent.kind).where(VoteEvent.motion_id == motion_id)
                               .order_by(VoteEvent.seq)).scalars().all()
    assert "reject" not in kinds
    refusals = client.get(f"/api/v1/motions/{motion_id}/refusals", headers=auth(staff[1])).json
    assert [(r["channel"], r["reason"]) for r in refusals["items"]] == [("paper" if first == "online" else "online",
                                                                         "already_voted")]


def test_a_pending_paper_ballot_holds_the_slot_and_needs_a_second_person(client, world, staff):
    e = make_voting_estate(world, [("1", "1", "50.00", ("a",), True)])
    motion_id = start(client, staff[0], e["estate"].id)
    clerk = staff[0]
    entered = client.post(f"/api/v1/motions/{motion_id}/paper-ballots", json={
        "unit_id": e["units"][0].id, "choice": "spoiled", "image_upload_id": upload(clerk)}, headers=auth(clerk))
    assert entered.json["status"] == "pending"
    path = f"/api/v1/motions/{motion_id}/paper-ballots/{entered.json['ballot_id']}/confirmation"
    assert client.post(path, json={"accept": True}, headers=auth(clerk)).status_code == 403
    assert vote(client, e["users"]["a"], motion_id).status_code == 409
    assert client.post(path, json={"accept": False}, headers=auth(staff[1])).json["status"] == "void"
    assert vote(client, e["users"]["a"], motion_id).status_code == 201   # the refused paper freed the slot


def test_changing_a_ballot_under_last_wins_and_refusal_under_first_final(client, world, staff):
    e = make_voting_estate(world, [("1", "1", "50.00", ("a",), True)])
    owner = e["users"]["a"]
    final = start(client, staff[0], e["estate"].id)
    assert vote(client, owner, final, "yes").status_code == 201
    assert vote(client, owner, final, "no").status_code == 409
    changeable = start(client, staff[0], e["estate"].id, revote="last_wins")
    first = vote(client, owner, changeable, "yes").json
    second = vote(client, owner, changeable, "no")
    assert second.status_code == 201 and second.json["replaced"] is True and first["replaced"] is False
    rows = db.session.execute(sa.select(Ballot.choice, Ballot.status).where(Ballot.motion_id == changeable)
                              .order_by(Ballot.id)).all()
    assert rows == [("yes", "superseded"), ("no", "counted")]
    receipts = client.get(f"/api/v1/motions/{changeable}/receipts", headers=auth(owner)).json
    assert [r["receipt"] for r in receipts["items"]] == [second.json["receipt"]]



def test_the_ballot_endpoint_checks_the_caller_token_and_account(client, world, staff):
    e = make_voting_estate(world, [("1", "1", "50.00", ("a",), True), ("1", "1", "60.00", ("b",), True),
                                   ("1", "1", "70.00", ("c",), True)])
    a, b, c = e["users"]["a"], e["users"]["b"], e["users"]["c"]
    motion_id = start(client, staff[0], e["estate"].id)
    # One after the other in one app context: each ballot is its own caller's (the token is decoded per request).
    first, second = vote(client, a, motion_id, "yes"), vote(client, b, motion_id, "no")
    assert first.status_code == second.status_code == 201
    voters = dict(db.session.execute(sa.select(Ballot.choice, Ballot.cast_by).where(Ballot.motion_id == motion_id)).all())
    assert voters == {"yes": a.id, "no": b.id}
    headers = auth(c)
    # Revoked as logout does (the clock is moved to the voting window, past the token's own expiry).
    with client.application.test_request_context():
        auth_service.revoke(decode_token(headers["Authorization"][7:])["jti"], clock.now() + timedelta(days=1))
    db.session.commit()
    revoked = client.post(f"/api/v1/motions/{motion_id}/ballots", json={"choice": "yes"}, headers=headers)
    assert revoked.status_code == 401 and revoked.json["error"] == "auth.token_revoked"
    headers = auth(c)
    c.is_active = False
    db.session.commit()
    disabled = client.post(f"/api/v1/motions/{motion_id}/ballots", json={"choice": "yes"}, headers=headers)
    assert disabled.status_code == 401 and disabled.json["error"] == "auth.user_inactive"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Ballot).where(Ballot.motion_id == motion_id)) == 2


@pytest.mark.real_commits
def test_a_ballot_reads_in_one_plain_transaction_and_writes_only_under_the_write_lock(app, is_postgres, world,
                                                                                      staff):
    """POST ballots: the caller and the ballot's decision share one read transaction (kept open by
    reading(keep=True)), which ends before the use-case's BEGIN IMMEDIATE; under it only the ballot's
    insert, which checks that the motion is open (its chain link comes in the next batch)."""
    from tests.unit.test_transactions import _statements

    e = make_voting_estate(world, [("1", "1", "50.00", ("a",), True)])
    motion_id = start(app.test_client(), staff[0], e["estate"].id)
    headers = auth(e["users"]["a"])
    db.session.remove()
    seen, stop = _statements(db.engine)
    try:
        response = app.test_client().post(f"/api/v1/motions/{motion_id}/ballots", json={"choice": "yes"},
                                          headers=headers)
    finally:
        stop()
    assert response.status_code == 201, response.json
    if is_postgres:
        return
    begins = [s for s in seen if s.startswith("BEGIN")]
    assert begins == ["BEGIN", "BEGIN IMMEDIATE"], seen
    write = seen.index("BEGIN IMMEDIATE")
    assert [s.split()[0] for s in seen[write + 1:]] == ["INSERT"], seen  # the ballot, if the motion is open
    assert seen[1].startswith("SELECT user.id") and seen[2].startswith("SELECT motion.id"), seen


def test_the_cast_answer_is_the_stored_ballot_and_every_cast_is_chained_in_the_next_batch(client, world, staff):
    e = make_voting_estate(world, [("1", "1", "50.00", ("a",), True), ("1", "1", "60.00", ("b",), True)])
    owner, other = e["users"]["a"], e["users"]["b"]
    motion_id = start(client, staff[0], e["estate"].id, revote="last_wins")
    first = vote(client, owner, motion_id, "yes").json
    second = vote(client, owner, motion_id, "no")
    assert second.status_code == 201 and second.headers["Content-Type"] == "application/json"
    stored = db.session.execute(sa.select(Ballot).where(Ballot.id == second.json["ballot_id"])).scalar_one()
    assert (stored.channel, stored.status, stored.choice, stored.receipt, stored.replaces_id) == (
        "online", "counted", "no", second.json["receipt"], first["ballot_id"])
    assert datetime.fromisoformat(second.json["cast_at"]) == stored.cast_at
    assert stored.receipt == stored.digest[:10]
    assert vote(client, other, motion_id, "abstain").status_code == 201
    assert stored.chain_pending is True
    kinds = sa.select(VoteEvent.kind).where(VoteEvent.motion_id == motion_id).order_by(VoteEvent.seq)
    assert db.session.execute(kinds).scalars().all() == ["notice", "snapshot"]
    clock.set_now(clock.now() + timedelta(minutes=3))  # the sweep runs later; events keep the casting time
    assert reminders.link_pending_ballots() == {"motions": 1, "ballots": 3}
    events = db.session.execute(sa.select(VoteEvent).where(VoteEvent.motion_id == motion_id)
                                .order_by(VoteEvent.seq)).scalars().all()
    assert [e.kind for e in events][-4:] == ["cast", "supersede", "cast", "cast"]
    assert events[-2].data["replaces"] == first["ballot_id"] and events[-2].data["digest"] == stored.digest
    assert events[-2].at == stored.cast_at.replace(microsecond=0) and events[-2].actor_user_id == owner.id
    motion = db.session.get(Motion, motion_id)
    db.session.refresh(motion)
    assert motion.chain_length == len(events) and motion.chain_head == events[-1].hash
    assert chain.verify(motion_id)["valid"] is True
    assert db.session.scalar(sa.select(sa.func.count()).where(Ballot.motion_id == motion_id,
                                                              Ballot.chain_pending.is_(True))) == 0


def test_a_ballot_decided_before_the_close_and_written_after_it_is_refused(client, world, staff):
    e = make_voting_estate(world, [("1", "1", "50.00", (t,), True) for t in "abc"])
    motion_id = start(client, staff[0], e["estate"].id)
    assert vote(client, e["users"]["a"], motion_id, "yes").status_code == 201
    assert vote(client, e["users"]["c"], motion_id, "yes").status_code == 201
    actor = people.load_caller(e["users"]["b"].id)
    plan = workflow._plan_cast(actor, motion_id, "no", None, None, None)  # read while open
    db.session.commit()
    clock.set_now(CLOSES + timedelta(minutes=1))
    assert reminders.close_due() == {"counted": 1, "failed": 0, "extended": 0}
    with pytest.raises(Conflict) as refused:
        workflow._record_cast(plan)
    assert refused.value.code == "voting.not_open"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Ballot).where(Ballot.motion_id == motion_id)) == 2
    assert db.session.get(Motion, motion_id).result["participation"]["heads"] == 2


def test_closing_links_the_pending_ballots_before_its_own_events(client, world, staff):
    e = make_voting_estate(world, [("1", "1", "50.00", (t,), True) for t in "ab"])
    motion_id = start(client, staff[0], e["estate"].id)
    assert vote(client, e["users"]["a"], motion_id, "yes").status_code == 201
    assert vote(client, e["users"]["b"], motion_id, "yes").status_code == 201
    finish(client, staff[0], motion_id)
    kinds = db.session.execute(sa.select(VoteEvent.kind).where(VoteEvent.motion_id == motion_id)
                               .order_by(VoteEvent.seq)).scalars().all()
    assert kinds == ["notice", "snapshot", "cast", "cast", "close", "count"]
    report = chain.verify(motion_id)
    assert report["valid"] is True and report["pending"] == 0 and report["events"] == 6

def test_proxy_needs_mandate_verified_identity_and_respects_the_cap(client, world, staff):
    e = make_voting_estate(world, [("1", "1", "50.00", (t,), True) for t in "abc"])
    motion_id = start(client, staff[0], e["estate"].id)
    proxy = make_user(name="赵代理", id_number=VALID_ID)
    unverified = make_user(name="钱")
    clerk = staff[0]

    def register(unit, user):
        return client.post(f"/api/v1/motions/{motion_id}/proxies", json={
            "unit_id": unit.id, "proxy_user_id": user.id, "mandate_upload_id": upload(clerk)}, headers=auth(clerk))

    assert register(e["units"][0], unverified).json["error"] == "voting.proxy_unverified"
    assert register(e["units"][0], proxy).status_code == 201
    capped = register(e["units"][1], proxy)
    assert capped.status_code == 409 and capped.json["error"] == "voting.proxy_cap"
    assert vote(client, proxy, motion_id, "yes", on_behalf_of_unit=e["units"][1].id).status_code == 403
    cast = vote(client, proxy, motion_id, "yes", on_behalf_of_unit=e["units"][0].id)
    assert cast.status_code == 201 and cast.json["channel"] == "proxy"
    assert vote(client, e["users"]["a"], motion_id, "no").status_code == 409


def test_an_owner_who_sells_during_the_vote_keeps_the_frozen_electorate(client, world, staff):
    e = make_voting_estate(world, [("1", "1", "50.00", ("seller",), True), ("1", "1", "70.00", ("b",), True)])
    motion_id = start(client, staff[0], e["estate"].id)
    unit = e["units"][0]
    db.session.execute(sa.update(Ownership).where(Ownership.unit_id == unit.id).values(ended_on=clock.now().date()))
    buyer = make_user(name="买家")
    owner = Owner(kind="person", name="买家", user_id=buyer.id)
    db.session.add(owner)
    db.session.flush()
    db.session.add(Ownership(unit_id=unit.id, owner_id=owner.id, is_designated_voter=True))
    db.session.commit()
    assert vote(client, buyer, motion_id).json["error"] == "voting.not_in_electorate"
    assert vote(client, e["users"]["seller"], motion_id).status_code == 201
    result = finish(client, staff[0], motion_id)
    assert result["ledgers"]["yes"] == {"area": "50.00", "heads": 1} and result["total_area"] == "120.00"


def test_silent_owners_option_needs_the_rules_clause_and_is_shown(client, world, staff):
    e = make_voting_estate(world, [("1", "1", "50.00", (f"o{i}",), True) for i in range(4)])
    body = motion_body(e["estate"].id, silent_with_majority=True)
    clock.set_now(T0)
    response = client.post("/api/v1/motions", json=body, headers=auth(staff[0]))
    assert response.status_code == 422 and "silent_rule_clause" in response.json["errors"]
    motion_id = start(client, staff[0], e["estate"].id, silent_with_majority=True, silent_rule_clause="议事规则第二十条")
    assert vote(client, e["users"]["o0"], motion_id, "yes").status_code == 201
    result = finish(client, staff[0], motion_id)
    assert result["silent_counted_with_majority"]["heads"] == 3 and result["passed"] is True
    assert "未参与表决业主计入已表决的多数票" in result["announcement"]
    off = start(client, staff[0], e["estate"].id)
    assert vote(client, e["users"]["o0"], off, "yes").status_code == 201
    assert finish(client, staff[0], off)["decision"] == "failed_participation"


def test_reelection_locks_manager_and_major_matters(client, world, staff):
    e = make_voting_estate(world, [("1", "1", "50.00", ("a",), True)])
    estate_id = e["estate"].id
    assert client.post(f"/api/v1/estates/{estate_id}/reelection", json={"action": "start"},
                       headers=auth(staff[0])).json == {"estate_id": estate_id, "active": True}
    for item, extra, code in ((4, {}, 409), (9, {}, 409), (7, {"major_repair": True}, 409), (7, {}, 200),
                              (2, {}, 200), (5, {}, 200)):
        motion_id = create(client, staff[0], estate_id, item=item, **extra)
        response = act(client, staff[0], motion_id, "announce")
        assert response.status_code == code, (item, extra, response.json)
        if code == 409:
            assert response.json["error"] == "voting.reelection_lock"
    client.post(f"/api/v1/estates/{estate_id}/reelection", json={"action": "end"}, headers=auth(staff[0]))
    assert act(client, staff[0], create(client, staff[0], estate_id, item=4), "announce").status_code == 200


def test_receipts_participation_result_visibility_and_publication(client, world, staff):
    e = make_voting_estate(world, [("1", "1", "50.00", (t,), True) for t in "abc"])
    committee = make_user(name="业委会", roles=[("committee", "estate", e["estate"].id)])
    outsider = make_user(name="外人")
    motion_id = start(client, committee, e["estate"].id)
    receipts = [vote(client, e["users"][t], motion_id, "yes").json["receipt"] for t in "ab"]
    owner = e["users"]["a"]
    listed = client.get(f"/api/v1/motions/{motion_id}/receipts", headers=auth(owner)).json
    assert sorted(r["receipt"] for r in listed["items"]) == sorted(receipts) and listed["total"] == 2
    check = client.get(f"/api/v1/motions/{motion_id}/receipts?code={receipts[0]}", headers=auth(owner)).json
    assert check["total"] == 1
    assert client.get(f"/api/v1/motions/{motion_id}/receipts", headers=auth(outsider)).status_code == 404
    assert client.get(f"/api/v1/motions/{motion_id}/participation", headers=auth(owner)).status_code == 403
    part = client.get(f"/api/v1/motions/{motion_id}/participation", headers=auth(committee)).json
    assert part["total"] == 3 and [p["voted"] for p in part["items"]] == [True, True, False]
    assert [p["label"] for p in part["items"]] == ["1号楼1单元101", "1号楼1单元102", "1号楼1单元201"]
    assert all("choice" not in p and "name" not in p for p in part["items"])
    mine = client.get(f"/api/v1/motions/{motion_id}/my-ballot", headers=auth(owner)).json["items"]
    assert mine[0]["receipt"] == receipts[0] and mine[0]["choice"] == "yes"
    finish(client, committee, motion_id)
    assert client.get(f"/api/v1/motions/{motion_id}/result", headers=auth(owner)).status_code == 409
    assert act(client, owner, motion_id, "publish").status_code == 403
    assert act(client, committee, motion_id, "publish").json["status"] == "published"
    result = client.get(f"/api/v1/motions/{motion_id}/result", headers=auth(owner)).json
    assert result["decision"] == "passed" and result["announcement"].startswith("和睦家园业主大会表决结果公告")
    assert result["chain_head"] in result["announcement"]
    listing = client.get(f"/api/v1/estates/{e['estate'].id}/motions", headers=auth(owner)).json
    assert listing["items"][0]["status"] == "published"


def test_chain_verifies_and_tampering_is_detected(client, world, staff):
    e = make_voting_estate(world, [("1", "1", "50.00", (t,), True) for t in "ab"])
    motion_id = start(client, staff[0], e["estate"].id)
    vote(client, e["users"]["a"], motion_id, "no")
    vote(client, e["users"]["b"], motion_id, "yes")
    path = f"/api/v1/motions/{motion_id}/chain"
    ballot_id = db.session.execute(sa.select(Ballot.id).where(Ballot.motion_id == motion_id, Ballot.choice == "no")
                                   ).scalar_one()
    # Cast, not yet linked: each pending ballot is checked against its own digest.
    pending = client.get(path, headers=auth(staff[0])).json
    assert pending["valid"] is True and pending["events"] == 2 and pending["pending"] == 2
    db.session.execute(sa.update(Ballot).where(Ballot.id == ballot_id).values(choice="yes"))
    db.session.commit()
    bad = client.get(path, headers=auth(staff[0])).json
    assert bad["valid"] is False and bad["problems"] == [{"ballot": ballot_id,
                                                          "problem": "pending ballot does not match its digest"}]
    db.session.execute(sa.update(Ballot).where(Ballot.id == ballot_id).values(choice="no"))
    db.session.commit()
    clock.set_now(clock.now() + chain.PENDING_GRACE + timedelta(seconds=1))  # the linking sweep did not run
    late = client.get(path, headers=auth(staff[0])).json
    assert late["valid"] is False and late["problems"][0]["problem"] == "ballot not linked into the chain in time"
    assert reminders.link_pending_ballots() == {"motions": 1, "ballots": 2}
    assert reminders.link_pending_ballots() == {"motions": 0, "ballots": 0}
    good = client.get(path, headers=auth(staff[0])).json
    assert good["valid"] is True and good["events"] == 4 and good["pending"] == 0
    assert good["head"] == db.session.get(Motion, motion_id).chain_head
    db.session.execute(sa.update(Ballot).where(Ballot.id == ballot_id).values(chain_pending=True))
    db.session.commit()
    hidden = client.get(path, headers=auth(staff[0])).json
    assert hidden["valid"] is False and hidden["problems"][0]["problem"] == "ballot marked pending is already in the chain"
    db.session.execute(sa.update(Ballot).where(Ballot.id == ballot_id).values(chain_pending=False))
    db.session.execute(sa.update(Ballot).where(Ballot.id == ballot_id).values(choice="yes"))
    db.session.commit()
    bad = client.get(path, headers=auth(staff[0])).json
    assert bad["valid"] is False and bad["problems"][0]["ballot"] == ballot_id
    db.session.execute(sa.update(Ballot).where(Ballot.id == ballot_id).values(choice="no"))
    db.session.execute(sa.update(VoteEvent).where(VoteEvent.motion_id == motion_id, VoteEvent.seq == 2)
                       .values(data={"tampered": True}))
    db.session.commit()
    bad = client.get(path, headers=auth(staff[0])).json
    assert bad["valid"] is False and bad["problems"][0]["seq"] == 2


def test_committee_election_seats_the_best_supported_among_those_with_a_double_majority(client, world, staff):
    e = make_voting_estate(world, [("1", "1", "50.00", (f"o{i}",), True) for i in range(6)])
    motion_id = start(client, staff[0], e["estate"].id, item=3, kind="election", seats=2,
                      candidates=[{"name": "张三"}, {"name": "李四"}, {"name": "王五"}])
    candidates = db.session.get(Motion, motion_id).candidates
    zhang, li, wang = (c.id for c in candidates)
    picks = [[zhang, li], [zhang, li], [zhang, li], [zhang, wang], [li], []]
    for i, ids in enumerate(picks):
        response = client.post(f"/api/v1/motions/{motion_id}/ballots", json={"candidate_ids": ids},
                               headers=auth(e["users"][f"o{i}"]))
        assert response.status_code == 201, response.json
    too_many = client.post(f"/api/v1/motions/{motion_id}/ballots", json={"candidate_ids": [zhang, li, wang]},
                           headers=auth(e["users"]["o5"]))
    assert too_many.status_code == 422
    result = finish(client, staff[0], motion_id)
    figures = {c["name"]: c for c in result["candidates"]}
    assert figures["张三"]["heads"] == 4 and figures["张三"]["passed"] and figures["张三"]["seated"]
    assert figures["李四"]["heads"] == 4 and figures["李四"]["seated"]
    assert figures["王五"]["heads"] == 1 and not figures["王五"]["passed"]
    assert result["seated"] == [zhang, li]


def test_bad_input_is_a_4xx_naming_the_field(client, world, staff):
    e = make_voting_estate(world, [("1", "1", "50.00", ("a",), True)])
    clock.set_now(T0)
    for overrides, field in (({"item": 10}, "item"), ({"closes_at": OPENS.isoformat()}, "closes_at"),
                             ({"scope_type": "entrance", "scope_ids": []}, "scope_ids"),
                             ({"notice_days": 10}, "notice_days"), ({"kind": "election", "item": 3}, "seats")):
        response = client.post("/api/v1/motions", json=motion_body(e["estate"].id, **overrides),
                               headers=auth(staff[0]))
        errors = response.json["errors"]
        assert response.status_code == 422 and field in errors.get("json", errors), (overrides, response.json)
    assert client.post("/api/v1/motions", json=motion_body(e["estate"].id),
                       headers=auth(e["users"]["a"])).status_code == 403
    assert db.session.execute(sa.select(sa.func.count(Motion.id))).scalar() == 0


def test_refused_duplicates_stay_out_of_the_chain_and_are_listed_for_committee_and_staff(client, world, staff):
    e = make_voting_estate(world, [("1", "1", "50.00", ("a",), True), ("1", "1", "60.00", ("b",), True)])
    committee = make_user(name="业委会", roles=[("committee", "estate", e["estate"].id)])
    motion_id = start(client, staff[0], e["estate"].id)
    owner = e["users"]["a"]
    assert vote(client, owner, motion_id, "yes").status_code == 201
    reminders.link_pending_ballots()
    before = db.session.execute(sa.select(Motion.chain_length, Motion.chain_head).where(Motion.id == motion_id)).one()
    for _ in range(5):
        refused = vote(client, owner, motion_id, "no")
        assert refused.status_code == 409 and refused.json["error"] == "voting.already_voted"
    response = client.post(f"/api/v1/motions/{motion_id}/paper-ballots", json={
        "unit_id": e["units"][0].id, "choice": "no", "image_upload_id": upload(staff[0])}, headers=auth(staff[0]))
    assert response.status_code == 409
    reminders.link_pending_ballots()
    after = db.session.execute(sa.select(Motion.chain_length, Motion.chain_head).where(Motion.id == motion_id)).one()
    assert after == before
    assert db.session.scalar(sa.select(sa.func.count()).select_from(VoteEvent)
                             .where(VoteEvent.motion_id == motion_id)) == before.chain_length
    assert chain.verify(motion_id)["valid"] is True
    path = f"/api/v1/motions/{motion_id}/refusals"
    listed = client.get(path + "?page_size=4", headers=auth(committee)).json
    assert listed["total"] == 6 and len(listed["items"]) == 4
    everything = client.get(path, headers=auth(staff[1])).json["items"]
    assert [r["channel"] for r in everything] == ["paper"] + ["online"] * 5   # newest first
    assert {r["reason"] for r in everything} == {"already_voted"}
    assert {r["label"] for r in everything} == {"1号楼1单元101"}
    assert all("choice" not in r and "name" not in r for r in everything)
    assert client.get(path, headers=auth(owner)).status_code == 403
    assert client.get(path, headers=auth(make_user(name="外人"))).status_code == 404


@pytest.mark.parametrize("first_unit_holders", [("buyer",), ("developer", "buyer"), ("buyer", "developer")])
def test_the_developers_unsold_units_vote_once_through_the_developer_and_a_titled_buyer_for_their_own(
        client, world, staff, first_unit_holders):
    # Three units the developer has not delivered (sold = false); the register shows the first already titled
    # to a buyer (alone, or beside the developer's initial registration). One ordinary owner besides.
    layout = [("1", "1", "100.00", first_unit_holders, False), ("1", "1", "120.00", ("developer",), False),
              ("1", "1", "130.00", ("developer",), False), ("1", "1", "90.00", ("p",), True)]
    e = make_voting_estate(world, layout)
    representative = make_user(name="开发商代表")
    e["owners"]["developer"].user_id = representative.id
    db.session.commit()
    motion_id = start(client, staff[0], e["estate"].id, item=2)
    motion = db.session.get(Motion, motion_id)
    assert (str(motion.total_area), motion.total_heads) == ("440.00", 3)
    developer = db.session.execute(sa.select(Voter).where(Voter.motion_id == motion_id,
                                                          Voter.kind == "developer")).scalar_one()
    assert (developer.user_id, developer.owner_id, developer.units, str(developer.area)) == (
        representative.id, e["owners"]["developer"].id, 2, "250.00")
    buyer = db.session.execute(sa.select(Voter).where(Voter.motion_id == motion_id,
                                                      Voter.user_id == e["users"]["buyer"].id)).scalar_one()
    assert (buyer.kind, buyer.units, str(buyer.area)) == ("owners", 1, "100.00")
    assert vote(client, e["users"]["buyer"], motion_id, "no").status_code == 201
    assert vote(client, representative, motion_id, "yes").status_code == 201
    assert vote(client, e["users"]["p"], motion_id, "yes").status_code == 201
    result = finish(client, staff[0], motion_id)
    assert result["ledgers"]["yes"] == {"area": "340.00", "heads": 2}
    assert result["ledgers"]["no"] == {"area": "100.00", "heads": 1}
