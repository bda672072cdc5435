"""Voting notices and reminders by moving the clock: each stage once, only to whom it concerns."""
from datetime import timedelta

import sqlalchemy as sa

from models.base import db
from models.notifications import Notification
from service import clock
from service.voting import reminders
from tests.api.test_voting import CLOSES, OPENS, act, create, vote
from tests.factories import make_user, make_world
from tests.factories.voting import make_voting_estate


def sent(stage):
    return db.session.execute(sa.select(sa.func.count()).select_from(Notification).where(
        Notification.dedupe_key.like(f"voting:%:{stage}:%"))).scalar()


def test_every_stage_is_sent_once_to_the_right_owners(client):
    world = make_world()
    staff = make_user(name="李", roles=[("staff", "neighbourhood", world.nb.id)])
    e = make_voting_estate(world, [("1", "1", "50.00", (t,), True) for t in "abc"]
                           + [("1", "1", "60.00", ("d", "e"), True), ("1", "1", "70.00", ("developer",), False)])
    motion_id = create(client, staff, e["estate"].id)
    assert reminders.send_reminders()["notice"] == 0                 # a draft is not announced
    act(client, staff, motion_id, "announce")
    assert reminders.send_reminders()["notice"] == 5                 # every owner with an account, co-owner included
    assert reminders.send_reminders()["notice"] == 0
    clock.set_now(OPENS + timedelta(minutes=1))
    reminders.open_due()
    assert reminders.send_reminders()["opened"] == 4                 # designated voters of the frozen electorate
    vote(client, e["users"]["a"], motion_id)
    clock.set_now(CLOSES - timedelta(days=3, minutes=1))
    assert reminders.send_reminders()["remind_early"] == 0
    clock.set_now(CLOSES - timedelta(days=3) + timedelta(minutes=1))
    assert reminders.send_reminders()["remind_early"] == 3           # not to the owner who voted
    vote(client, e["users"]["b"], motion_id)
    clock.set_now(CLOSES - timedelta(hours=20))
    counts = reminders.send_reminders()
    assert counts["remind_last"] == 2 and counts["remind_early"] == 0
    clock.set_now(CLOSES + timedelta(minutes=1))
    reminders.close_due()
    assert reminders.send_reminders()["counted"] == 4
    act(client, staff, motion_id, "publish")
    assert reminders.send_reminders()["published"] == 5
    assert reminders.send_reminders() == dict.fromkeys(reminders.STAGES, 0)
    assert sent("remind_early") == 3 and sent("notice") == 5
