"""The owners' funds (维修资金, 公共收益): periods on the law's calendar, journals that balance (the database refuses
one that does not, and any change to a posted one), reversals, closing with the balance carried forward, and
publication only once the books reconcile with the bank."""
from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from models.base import db
from models.funds import FundAccount, FundPeriod, Journal, JournalEntry
from models.notices import Notice
from tests.factories import auth, make_owner, make_user, make_world


@pytest.fixture
def w():
    return make_world()


@pytest.fixture
def committee(w):
    return make_user(name="业委会主任", roles=[("committee", "estate", w.estate.id)])


def open_period(client, user, w, fund="public_income", starts_on="2026-07-01", opening_fen=4_821_000):
    return client.post(f"/api/v1/estates/{w.estate.id}/fund-periods", headers=auth(user),
                       json={"fund": fund, "starts_on": starts_on, "opening_fen": opening_fen})


def post(client, user, w, lines, fund="public_income", booked_on="2026-08-05", memo="8月广告费"):
    return client.post(f"/api/v1/estates/{w.estate.id}/journals", headers=auth(user),
                       json={"fund": fund, "booked_on": booked_on, "memo": memo, "lines": lines})


def income(fen, code="advertising"):
    return [{"kind": "bank", "code": "bank", "amount_fen": fen}, {"kind": "income", "code": code, "amount_fen": -fen}]


@pytest.mark.parametrize("fund, starts_on, ok", [
    ("public_income", "2026-07-01", True), ("public_income", "2026-10-01", True),
    ("public_income", "2026-08-01", False), ("public_income", "2026-07-02", False),
    ("maint", "2026-07-01", True), ("maint", "2026-01-01", True), ("maint", "2026-04-01", False),
])
def test_periods_follow_the_laws_calendar(client, w, committee, fund, starts_on, ok):
    response = open_period(client, committee, w, fund=fund, starts_on=starts_on)
    if ok:
        assert response.status_code == 201, response.json
        months = 3 if fund == "public_income" else 6
        start = date.fromisoformat(starts_on)
        assert response.json["ends_on"][:7] == f"{start.year}-{start.month + months - 1:02d}"
        assert response.json["state"] == "open" and response.json["opening"] == "48210.00"
    else:
        assert response.status_code == 422 and response.json["error"] == "funds.period_start_wrong"
        assert db.session.execute(sa.select(sa.func.count()).select_from(FundPeriod)).scalar() == 0


def test_journals_balance_or_are_refused_and_nothing_is_written(client, w, committee):
    open_period(client, committee, w)
    ok = post(client, committee, w, income(400_000))
    assert ok.status_code == 201 and [line["amount"] for line in ok.json["lines"]] == ["4000.00", "-4000.00"]
    off = post(client, committee, w, [{"kind": "bank", "code": "bank", "amount_fen": 400_000},
                                      {"kind": "income", "code": "advertising", "amount_fen": -399_999}])
    assert off.status_code == 422 and off.json["error"] == "funds.journal_unbalanced" and "1" in off.json["message"]
    unknown = post(client, committee, w, income(100, code="lottery"))
    assert unknown.status_code == 422 and unknown.json["error"] == "funds.line_unknown"
    outside = post(client, committee, w, income(100), booked_on="2026-10-01")
    assert outside.status_code == 422 and outside.json["error"] == "funds.booked_outside_period"
    maint_without_building = open_period(client, committee, w, fund="maint")
    assert maint_without_building.status_code == 201
    refused = post(client, committee, w, income(100, code="collection"), fund="maint")
    assert refused.status_code == 422 and refused.json["error"] == "funds.building_required"
    by_building = post(client, committee, w, [
        {"kind": "bank", "code": "bank", "building_id": w.building.id, "amount_fen": 5000},
        {"kind": "income", "code": "collection", "amount_fen": -5000}], fund="maint")
    assert by_building.status_code == 201
    assert db.session.execute(sa.select(sa.func.count()).select_from(Journal)).scalar() == 2
    outsider = make_user(name="别的小区", roles=[("staff", "neighbourhood", w.far_nb.id)])
    assert post(client, outsider, w, income(100)).status_code == 403


def _raw_journal(period_id, user_id, amounts):
    journal = Journal(estate_id=db.session.get(FundPeriod, period_id).estate_id, period_id=period_id,
                      booked_on=date(2026, 8, 1), memo="直接写库", entered_by=user_id, posted=False)
    db.session.add(journal)
    db.session.flush()
    account = FundAccount(estate_id=journal.estate_id, fund="public_income", kind="bank", code="bank")
    db.session.add(account)
    db.session.flush()
    for amount in amounts:
        db.session.add(JournalEntry(journal_id=journal.id, account_id=account.id, amount_fen=amount))
    db.session.flush()
    return journal.id


def test_the_database_refuses_an_unbalanced_journal_and_any_change_to_a_posted_one(client, w, committee):
    period_id = open_period(client, committee, w).json["period_id"]
    table = Journal.__table__
    unbalanced = _raw_journal(period_id, committee.id, [500, -499])
    with pytest.raises(DBAPIError):
        with db.session.begin_nested():
            db.session.execute(table.update().where(table.c.id == unbalanced).values(posted=True))
    single = _raw_journal(period_id, committee.id, [0 + 1])
    with pytest.raises(DBAPIError):
        with db.session.begin_nested():
            db.session.execute(table.update().where(table.c.id == single).values(posted=True))
    with pytest.raises(DBAPIError):
        with db.session.begin_nested():
            db.session.execute(table.insert().values(estate_id=w.estate.id, period_id=period_id,
                                                     booked_on=date(2026, 8, 1), memo="生而过账",
                                                     entered_by=committee.id, posted=True))
    posted = post(client, committee, w, income(300)).json["id"]
    entries = JournalEntry.__table__
    for statement in (entries.update().where(entries.c.journal_id == posted).values(amount_fen=999),
                      entries.delete().where(entries.c.journal_id == posted),
                      table.update().where(table.c.id == posted).values(memo="改"),
                      table.delete().where(table.c.id == posted),
                      entries.insert().values(journal_id=posted, account_id=db.session.execute(
                          sa.select(FundAccount.id).limit(1)).scalar(), amount_fen=1)):
        with pytest.raises(DBAPIError):
            with db.session.begin_nested():
                db.session.execute(statement)
    assert db.session.execute(sa.select(sa.func.sum(JournalEntry.amount_fen))
                              .where(JournalEntry.journal_id == posted)).scalar() == 0


def test_close_carry_forward_reconcile_and_publish_to_the_owners(client, w, committee):
    owner = make_user(name="业主")
    make_owner(owner, w.units[0])
    stranger = make_user(name="路人")
    period = open_period(client, committee, w).json["period_id"]
    post(client, committee, w, income(1_200_000))
    spend = post(client, committee, w, [{"kind": "expense", "code": "transfer_out", "amount_fen": 720_000},
                                        {"kind": "bank", "code": "bank", "amount_fen": -720_000}], memo="转入维修资金")
    wrong = post(client, committee, w, income(5_000, code="parking"), memo="错记")
    reversed_ = client.post(f"/api/v1/journals/{wrong.json['id']}/reverse", json={"reason": "重复入账"},
                            headers=auth(committee))
    assert reversed_.status_code == 201 and reversed_.json["reverses_id"] == wrong.json["id"]
    assert [line["amount_fen"] for line in reversed_.json["lines"]] == [-5_000, 5_000]
    again = client.post(f"/api/v1/journals/{wrong.json['id']}/reverse", json={"reason": "再冲"}, headers=auth(committee))
    assert again.status_code == 409 and again.json["error"] == "funds.already_reversed"
    assert spend.status_code == 201
    # The owners see nothing before publication.
    assert client.get(f"/api/v1/fund-periods/{period}/statement", headers=auth(owner)).status_code == 404
    closed = client.post(f"/api/v1/fund-periods/{period}/close", json={"bank_balance_fen": 5_300_999},
                         headers=auth(committee))
    assert closed.status_code == 200 and closed.json["closing"] == "53010.00" and closed.json["difference"] == "0.01"
    assert closed.json["income"] == [{"category": "advertising", "category_name": "广告收入", "amount": "12000.00",
                                      "amount_fen": 1_200_000}]
    refused = client.post(f"/api/v1/fund-periods/{period}/publish", headers=auth(committee))
    assert refused.status_code == 409 and refused.json["error"] == "funds.not_reconciled"
    assert "差额0.01元" in refused.json["message"]
    assert db.session.execute(sa.select(sa.func.count()).select_from(Notice)).scalar() == 0
    fixed = client.post(f"/api/v1/fund-periods/{period}/close", json={"bank_balance_fen": 5_301_000},
                        headers=auth(committee))
    assert fixed.json["reconciled"] is True
    next_period = db.session.execute(sa.select(FundPeriod).where(FundPeriod.state == "open")).scalar_one()
    assert (next_period.starts_on, next_period.opening_fen) == (date(2026, 10, 1), 5_301_000)
    published = client.post(f"/api/v1/fund-periods/{period}/publish", headers=auth(committee))
    assert published.status_code == 200 and published.json["state"] == "published"
    notice = db.session.get(Notice, published.json["notice_id"])
    assert notice.category == "committee" and "公共收益收支情况公示" in notice.title and "53010.00" in notice.body
    seen = client.get(f"/api/v1/fund-periods/{period}/statement", headers=auth(owner))
    assert seen.status_code == 200 and seen.json["can_manage"] is False and seen.json["state_name"] == "已公示"
    assert client.get(f"/api/v1/fund-periods/{period}/statement", headers=auth(stranger)).status_code == 404
    assert client.get("/api/v1/notices", headers=auth(owner)).json["items"][0]["id"] == notice.id
    listed = client.get(f"/api/v1/estates/{w.estate.id}/fund-periods", headers=auth(owner)).json
    assert [p["id"] for p in listed["items"]] == [period]


def _published(client, w, committee):
    period = open_period(client, committee, w).json["period_id"]
    post(client, committee, w, income(1_200_000))
    client.post(f"/api/v1/fund-periods/{period}/close", json={"bank_balance_fen": 6_021_000}, headers=auth(committee))
    assert client.post(f"/api/v1/fund-periods/{period}/publish", headers=auth(committee)).status_code == 200
    return period


def test_owners_query_a_statement_the_committee_answers_and_late_ones_go_to_the_neighbourhood(client, w, committee):
    from datetime import timedelta

    from models.notifications import Notification
    from service import clock
    from service.funds import reminders

    staff = make_user(name="居委会", roles=[("staff", "neighbourhood", w.nb.id)])
    asker, other = make_user(name="业主甲"), make_user(name="业主乙")
    make_owner(asker, w.units[0])
    make_owner(other, w.units[1])
    draft = open_period(client, committee, w, fund="maint").json["period_id"]
    assert client.post(f"/api/v1/fund-periods/{draft}/queries", json={"text": "?"},
                       headers=auth(asker)).status_code == 404
    period = _published(client, w, committee)
    wrong_line = client.post(f"/api/v1/fund-periods/{period}/queries", json={"text": "停车费呢？", "category": "parking"},
                             headers=auth(asker))
    assert wrong_line.status_code == 422 and wrong_line.json["error"] == "funds.category_not_in_statement"
    asked = client.post(f"/api/v1/fund-periods/{period}/queries",
                        json={"text": "广告收入为何减少？", "category": "advertising"}, headers=auth(asker))
    assert asked.status_code == 201 and asked.json["state"] == "open" and asked.json["mine"] is True
    late = client.post(f"/api/v1/fund-periods/{period}/queries", json={"text": "审计报告何时公示？"}, headers=auth(other))
    seen_by_other = client.get(f"/api/v1/fund-periods/{period}/queries", headers=auth(other)).json["items"]
    assert {q["asked_by"] for q in seen_by_other} == {None} and [q["mine"] for q in seen_by_other] == [True, False]
    managers_view = client.get(f"/api/v1/fund-periods/{period}/queries", headers=auth(committee)).json["items"]
    assert {q["asked_by"] for q in managers_view} == {asker.id, other.id}
    assert client.post(f"/api/v1/fund-queries/{asked.json['id']}/answer", json={"answer": "合同调整"},
                       headers=auth(asker)).status_code == 403
    answered = client.post(f"/api/v1/fund-queries/{asked.json['id']}/answer",
                           json={"answer": "两部电梯停用维修，广告按比例减收。"}, headers=auth(committee))
    assert answered.status_code == 200 and answered.json["state_name"] == "已答复"
    assert db.session.execute(sa.select(Notification.user_id).where(
        Notification.kind == "funds.query_answered")).scalar() == asker.id
    # Unanswered: at 10 days the committee is reminded, once; not a second before.
    asked_at = clock.now()
    clock.set_now(asked_at + timedelta(days=10) - timedelta(seconds=1))
    assert reminders.remind_queries() == {"due": 0, "reminded": 0}
    clock.set_now(asked_at + timedelta(days=10, seconds=1))
    assert reminders.remind_queries() == {"due": 1, "reminded": 1}
    assert reminders.remind_queries() == {"due": 1, "reminded": 0}
    assert db.session.execute(sa.select(Notification.user_id, Notification.title).where(
        Notification.kind == "funds.query_reminder")).all() == [(committee.id, "业主收支询问待答复，5日后将转居委会")]
    # At 15 days it goes to the 居委会, once; not a second before.
    clock.set_now(asked_at + timedelta(days=15) - timedelta(seconds=1))
    assert reminders.escalate_queries() == {"due": 0, "escalated": 0}
    clock.set_now(asked_at + timedelta(days=15, seconds=1))
    assert reminders.escalate_queries() == {"due": 1, "escalated": 1}
    assert reminders.escalate_queries() == {"due": 0, "escalated": 0}
    assert db.session.execute(sa.select(Notification.user_id).where(
        Notification.kind == "funds.query_escalated")).scalars().all() == [staff.id]
    assert client.get(f"/api/v1/fund-periods/{period}/queries", headers=auth(other)).json["items"][0]["state"] == \
        "escalated" and late.status_code == 201


def test_the_disclosure_calendar_shows_what_is_due_overdue_first_and_reminds_then_escalates(client, w, committee):
    from datetime import datetime

    from models.notifications import Notification
    from service import clock
    from service.funds import reminders

    def on(day: str) -> None:
        clock.set_now(datetime.fromisoformat(day + "T10:00:00+08:00"))

    staff = make_user(name="居委会", roles=[("staff", "neighbourhood", w.nb.id)])
    on("2026-07-01")
    public = open_period(client, committee, w).json["period_id"]                      # 2026-07-01 … 09-30
    maint = open_period(client, committee, w, fund="maint").json["period_id"]         # 2026-07-01 … 12-31
    on("2026-10-22")   # the quarter ended 09-30: due 10-30 (30 days), reminded from 10-23 (7 days before)
    assert reminders.disclosure_reminders() == {"periods": 1, "reminded": 0, "escalated": 0}
    on("2026-10-23")
    assert reminders.disclosure_reminders()["reminded"] == 1
    assert reminders.disclosure_reminders()["reminded"] == 0
    told = db.session.execute(sa.select(Notification.user_id, Notification.title).where(
        Notification.kind == "funds.disclosure_due")).all()
    assert told == [(committee.id, "香泉苑公共收益收支公示将于10月30日到期")]
    on("2026-11-05")   # 6 days overdue: not yet told to the 居委会; 7 days: told
    assert reminders.disclosure_reminders()["escalated"] == 0
    calendar = client.get("/api/v1/disclosure-calendar", headers=auth(staff)).json
    assert [(i["period_id"], i["status"], i["days_overdue"]) for i in calendar["items"]] == [(public, "overdue", 6)]
    assert calendar["items"][0]["status_name"] == "已逾期" and calendar["items"][0]["due_on"] == "2026-10-30"
    on("2026-11-06")
    assert reminders.disclosure_reminders()["escalated"] == 1
    assert {u for u, in db.session.execute(sa.select(Notification.user_id).where(
        Notification.kind == "funds.disclosure_overdue"))} == {staff.id, committee.id}
    # Published: it moves below what is still due, and nothing more is sent.
    on("2027-01-02")
    client.post(f"/api/v1/fund-periods/{public}/close", json={"bank_balance_fen": 4_821_000}, headers=auth(committee))
    client.post(f"/api/v1/fund-periods/{public}/publish", headers=auth(committee))
    listed = client.get(f"/api/v1/disclosure-calendar?estate_id={w.estate.id}", headers=auth(committee)).json["items"]
    following = db.session.execute(sa.select(FundPeriod.id).where(FundPeriod.starts_on == date(2026, 10, 1))).scalar()
    # Both ended on 12-31: due the same day (then by period); the published one last.
    assert [(i["period_id"] or i["kind"], i["status"]) for i in listed] == [
        (maint, "due"), (following, "due"), ("audit_annual", "due"), (public, "published")]
    outsider = make_user(name="别处", roles=[("staff", "neighbourhood", w.far_nb.id)])
    assert client.get("/api/v1/disclosure-calendar", headers=auth(outsider)).json["total"] == 0
    assert client.get(f"/api/v1/disclosure-calendar?estate_id={w.estate.id}",
                      headers=auth(outsider)).status_code == 403


def counted_motion(w, committee, at: str):
    """A decision of the owners' assembly, counted at ``at`` (the voting domain's motion)."""
    from datetime import datetime

    from models.voting import Motion

    counted = datetime.fromisoformat(at)
    motion = Motion(estate_id=w.estate.id, title="关于续聘物业服务企业的决定", body="…", item=4, status="counted",
                    notice_days=15, publication_days=7, opens_at=counted, closes_at=counted, counted_at=counted,
                    created_by=committee.id)
    db.session.add(motion)
    db.session.commit()
    return motion


def test_the_assemblys_counted_decisions_are_due_on_the_calendar_within_three_days(client, w, committee):
    from datetime import datetime

    from service import clock

    motion = counted_motion(w, committee, "2026-11-02T16:00:00+08:00")
    for day, status, late in (("2026-11-05", "due", 0), ("2026-11-06", "overdue", 1)):
        clock.set_now(datetime.fromisoformat(day + "T10:00:00+08:00"))
        item = client.get("/api/v1/disclosure-calendar", headers=auth(committee)).json["items"][0]
        assert (item["motion_id"], item["kind"], item["due_on"], item["status"], item["days_overdue"]) == \
            (motion.id, "decision", "2026-11-05", status, late)
    motion.status, motion.published_at = "published", clock.now()
    db.session.commit()
    item = client.get("/api/v1/disclosure-calendar", headers=auth(committee)).json["items"][0]
    assert item["status_name"] == "已公示" and item["kind_name"] == "业主大会决定公告（3日内）"


def test_an_annual_audit_is_due_by_31_march_and_posted_for_30_days_with_its_report(client, w, committee):
    from datetime import datetime, timedelta

    from service import clock
    from tests.api.test_cases import upload as image_upload

    def on(day: str) -> None:
        clock.set_now(datetime.fromisoformat(day + "T10:00:00+08:00"))

    owner = make_user(name="业主")
    make_owner(owner, w.units[0])
    on("2026-07-01")
    open_period(client, committee, w)
    on("2027-03-31")
    items = client.get("/api/v1/disclosure-calendar", headers=auth(committee)).json["items"]
    audit_item = next(i for i in items if i["kind"] == "audit_annual")
    assert (audit_item["title"], audit_item["due_on"], audit_item["status"]) == ("2026年度审计", "2027-03-31", "due")
    on("2027-04-01")
    audit_item = next(i for i in client.get("/api/v1/disclosure-calendar", headers=auth(committee)).json["items"]
                      if i["kind"] == "audit_annual")
    assert (audit_item["status"], audit_item["days_overdue"]) == ("overdue", 1)
    current = client.post(f"/api/v1/estates/{w.estate.id}/fund-audits", headers=auth(committee), json={
        "kind": "annual", "year": 2027, "auditor": "事务所", "summary": "…"})
    assert current.status_code == 422 and current.json["error"] == "funds.audit_year_wrong"
    report = image_upload(client, committee)
    posted = client.post(f"/api/v1/estates/{w.estate.id}/fund-audits", headers=auth(committee), json={
        "kind": "annual", "year": 2026, "auditor": "上海某会计师事务所", "summary": "维修资金、公共收益账实相符。",
        "attachments": [report]})
    assert posted.status_code == 201 and posted.json["kind_name"] == "年度审计"
    notice = client.get(f"/api/v1/notices/{posted.json['notice_id']}", headers=auth(owner)).json
    assert notice["attachments"][0]["upload_id"] == report and "2026年年度审计结果公示" in notice["title"]
    valid = datetime.fromisoformat(notice["valid_until"]) - datetime.fromisoformat(notice["published_at"])
    assert valid == timedelta(days=30)
    assert client.get(f"/api/v1/uploads/{report}", headers=auth(owner)).status_code == 200
    again = client.post(f"/api/v1/estates/{w.estate.id}/fund-audits", headers=auth(committee), json={
        "kind": "annual", "year": 2026, "auditor": "另一家", "summary": "…"})
    assert again.status_code == 409 and again.json["error"] == "funds.audit_exists"
    audit_item = next(i for i in client.get("/api/v1/disclosure-calendar", headers=auth(committee)).json["items"]
                      if i["kind"] == "audit_annual")
    assert audit_item["status"] == "published" and audit_item["notice_id"] == posted.json["notice_id"]


def test_after_a_reelection_the_audit_and_every_members_written_commitment_are_due_and_published(
        client, w, committee):
    from datetime import datetime

    from models.funds import Commitment
    from models.voting import Reelection
    from service import clock
    from tests.api.test_upload_documents import pdf

    def on(day: str) -> None:
        clock.set_now(datetime.fromisoformat(day + "T10:00:00+08:00"))

    def calendar_items() -> dict:
        items = client.get(f"/api/v1/disclosure-calendar?estate_id={w.estate.id}", headers=auth(committee)).json
        return {i["kind"]: i for i in items["items"]}

    def commitments() -> int:
        return db.session.execute(sa.select(sa.func.count()).select_from(Commitment)).scalar()

    second = make_user(name="业委会委员乙", roles=[("committee", "estate", w.estate.id)])
    # The estate lies in two neighbourhoods; staff covering both keep its books.
    staff = make_user(name="居委会", roles=[("staff", "neighbourhood", w.nb.id), ("staff", "neighbourhood", w.nb2.id)])
    owner = make_user(name="业主")
    make_owner(owner, w.units[0])
    # Elected on 5 May (Shanghai time, late in the evening: still the 5th there).
    elected = Reelection(estate_id=w.estate.id, started_at=datetime.fromisoformat("2026-03-01T09:00:00+08:00"),
                         ended_at=datetime.fromisoformat("2026-05-05T23:30:00+08:00"))
    db.session.add(elected)
    db.session.commit()
    on("2026-06-04")   # the 30th day after the election: due, not yet overdue
    items = calendar_items()
    assert (items["commitments"]["due_on"], items["commitments"]["status"]) == ("2026-06-04", "due")
    assert items["commitments"]["title"] == "委员书面承诺（0/2已公示）" and items["commitments"]["ends_on"] == "2026-05-05"
    assert (items["audit_reelection"]["due_on"], items["audit_reelection"]["status"]) == ("2026-07-04", "due")
    on("2026-06-05")
    assert (calendar_items()["commitments"]["status"], calendar_items()["commitments"]["days_overdue"]) == \
        ("overdue", 1)

    def commit(user, **over):
        data = {"text": "本人承诺遵守业主大会议事规则，按时公开资金收支。", "filed_on": "2026-05-20", **over}
        return client.post(f"/api/v1/estates/{w.estate.id}/commitments", json=data, headers=auth(user))

    # Refused, and nothing written: a date in the future, another member's, someone not on the committee, an owner.
    assert commit(committee, filed_on="2026-06-06").json["error"] == "funds.filed_in_future"
    assert commit(committee, member_user_id=second.id).status_code == 403
    assert commit(staff, member_user_id=owner.id).json["error"] == "funds.not_member"
    assert commit(owner).status_code == 403
    outsider = make_user(name="别处", roles=[("staff", "neighbourhood", w.far_nb.id)])
    assert commit(outsider, member_user_id=second.id).status_code == 403
    assert commitments() == 0
    # A member posts their own, with the signed page as a PDF; it goes to the estate's owners as a notice.
    signed = client.post("/api/v1/uploads", data={"file": (__import__("io").BytesIO(pdf(1)), "承诺书.pdf")},
                         content_type="multipart/form-data", headers=auth(committee)).json["id"]
    first = commit(committee, attachments=[signed])
    assert first.status_code == 201, first.json
    assert first.json["term"] == elected.id and first.json["member"] == "业委会主任"
    notice = client.get(f"/api/v1/notices/{first.json['notice_id']}", headers=auth(owner)).json
    assert notice["title"] == "香泉苑业委会委员业委会主任书面承诺" and notice["attachments"][0]["name"] == "承诺书.pdf"
    assert commit(committee).status_code == 409 and commitments() == 1
    assert calendar_items()["commitments"]["title"] == "委员书面承诺（1/2已公示）"
    # The other member's was filed on paper with the street: staff post it.
    paper = commit(staff, member_user_id=second.id)
    assert paper.status_code == 201 and paper.json["member_user_id"] == second.id
    item = calendar_items()["commitments"]
    assert (item["status"], item["title"], item["notice_id"]) == ("published", "委员书面承诺（2/2已公示）",
                                                                  paper.json["notice_id"])
    listed = client.get(f"/api/v1/estates/{w.estate.id}/commitments", headers=auth(owner)).json
    assert listed["total"] == 2 and [i["member_user_id"] for i in listed["items"]] == [second.id, committee.id]
    stranger = make_user(name="外人")
    assert client.get(f"/api/v1/estates/{w.estate.id}/commitments", headers=auth(stranger)).status_code == 403
    # The audit at 换届, posted: published on the calendar.
    on("2026-07-05")
    assert calendar_items()["audit_reelection"]["status"] == "overdue"
    audited = client.post(f"/api/v1/estates/{w.estate.id}/fund-audits", headers=auth(committee), json={
        "kind": "reelection", "year": 2026, "auditor": "上海某会计师事务所", "summary": "换届审计未发现问题。"})
    assert audited.status_code == 201
    item = calendar_items()["audit_reelection"]
    assert item["status"] == "published" and item["notice_id"] == audited.json["notice_id"]
    assert item["kind_name"] == "换届审计结果公示"


def test_decisions_audits_and_commitments_are_reminded_before_and_escalated_after_each_once(client, w, committee):
    from datetime import datetime

    from models.notifications import Notification
    from models.voting import Reelection
    from service import clock
    from service.funds import reminders

    def on(day: str) -> None:
        clock.set_now(datetime.fromisoformat(day + "T10:00:00+08:00"))

    def told(kind: str) -> list[tuple[int, str]]:
        return db.session.execute(sa.select(Notification.user_id, Notification.title).where(
            Notification.kind == kind).order_by(Notification.id)).all()

    staff = make_user(name="居委会", roles=[("staff", "neighbourhood", w.nb.id)])
    db.session.add(Reelection(estate_id=w.estate.id, started_at=datetime.fromisoformat("2026-03-01T09:00:00+08:00"),
                              ended_at=datetime.fromisoformat("2026-05-05T10:00:00+08:00")))
    db.session.commit()
    on("2026-05-27")   # the commitments are due 06-04: reminded from 05-28
    assert reminders.duty_reminders()["reminded"] == 0 and told("funds.disclosure_due") == []
    on("2026-05-28")
    assert reminders.duty_reminders()["reminded"] == 1
    assert reminders.duty_reminders()["reminded"] == 0          # once
    assert told("funds.disclosure_due") == [(committee.id, "香泉苑委员书面承诺公示（选举后30日内）将于06月04日到期")]
    on("2026-06-10")   # 6 days overdue: not yet the 居委会's
    assert reminders.duty_reminders()["escalated"] == 0
    on("2026-06-11")
    assert reminders.duty_reminders()["escalated"] == 1
    assert {u for u, _ in told("funds.disclosure_overdue")} == {staff.id, committee.id}
    # A decision counted on 11-02 is due 11-05: the committee is told at once, the 居委会 from 11-12.
    motion = counted_motion(w, committee, "2026-11-02T16:00:00+08:00")
    on("2026-11-03")
    before = len(told("funds.disclosure_due"))
    reminders.duty_reminders()
    assert len(told("funds.disclosure_due")) == before + 1
    on("2026-11-12")
    escalated = len(told("funds.disclosure_overdue"))
    reminders.duty_reminders()
    assert len(told("funds.disclosure_overdue")) == escalated + 2   # the staff member and the committee member
    motion.published_at = clock.now()
    db.session.commit()
    on("2026-11-13")
    escalated = len(told("funds.disclosure_overdue"))
    reminders.duty_reminders()
    assert len(told("funds.disclosure_overdue")) == escalated      # published: nothing more
