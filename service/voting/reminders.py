"""The voting sweeps the scheduler runs (declared in jobs/voting.py): open motions on time (freezing the
electorate), close and count them on time, link the ballots cast since the last run into the hash chains,
and send the notices and reminders. Each is idempotent; the intervals only decide how soon things happen.

Each motion is opened, closed or linked in a transaction of its own (``open_motion``, ``close_motion``,
``link_motion``): a sweep holds one motion's row lock at a time, never two (sweeps running side by side do
not wait on each other in a cycle), and the other motions' ballots go on meanwhile. A sweep reads the motions
due, then runs one such transaction for each.

Notices and reminders: each stage of a motion is sent once: every notification carries a dedupe key
(``voting:<motion>:<stage>:<user>``), and a finished stage is recorded on the motion so the next
sweep does not read its recipients again. A sweep reads only motions in the state the stage belongs
to (a handful), so its cost grows with the reminders due, not with the size of the register.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from models.base import db
from models.places import Owner, Ownership
from models.voting import Ballot, Motion, Voter
from service import clock, notifications
from service.db import reading, transactional
from service.voting import electorate, rules
from service.voting.workflow import close_motion, link_motion, open_motion

STAGES = ("notice", "opened", "remind_early", "remind_last", "counted", "published", "extended")


def _register_users(motion: Motion) -> list[int]:
    """Owners in scope on the current register who have a platform account (the notice goes to every owner)."""
    unit_ids = [u[0] for u in electorate.scope_units(motion)]
    users: set[int] = set()
    for chunk in range(0, len(unit_ids), 5000):
        users |= set(db.session.execute(
            sa.select(Owner.user_id).join(Ownership, Ownership.owner_id == Owner.id)
            .where(Ownership.unit_id.in_(unit_ids[chunk:chunk + 5000]), Ownership.ended_on.is_(None),
                   Owner.user_id.is_not(None))).scalars())
    return sorted(users)


def _voters(motion: Motion, *, without_ballot: bool = False) -> list[int]:
    query = sa.select(Voter.user_id).where(Voter.motion_id == motion.id, Voter.user_id.is_not(None))
    if without_ballot:
        query = query.where(~sa.exists().where(Ballot.motion_id == motion.id, Ballot.voter_id == Voter.id,
                                               Ballot.status.in_(("pending", "counted"))))
    return sorted(set(db.session.execute(query).scalars()))


@transactional
def _send(motion_id: int, stage: str, users: list[int], title: str, body: str) -> int:
    sent = 0
    for user_id in users:
        sent += notifications.notify(user_id, kind=f"voting.{stage.split('_')[0]}",
                                     dedupe_key=f"voting:{motion_id}:{stage}:{user_id}", title=title, body=body,
                                     link=f"/pages/voting/motion?id={motion_id}", data={"motion_id": motion_id})
    motion = db.session.execute(sa.select(Motion).where(Motion.id == motion_id).with_for_update(key_share=True)
                                .execution_options(populate_existing=True)).scalar_one()
    if stage not in (motion.reminders_sent or []):
        motion.reminders_sent = [*(motion.reminders_sent or []), stage]
    return sent


def _due(statuses: tuple[str, ...], stage: str) -> list[Motion]:
    motions = db.session.execute(sa.select(Motion).where(Motion.status.in_(statuses)).order_by(Motion.id)).scalars()
    return [m for m in motions if stage not in (m.reminders_sent or [])]


def _local(moment) -> str:
    return moment.astimezone(clock.SHANGHAI).strftime("%Y年%m月%d日 %H:%M")


def send_reminders() -> dict:
    """Send every voting notice and reminder that is due and not yet sent: what is due is read first, then
    each motion's stage is sent in a transaction of its own."""
    counts = dict.fromkeys(STAGES, 0)
    with reading():
        due = _due_notices(clock.now(), rules.current().policy.remind_days_before_close)
    for motion_id, stage, users, title, body in due:
        counts[stage] += _send(motion_id, stage, users, title, body)
    return counts


def _due_notices(now: datetime, days: int) -> list[tuple[int, str, list[int], str, str]]:
    """(motion id, stage, recipients, title, body) of every stage due and not yet sent, stage by stage."""
    due = []
    for m in _due(("announced", "open", "closed", "counted", "failed", "published"), "notice"):
        due.append((m.id, "notice", _register_users(m), f"业主大会表决公告：{m.title}",
                    f"表决将于{_local(m.opens_at)}开始，{_local(m.closes_at)}截止。请届时在小程序中投票。"))
    for m in _due(("open",), "opened"):
        due.append((m.id, "opened", _voters(m), f"表决已开始：{m.title}",
                    f"请在{_local(m.closes_at)}前投票。每位业主一票，网上、纸质、委托只计一次。"))
    for stage, before in (("remind_early", timedelta(days=days)), ("remind_last", timedelta(days=1))):
        for m in _due(("open",), stage):
            if now >= m.closes_at - before:
                due.append((m.id, stage, _voters(m, without_ballot=True), f"提醒：{m.title}即将截止",
                            f"表决将于{_local(m.closes_at)}截止，您尚未投票。"))
    for m in _due(("open",), "extended"):
        if m.extended:
            due.append((m.id, "extended", _voters(m), f"表决延期：{m.title}",
                        f"参与表决的业主未达三分之二，表决延长至{_local(m.closes_at)}。"))
    for m in _due(("counted", "failed", "published"), "counted"):
        due.append((m.id, "counted", _voters(m), f"计票完成：{m.title}",
                    "表决已截止并完成计票，结果经业委会公布后可在小程序查看。"))
    for m in _due(("published",), "published"):
        due.append((m.id, "published", _register_users(m), f"表决结果公告：{m.title}",
                    "表决结果已公布，可查看结果、回执码列表并核对本人选票。"))
    return due


# --- opening, closing, linking ------------------------------------------------------------------------------

def _due_ids(query) -> list[int]:
    with reading():
        return db.session.execute(query).scalars().all()


def open_due(now: datetime | None = None) -> dict:
    """Open every announced motion whose time has come, freezing its electorate (one transaction each)."""
    now = now or clock.now()
    opened = blocked = 0
    for motion_id in _due_ids(sa.select(Motion.id).where(Motion.status == "announced", Motion.opens_at <= now)
                              .order_by(Motion.opens_at)):
        if open_motion(motion_id):
            opened += 1
        else:
            blocked += 1
    return {"opened": opened, "blocked": blocked}


def close_due(now: datetime | None = None) -> dict:
    """Close every open motion past its closing time and count it; extend once when participation is short."""
    now = now or clock.now()
    outcome = {"counted": 0, "failed": 0, "extended": 0}
    for motion_id in _due_ids(sa.select(Motion.id).where(Motion.status == "open", Motion.closes_at <= now)
                              .order_by(Motion.closes_at)):
        result = close_motion(motion_id)
        if result:
            outcome[result] += 1
    return outcome


def link_pending_ballots() -> dict:
    """The linking sweep: append the pending ballots of every motion to its chain (see chain.link_pending)."""
    ids = _due_ids(sa.select(Ballot.motion_id).where(sa.text("ballot.chain_pending")).distinct()
                   .order_by(Ballot.motion_id))
    linked = 0
    for motion_id in ids:
        linked += link_motion(motion_id)
    return {"motions": len(ids), "ballots": linked}
