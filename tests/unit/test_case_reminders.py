"""Case reminders: each sweep driven by moving the clock across deadlines, weekends, the 2026
National Day holiday and its 调休 make-up working day; each run twice to show it sends nothing twice;
and the sweeps' SQL reads only due rows."""
from collections import Counter
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from jobs import runner
from models.base import db
from models.cases import Case, CaseEscalationDue, CaseEvent
from models.notifications import Delivery, Notification
from models.people import RoleAssignment
from service import clock, notifications, people
from service.cases import reminders, rules, workflow
from service.clock import SHANGHAI
from tests.factories import make_user, make_world

HERE = {"lat": 31.2702, "lng": 121.4101}
THERE = {"lat": 31.2800, "lng": 121.4200}  # the second neighbourhood of the street


def at(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


@pytest.fixture
def place():
    world = make_world()
    world.nb.lat, world.nb.lng = HERE["lat"], HERE["lng"]
    world.nb2.lat, world.nb2.lng = THERE["lat"], THERE["lng"]
    world.far_nb.lat, world.far_nb.lng = 31.2500, 121.4400
    db.session.commit()
    return world


@pytest.fixture
def who(place):
    class Who:
        resident = make_user(name="王秀英", phone="13812345678", neighbourhood_id=place.nb.id,
                             openid="openid-reporter")
        neighbour = make_user(name="张三", phone="13900000001", neighbourhood_id=place.nb2.id)
        staff = make_user(name="李", roles=[("staff", "neighbourhood", place.nb.id)])
        colleague = make_user(name="陈", roles=[("staff", "neighbourhood", place.nb.id)])
        head = make_user(name="周主任")
        street = make_user(name="街道赵", roles=[("staff", "street", place.street.id)])
        staff2 = make_user(name="孙", roles=[("staff", "neighbourhood", place.nb2.id)])
        far_staff = make_user(name="吴", roles=[("staff", "neighbourhood", place.far_nb.id)])
        other_street = make_user(name="钱", roles=[("staff", "street", place.other_street.id)])

    db.session.add(RoleAssignment(user_id=Who.head.id, role="staff", scope_type="neighbourhood",
                                  scope_id=place.nb.id, title="nc_head"))
    db.session.commit()
    return Who


def report(user, when, *, location=HERE, **kwargs) -> int:
    clock.set_now(when)
    case = workflow.create_case(people.load_actor(user.id), category_code="corridor_clutter",
                                description="3号楼楼道堆满纸箱", location=location, **kwargs)
    return case.id


def act(user, case_id, action, when, **payload):
    clock.set_now(when)
    return workflow.act(people.load_actor(user.id), case_id, action, payload)


def accept_and_contact(staff, case_id, when):
    act(staff, case_id, "accept", when)
    act(staff, case_id, "contact", when, method="phone", note="已电话联系")


def close(staff, case_id, when):
    accept_and_contact(staff, case_id, when)
    act(staff, case_id, "start", when)
    act(staff, case_id, "resolve", when, outcome="solved", reply="已清理完毕")
    act(staff, case_id, "close", when)


def sweep(name, when):
    clock.set_now(when)
    return getattr(reminders, name)()


def twice(name, when):
    """Run a sweep, then again: the second run must send nothing."""
    first = sweep(name, when)
    again = sweep(name, when)
    assert again.get("notified", 0) == 0, again
    return first


def received(kind, case_id=None) -> Counter:
    """Notifications of a kind (for a case) per user."""
    query = sa.select(Notification.user_id, Notification.data).where(Notification.kind == kind)
    return Counter(user_id for user_id, data in db.session.execute(query)
                   if case_id is None or (data or {}).get("case_id") == case_id)


def escalations(case_id) -> list[CaseEvent]:
    return list(db.session.execute(sa.select(CaseEvent).where(
        CaseEvent.case_id == case_id, CaseEvent.action == "escalate").order_by(CaseEvent.id)).scalars())


def case(case_id) -> Case:
    db.session.expire_all()
    return db.session.get(Case, case_id)


# --- 先行联系 ------------------------------------------------------------------------------------------------

def test_contact_due_soon_reminds_the_neighbourhood_staff_once_then_only_the_assignee(place, who):
    case_id = report(who.resident, at(2026, 11, 20, 10))  # a Friday: contact due Monday 23:59:59
    assert case(case_id).contact_due_at == at(2026, 11, 23, 23, 59, 59)
    hours = rules.policy().due_soon_hours
    early = at(2026, 11, 23, 23, 59, 59) - timedelta(hours=hours, minutes=1)
    assert sweep("contact_due_soon", early) == {"cases": 0, "notified": 0}
    soon = early + timedelta(minutes=2)
    assert twice("contact_due_soon", soon) == {"cases": 1, "notified": 3}
    # Nobody has accepted it: the staff of its 居委会 (not the street, not another neighbourhood).
    assert received("case.contact_due_soon") == Counter({who.staff.id: 1, who.colleague.id: 1, who.head.id: 1})
    note = db.session.execute(sa.select(Notification).where(Notification.user_id == who.staff.id,
                                                            Notification.kind == "case.contact_due_soon")).scalar_one()
    assert case(case_id).number in note.title and note.link == f"pages/cases/detail?id={case_id}"
    assert "11月23日 23:59" in note.body
    assert note.delivery is None  # staff reminders go to the inbox only

    # Once accepted, the assignee is the one reminded: already told, so nothing new.
    act(who.staff, case_id, "accept", soon)
    assert sweep("contact_due_soon", soon + timedelta(minutes=10)) == {"cases": 1, "notified": 0}
    # Contacted: no longer due.
    act(who.staff, case_id, "contact", soon, method="phone", note="已联系")
    assert sweep("contact_due_soon", soon + timedelta(minutes=20)) == {"cases": 0, "notified": 0}


def test_contact_reminders_skip_reporters_who_cannot_be_contacted(place, who):
    report(who.resident, at(2026, 11, 20, 10), contact_consent=False)
    assert sweep("contact_due_soon", at(2026, 11, 23, 21)) == {"cases": 0, "notified": 0}
    assert sweep("contact_missed", at(2026, 11, 24, 9)) == {"cases": 0, "notified": 0}


def test_contact_missed_tells_the_assignee_and_the_head_once(place, who):
    case_id = report(who.resident, at(2026, 11, 20, 10))
    act(who.colleague, case_id, "accept", at(2026, 11, 20, 11))
    assert sweep("contact_missed", at(2026, 11, 23, 23, 59)) == {"cases": 0, "notified": 0}
    assert twice("contact_missed", at(2026, 11, 24, 0, 5)) == {"cases": 1, "notified": 2}
    assert received("case.contact_missed") == Counter({who.colleague.id: 1, who.head.id: 1})
    # Later runs of the day send nothing more; a late contact ends it.
    assert sweep("contact_missed", at(2026, 11, 24, 15))["notified"] == 0
    act(who.colleague, case_id, "contact", at(2026, 11, 24, 16), method="visit", note="上门联系")
    assert sweep("contact_missed", at(2026, 11, 24, 17)) == {"cases": 0, "notified": 0}


# --- 办理时限 ----------------------------------------------------------------------------------------------------

def test_handling_due_soon_then_the_rework_deadline_after_a_reopen(place, who):
    case_id = report(who.resident, at(2026, 11, 20, 10))  # handling due Friday 27th 23:59:59
    accept_and_contact(who.staff, case_id, at(2026, 11, 20, 11))
    assert sweep("handling_due_soon", at(2026, 11, 27, 19)) == {"cases": 0, "notified": 0}
    assert twice("handling_due_soon", at(2026, 11, 27, 20, 30)) == {"cases": 1, "notified": 1}
    assert received("case.handling_due_soon") == Counter({who.staff.id: 1})

    # Closed, then reopened by a dissatisfied reporter: 再次处置 within 3 working days.
    act(who.staff, case_id, "start", at(2026, 11, 27, 21))
    act(who.staff, case_id, "resolve", at(2026, 11, 27, 21), outcome="solved", reply="已清理")
    act(who.staff, case_id, "close", at(2026, 11, 27, 21))
    clock.set_now(at(2026, 11, 30, 9))
    workflow.reopen_by_reporter(people.load_actor(who.resident.id), case_id, "还没清理干净")
    rework_due = case(case_id).rework_due_at
    assert rework_due == at(2026, 12, 3, 23, 59, 59) and case(case_id).cycle == 2
    # The old 首次处置 deadline of cycle 1 is no longer the one in force.
    assert twice("handling_due_soon", rework_due - timedelta(hours=2)) == {"cases": 1, "notified": 1}
    note = db.session.execute(sa.select(Notification).where(Notification.kind == "case.handling_due_soon")
                              .order_by(Notification.id.desc())).scalars().first()
    assert "再次处置" in note.body and ":c2:" in note.dedupe_key
    assert received("case.handling_due_soon") == Counter({who.staff.id: 2})


# --- 催办 / 督办 ------------------------------------------------------------------------------------------------------

def test_overdue_urges_the_next_working_day_and_escalates_after_five_more_across_a_weekend(place, who):
    case_id = report(who.resident, at(2026, 11, 20, 10))
    accept_and_contact(who.staff, case_id, at(2026, 11, 20, 11))
    assert case(case_id).due_at == at(2026, 11, 27, 23, 59, 59)  # Friday
    # The due day itself is not overdue yet; the weekend is not a working day: no sweep at all.
    assert sweep("overdue", at(2026, 11, 27, 23, 50))["cases"] == 0
    assert sweep("overdue", at(2026, 11, 28, 9)) == {"skipped": "not a working day"}
    assert sweep("overdue", at(2026, 11, 29, 9)) == {"skipped": "not a working day"}
    assert received("case.overdue") == Counter() and escalations(case_id) == []

    # Monday: 催办 (level 1) to the assignee.
    assert twice("overdue", at(2026, 11, 30, 0, 10)) == {"cases": 1, "urged": 1, "escalated": 0, "notified": 1}
    assert received("case.overdue") == Counter({who.staff.id: 1})
    assert case(case_id).escalation_level == 1
    [urge] = escalations(case_id)
    assert (urge.actor_user_id, urge.actor_role, urge.data["level"], urge.data["kind"]) == (None, "system", 1, "催办")
    assert urge.public is False

    # Four more working days: still level 1, nothing new.
    for day in (1, 2, 3, 4):
        result = sweep("overdue", at(2026, 12, day, 9))
        assert result == {"cases": 1, "urged": 0, "escalated": 0, "notified": 0}, day
    assert sweep("overdue", at(2026, 12, 5, 9)) == {"skipped": "not a working day"}

    # Monday 7 December: 5 working days after the 催办 day → 督办 (level 2), once.
    assert twice("overdue", at(2026, 12, 7, 9)) == {"cases": 1, "urged": 0, "escalated": 1, "notified": 3}
    assert case(case_id).escalation_level == 2
    assert [e.data["level"] for e in escalations(case_id)] == [1, 2]
    assert escalations(case_id)[1].data["overdue_working_days"] == 6
    # 督办 goes to the handler, the 居委会主任 and the street; the handler was urged before.
    assert received("case.overdue") == Counter({who.staff.id: 2, who.head.id: 1, who.street.id: 1})
    # Fully escalated cases drop out of the sweep.
    assert sweep("overdue", at(2026, 12, 8, 9)) == {"cases": 0, "urged": 0, "escalated": 0, "notified": 0}


def test_overdue_across_national_day_and_its_make_up_working_day(place, who):
    # Reported Tuesday 22 September 2026: handling due Wednesday 30 September (the 25th is 中秋).
    case_id = report(who.resident, at(2026, 9, 22, 10))
    accept_and_contact(who.staff, case_id, at(2026, 9, 22, 11))
    assert case(case_id).due_at == at(2026, 9, 30, 23, 59, 59)
    # 1–7 October is the National Day holiday (Monday the 5th included): no sweep.
    for day in range(1, 8):
        assert sweep("overdue", at(2026, 10, day, 9)) == {"skipped": "not a working day"}, day
    assert escalations(case_id) == []
    # Thursday 8 October, the first working day after the due day: 催办.
    assert twice("overdue", at(2026, 10, 8, 9))["urged"] == 1
    # Saturday 10 October is a 调休 make-up working day: the sweep runs; Sunday 11th it does not.
    assert sweep("overdue", at(2026, 10, 10, 9))["cases"] == 1
    assert sweep("overdue", at(2026, 10, 11, 9)) == {"skipped": "not a working day"}
    # Working days after the due day: 8, 9, 10 (Sat), 12, 13 → still level 1; 14th is the 6th → 督办.
    assert sweep("overdue", at(2026, 10, 13, 17))["escalated"] == 0
    assert twice("overdue", at(2026, 10, 14, 9))["escalated"] == 1
    assert [e.data["level"] for e in escalations(case_id)] == [1, 2]


def test_a_sweep_that_missed_days_catches_up_with_both_levels_once(place, who):
    case_id = report(who.resident, at(2026, 11, 20, 10))
    accept_and_contact(who.staff, case_id, at(2026, 11, 20, 11))
    # The scheduler was down until 8 December: both levels are reached in one run, each recorded once.
    assert twice("overdue", at(2026, 12, 8, 9)) == {"cases": 1, "urged": 1, "escalated": 1, "notified": 4}
    assert [e.data["level"] for e in escalations(case_id)] == [1, 2]
    assert case(case_id).escalation_level == 2


def work(case_id):
    """The case's row in the overdue sweep's work table (kept by triggers on "case"): its deadline, or None."""
    db.session.expire_all()
    return db.session.execute(sa.select(CaseEscalationDue.due_at).where(CaseEscalationDue.case_id == case_id)).scalar()


def test_the_sweeps_work_table_follows_each_write_of_a_cases_deadline_and_level(place, who):
    case_id = report(who.resident, at(2026, 11, 20, 10))
    assert work(case_id) == case(case_id).due_at is not None               # reported and dispatched: due
    contact_due = case(case_id).due_at
    accept_and_contact(who.staff, case_id, at(2026, 11, 20, 11))
    assert work(case_id) == case(case_id).due_at > contact_due              # contacted: the handling deadline
    sweep("overdue", at(2026, 11, 30, 9))
    assert case(case_id).escalation_level == 1 and work(case_id) == case(case_id).due_at    # 催办: still due
    sweep("overdue", at(2026, 12, 8, 9))
    assert case(case_id).escalation_level == 2 and work(case_id) is None    # 督办: nothing more to raise
    act(who.staff, case_id, "start", at(2026, 12, 8, 10))
    act(who.staff, case_id, "resolve", at(2026, 12, 8, 10), outcome="solved", reply="已清理完毕")
    act(who.staff, case_id, "close", at(2026, 12, 8, 11))
    assert case(case_id).due_at is None and work(case_id) is None
    clock.set_now(at(2026, 12, 9, 9))
    workflow.reopen_by_reporter(people.load_actor(who.resident.id), case_id, "没有清理干净")
    reopened = case(case_id)
    assert reopened.escalation_level == 0 and work(case_id) == reopened.due_at is not None   # rework: due again
    # Any writer, not only the ORM: a plain UPDATE of the level or the deadline moves the row too.
    db.session.execute(sa.update(Case).where(Case.id == case_id).values(escalation_level=2))
    assert work(case_id) is None
    db.session.execute(sa.update(Case).where(Case.id == case_id).values(escalation_level=1))
    assert work(case_id) == reopened.due_at
    later = reopened.due_at + timedelta(days=3)
    db.session.execute(sa.update(Case).where(Case.id == case_id).values(due_at=later))
    assert work(case_id) == later
    db.session.execute(sa.update(Case).where(Case.id == case_id).values(due_at=None))
    assert work(case_id) is None


def test_a_crash_before_the_commit_leaves_nothing_half_done_and_the_next_run_sends_everything(place, who,
                                                                                             monkeypatch):
    ids = [report(who.resident, at(2026, 11, 20, 10)) for _ in range(3)]
    for case_id in ids:
        accept_and_contact(who.staff, case_id, at(2026, 11, 20, 11))
    real = reminders._insert_notifications

    def crash(messages):
        real(messages)  # levels raised, events and notifications written… then the process dies
        raise RuntimeError("crash before the commit")

    monkeypatch.setattr(reminders, "_insert_notifications", crash)
    with pytest.raises(RuntimeError):
        sweep("overdue", at(2026, 11, 30, 9))
    assert received("case.overdue") == Counter()
    assert all(case(i).escalation_level == 0 and escalations(i) == [] for i in ids)
    monkeypatch.setattr(reminders, "_insert_notifications", real)
    assert twice("overdue", at(2026, 11, 30, 9))["urged"] == 3
    assert received("case.overdue") == Counter({who.staff.id: 3})
    assert all(len(escalations(i)) == 1 for i in ids)


def test_a_returned_case_is_urged_to_the_street_that_must_re_dispatch_it(place, who):
    case_id = report(who.resident, at(2026, 11, 20, 10))
    act(who.staff, case_id, "return", at(2026, 11, 20, 11), reason="不属于本居委会")
    assert twice("overdue", at(2026, 11, 24, 9))["urged"] == 1  # the contact deadline (Monday) passed
    assert received("case.overdue") == Counter({who.street.id: 1})


# --- 回访 and 评价 -----------------------------------------------------------------------------------------------------

def test_visit_due_the_working_day_after_closing(place, who):
    case_id = report(who.resident, at(2026, 11, 20, 10))
    close(who.staff, case_id, at(2026, 11, 27, 15))  # Friday: 回访 due Monday
    assert case(case_id).visit_due_at == at(2026, 11, 30, 23, 59, 59)
    assert sweep("visit_due", at(2026, 11, 28, 9)) == {"cases": 0, "notified": 0}
    assert twice("visit_due", at(2026, 11, 30, 8)) == {"cases": 1, "notified": 1}
    assert received("case.visit_due") == Counter({who.staff.id: 1})
    # Visited: no longer selected.
    act(who.staff, case_id, "visit", at(2026, 11, 30, 10), result="solved")
    assert sweep("visit_due", at(2026, 11, 30, 11)) == {"cases": 0, "notified": 0}


def test_rating_request_goes_to_the_reporter_by_inbox_and_wechat_once(app, place, who, wechat_fake):
    notifications.record_grants(who.resident.id, ["CASE_SURVEY_TEMPLATE_ID"])
    case_id = report(who.resident, at(2026, 11, 20, 10))
    assert sweep("rating_request", at(2026, 11, 20, 12)) == {"cases": 0, "notified": 0}  # not closed yet
    close(who.staff, case_id, at(2026, 11, 27, 15))
    assert twice("rating_request", at(2026, 11, 27, 15, 5)) == {"cases": 1, "notified": 1}
    assert received("case.visit_survey") == Counter({who.resident.id: 1})
    assert sweep("rating_request", at(2026, 11, 28, 9))["notified"] == 0
    request = db.session.execute(sa.select(Notification).where(Notification.kind == "case.visit_survey")).scalar_one()
    assert request.delivery.status == "pending" and request.link == f"pages/cases/rate?id={case_id}"
    # The delivery job sends the subscribe message the reporter consented to.
    wechat_fake.reset()
    assert notifications.deliver_pending(app.extensions["wechat"])["sent"] >= 1
    sent = [m for m in wechat_fake.sent if m["template_id"] == "CASE_SURVEY_TEMPLATE_ID"]
    assert len(sent) == 1 and sent[0]["touser"] == "openid-reporter"
    assert sent[0]["page"] == f"pages/cases/rate?id={case_id}"


def test_no_rating_request_once_rated_long_closed_or_without_a_reporter(place, who):
    rated = report(who.resident, at(2026, 11, 20, 10))
    close(who.staff, rated, at(2026, 11, 20, 11))
    clock.set_now(at(2026, 11, 20, 11, 30))
    workflow.rate(people.load_actor(who.resident.id), rated, 5)
    assert sweep("rating_request", at(2026, 11, 20, 12)) == {"cases": 0, "notified": 0}
    # A closed case older than the catch-up window is not asked any more.
    old = report(who.neighbour, at(2026, 11, 2, 10), location=THERE)
    close(who.staff2, old, at(2026, 11, 2, 11))
    assert sweep("rating_request", at(2026, 11, 20, 12)) == {"cases": 0, "notified": 0}
    # An Open311 report without a reporting user: nobody to ask (and nobody to contact first).
    clock.set_now(at(2026, 11, 20, 12))
    partner = workflow.create_case(None, category_code="corridor_clutter", description="楼道堆物",
                                   location=HERE, source="open311").id
    assert case(partner).reporter_user_id is None
    assert sweep("contact_missed", at(2026, 11, 24, 9)) == {"cases": 0, "notified": 0}
    act(who.staff, partner, "accept", at(2026, 11, 24, 10))
    act(who.staff, partner, "start", at(2026, 11, 24, 10))
    act(who.staff, partner, "resolve", at(2026, 11, 24, 10), outcome="solved", reply="已清理")
    act(who.staff, partner, "close", at(2026, 11, 24, 10))
    assert sweep("rating_request", at(2026, 11, 24, 11)) == {"cases": 0, "notified": 0}
    assert received("case.visit_survey") == Counter()


# --- the morning digest ------------------------------------------------------------------------------------------

def test_overdue_digest_once_per_neighbourhood_per_working_day(place, who):
    mine = [report(who.resident, at(2026, 11, 20, 10)) for _ in range(7)]
    theirs = report(who.neighbour, at(2026, 11, 20, 10), location=THERE)
    accept_and_contact(who.staff, mine[0], at(2026, 11, 20, 11))  # due on the 27th: overdue later than the rest
    numbers = {i: case(i).number for i in mine + [theirs]}
    assert sweep("overdue_digest", at(2026, 11, 21, 8, 30)) == {"skipped": "not a working day"}
    # Monday 23rd 08:30: nothing overdue yet (contact due Monday 23:59:59).
    assert sweep("overdue_digest", at(2026, 11, 23, 8, 30)) == {"neighbourhoods": 0, "cases": 0, "notified": 0}
    result = twice("overdue_digest", at(2026, 11, 24, 8, 30))
    # nb: staff, colleague, head, street; nb2: staff2, street. The street reads one digest per neighbourhood.
    assert result == {"neighbourhoods": 2, "cases": 7, "notified": 6}
    digests = received("case.overdue_digest")
    assert digests == Counter({who.staff.id: 1, who.colleague.id: 1, who.head.id: 1, who.street.id: 2,
                               who.staff2.id: 1})
    mine_digest = db.session.execute(sa.select(Notification).where(
        Notification.kind == "case.overdue_digest", Notification.user_id == who.staff.id)).scalar_one()
    assert mine_digest.data["count"] == 6 and "香泉路居委会" in mine_digest.title
    top = mine_digest.data["numbers"]
    # The most overdue first (all due on the 23rd: by id); the contacted case is not overdue yet.
    assert top == [numbers[i] for i in mine[1:1 + reminders.DIGEST_TOP]] and "等" in mine_digest.body
    assert all(n in mine_digest.body for n in top)
    # The next working day brings a new digest; the same day never a second one.
    assert twice("overdue_digest", at(2026, 11, 25, 8, 30))["notified"] == 6
    assert sweep("overdue_digest", at(2026, 11, 25, 17))["notified"] == 0
    assert received("case.overdue_digest")[who.staff.id] == 2


# --- cost grows with the due rows, not the table ----------------------------------------------------------------

def _filler(place, reporter_id, count, now):
    """Cases written in bulk, none of them due for any reminder: closed and visited and rated,
    open with distant deadlines, or overdue and already escalated to 督办."""
    rows = []
    long_ago = now - timedelta(days=200)
    for i in range(count):
        kind = i % 3
        row = {"number": f"FILL{i:06d}", "category_code": "corridor_clutter", "description": "x",
               "street_id": place.street.id, "neighbourhood_id": place.nb.id, "reporter_user_id": reporter_id,
               "anonymous": False, "contact_consent": True, "source": "resident", "complex": False, "cycle": 1,
               "version": 1, "received_at": long_ago, "updated_at": long_ago, "deadlines_provisional": False,
               "contact_due_at": long_ago, "handle_due_at": long_ago}
        if kind == 0:
            row.update(status="closed", escalation_level=0, first_contact_at=long_ago, closed_at=long_ago,
                       visit_due_at=long_ago, visited_at=long_ago, rating=5, rated_at=long_ago, due_at=None)
        elif kind == 1:
            far = now + timedelta(days=30)
            row.update(status="in_progress", escalation_level=0, first_contact_at=long_ago, contact_due_at=far,
                       handle_due_at=far, due_at=far)
        else:
            row.update(status="in_progress", escalation_level=2, first_contact_at=long_ago, due_at=long_ago)
        rows.append(row)
    db.session.execute(sa.insert(Case), rows)
    db.session.commit()


class _Statements:
    def __init__(self, engine):
        self.engine, self.statements = engine, []

    def __enter__(self):
        sa.event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc):
        sa.event.remove(self.engine, "before_cursor_execute", self._record)

    def _record(self, conn, cursor, statement, parameters, context, executemany):
        self.statements.append((statement, parameters))


def test_the_overdue_sweep_reads_only_the_due_rows(place, who):
    now = at(2026, 11, 30, 9)
    _filler(place, who.resident.id, 2000, now)
    due = [report(who.resident, at(2026, 11, 20, 10)) for _ in range(5)]
    for case_id in due:
        accept_and_contact(who.staff, case_id, at(2026, 11, 20, 11))
    clock.set_now(now)
    with _Statements(db.engine) as seen:
        result = reminders.overdue()
    assert result == {"cases": 5, "urged": 5, "escalated": 0, "notified": 5}
    # A handful of statements, none of them loading the filler.
    assert len(seen.statements) < 40
    with _Statements(db.engine) as seen:
        assert reminders.overdue() == {"cases": 5, "urged": 0, "escalated": 0, "notified": 0}
    assert len(seen.statements) <= 3  # the batch select; nothing else to do


@pytest.mark.parametrize("name, when, index, nth", [
    ("contact_due_soon", at(2026, 11, 23, 21), "ix_case_contact_due", 0),
    ("contact_missed", at(2026, 11, 24, 9), "ix_case_contact_due", 0),
    ("handling_due_soon", at(2026, 11, 27, 21), "ix_case_handle_due", 0),
    ("handling_due_soon", at(2026, 11, 27, 21), "ix_case_rework_due", 1),
    ("overdue", at(2026, 11, 30, 9), "ix_case_escalation_due_at", 0),
    ("overdue_digest", at(2026, 11, 30, 9), "ix_case_overdue", 0),
    ("visit_due", at(2026, 11, 30, 9), "ix_case_visit_due", 0),
    ("rating_request", at(2026, 11, 30, 9), "ix_case_rating_due", 0),
])
def test_each_sweep_can_use_its_partial_index(place, who, is_postgres, name, when, index, nth):
    """The sweep's own SELECT, captured as sent, is planned on the index made for it: the partial
    index's predicate is implied by the query (literals, not parameters, for its constant parts)."""
    _filler(place, who.resident.id, 300, when)
    clock.set_now(when)
    with _Statements(db.engine) as seen:
        getattr(reminders, name)()
    selects = [(s, p) for s, p in seen.statements
               if s.lstrip().upper().startswith("SELECT") and ('FROM "case"' in s or 'JOIN "case"' in s)]
    assert selects, seen.statements
    statement, parameters = selects[nth]
    connection = db.session.connection()
    if is_postgres:
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        plan = "\n".join(r[0] for r in connection.exec_driver_sql("EXPLAIN " + statement, parameters))
    else:
        plan = "\n".join(str(r[-1]) for r in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement,
                                                                          parameters))
    assert index in plan, plan


def test_notifications_written_in_bulk_keep_notifys_contract(place, who):
    """One key, one notification, ever — also when another writer took the key between the sweep's
    look-up and its insert; a kind with a subscribe-message template gets its WeChat delivery."""
    clock.set_now(at(2026, 11, 20, 9))
    notifications.notify(who.staff.id, kind="case.overdue", dedupe_key="taken:u1", title="t", body="b")
    messages = [reminders._Message(who.staff.id, "case.overdue", "taken:u1", "again", "b", None, None),
                reminders._Message(who.staff.id, "case.overdue", "new:u1", "新的" * 60, "b", "/cases/1", {"case_id": 1}),
                reminders._Message(who.resident.id, "case.visit_survey", "survey:u2", "请评价", "b", "/cases/2?id=2",
                                   None)]
    assert reminders._write_notifications(messages) == 2
    db.session.commit()
    rows = {n.dedupe_key: n for n in db.session.execute(sa.select(Notification)).scalars()}
    assert rows["taken:u1"].title == "t"
    assert rows["new:u1"].created_at == at(2026, 11, 20, 9) and rows["new:u1"].data == {"case_id": 1}
    assert rows["new:u1"].delivery is None
    assert rows["survey:u2"].delivery.template_id == "CASE_SURVEY_TEMPLATE_ID"
    assert rows["survey:u2"].delivery.status == "pending"
    assert len(rows["new:u1"].title) == 100  # cut as notify() cuts it
    outbox = reminders._Outbox()
    outbox.add([who.staff.id], "case.overdue", "long", "标题" * 80, "正文")
    assert outbox.send() == 1 and db.session.execute(sa.select(sa.func.length(Notification.title)).where(
        Notification.dedupe_key == f"long:u{who.staff.id}")).scalar_one() == 100
    assert db.session.execute(sa.select(sa.func.count()).select_from(Delivery)).scalar_one() == 1


# --- the jobs ----------------------------------------------------------------------------------------------------

def test_the_case_sweeps_are_scheduled(app, place, who):
    jobs = {job.id: job for job in runner.all_jobs()}
    for name in reminders.SWEEPS:
        assert f"cases.{name}" in jobs
    digest = jobs["cases.overdue_digest"]
    # Every day at 08:30: the sweep itself skips holidays and runs on 调休 make-up Saturdays.
    assert (digest.trigger, digest.trigger_args) == ("cron", {"hour": 8, "minute": 30})
    for name in ("contact_due_soon", "contact_missed", "handling_due_soon", "overdue"):
        job = jobs[f"cases.{name}"]
        assert job.trigger == "interval" and 10 <= job.trigger_args["minutes"] <= 15
    # Run through the runner as the scheduler does (own app context and session).
    report(who.resident, at(2026, 11, 20, 10))
    clock.set_now(at(2026, 11, 24, 9))
    assert runner.run_job(app, jobs["cases.contact_missed"]) == {"cases": 1, "notified": 3}
    assert jobs["cases.contact_missed"].func() == {"cases": 1, "notified": 0}
