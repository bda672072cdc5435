"""Demo owners' votes, driven through the real voting workflow with the clock moved to each step.

* 中远两湾城 (~11,000 units): a maintenance-fund motion (item 5) to replace 208号楼's elevators, open now and
  put to that building's owners only (they share its cost and use), with paper ballots entered and confirmed
  by two 居委会 staff and the committee member's own online ballot (he lives in 208号楼);
* 香泉苑: a property-manager (物业费调价, item 4) motion closed, counted and published last month, and an
  elevator retrofit (加装电梯, item 7) for one entrance, open now;
* 泰山二村: a committee election (3 seats, 5 candidates), counted and published.

Idempotent by skipping: nothing is added when the demo estates already have motions.
"""
from __future__ import annotations

import hashlib
import io
import random
from datetime import datetime, timedelta

import sqlalchemy as sa

from models.base import db
from models.people import User
from models.places import Building, Estate, Unit
from models.uploads import Upload
from models.voting import Ballot, Motion, VoterUnit
from service import clock, people
from service.voting import reminders, workflow

SEED = "20240617:voting"
MEGA, SMALL, ELECTION = "310107-YC-ZYLWC", "310107-WL-XQY", "310107-YC-TS2C"


def _user(username: str):
    user_id = db.session.execute(sa.select(User.id).where(User.username == username)).scalar_one_or_none()
    return people.load_actor(user_id) if user_id else None


def _estate(code: str) -> Estate | None:
    return db.session.execute(sa.select(Estate).where(Estate.code == code)).scalar_one_or_none()


def _image(actor) -> int:
    """A small image standing in for the signed paper ballot or mandate scan."""
    try:
        from PIL import Image

        buffer = io.BytesIO()
        Image.new("RGB", (8, 8), "white").save(buffer, "JPEG")
        data = buffer.getvalue()
    except ImportError:  # pragma: no cover
        data = b"\xff\xd8\xff\xd9"
    upload = Upload(owner_user_id=actor.user_id, content_type="image/jpeg", width=8, height=8, size=len(data),
                    sha256=hashlib.sha256(data).hexdigest(), data=data)
    db.session.add(upload)
    db.session.commit()
    return upload.id


def _motion(actor, estate: Estate, at: datetime, **fields) -> int:
    clock.set_now(at)
    motion = workflow.create_motion(actor, {"estate_id": estate.id, **fields})
    workflow.act(actor, motion.id, "announce")
    return motion.id


def _open(motion_id: int) -> None:
    motion = db.session.get(Motion, motion_id)
    clock.set_now(motion.opens_at + timedelta(minutes=5))
    reminders.open_due()


def _first_units(motion_id: int) -> list[tuple[int, int]]:
    """(voter id, one of its units) for every voter of the frozen electorate, in a fixed order."""
    return db.session.execute(sa.select(VoterUnit.voter_id, sa.func.min(VoterUnit.unit_id))
                              .where(VoterUnit.motion_id == motion_id).group_by(VoterUnit.voter_id)
                              .order_by(VoterUnit.voter_id)).all()


def _paper(motion_id: int, clerk, checker, rng: random.Random, share: float, choices, start: datetime,
           end: datetime, *, candidates: list[int] | None = None) -> int:
    """Paper ballots for ``share`` of the voters who have not voted yet, each entered by ``clerk`` with its
    own signed image and confirmed by ``checker``."""
    voted = set(db.session.execute(sa.select(Ballot.voter_id).where(Ballot.motion_id == motion_id)).scalars())
    voters = _first_units(motion_id)
    chosen = [v for v in voters if rng.random() < share and v[0] not in voted]
    step = (end - start) / max(len(chosen), 1)
    added = 0
    for index, (_, unit_id) in enumerate(chosen):
        clock.set_now(start + step * index)
        image = _image(clerk)
        if candidates:
            picks = sorted(rng.sample(candidates, rng.choice([1, 2, 3, 3, 3])),
                           key=lambda c: candidates.index(c))
            ballot = workflow.enter_paper(clerk, motion_id, unit_id=unit_id, choice=None, candidate_ids=picks[:3],
                                          image_upload_id=image)
        else:
            ballot = workflow.enter_paper(clerk, motion_id, unit_id=unit_id, choice=rng.choices(*choices)[0],
                                          candidate_ids=None, image_upload_id=image)
        workflow.confirm_paper(checker, motion_id, ballot.id, accept=True)
        added += 1
    return added


def already_loaded() -> bool:
    return db.session.execute(sa.select(Motion.id).join(Estate, Estate.id == Motion.estate_id)
                              .where(Estate.code.in_((MEGA, SMALL, ELECTION))).limit(1)).first() is not None


def load(spec: dict | None = None, now: datetime | None = None) -> int:
    if already_loaded():
        return 0
    committee, zy_clerk, zy_head = _user("committee.demo"), _user("yc.zy1.sw"), _user("yc.zy1.head")
    xq_clerk, xq_head = _user("wl.xql.sw"), _user("wl.xql.head")
    gx_clerk, gx_head = _user("yc.ts2.sw"), _user("yc.ts2.head")
    mega, small, election_estate = _estate(MEGA), _estate(SMALL), _estate(ELECTION)
    if None in (committee, zy_clerk, zy_head, xq_clerk, xq_head, gx_clerk, gx_head, mega, small, election_estate):
        return 0
    now = (now or clock.now()).replace(second=0, microsecond=0)
    rng = random.Random(SEED)
    added = 0
    try:
        # 香泉苑: property-manager motion, closed and published last month.
        fee = _motion(xq_head, small, now - timedelta(days=75), title="关于调整物业服务费标准的决定",
                      body="物业服务企业提出将多层住宅物业服务费由每月每平方米 0.90 元调整为 1.20 元，"
                           "业委会组织业主大会书面征求意见。", item=4,
                      opens_at=now - timedelta(days=55), closes_at=now - timedelta(days=41))
        _open(fee)
        added += _paper(fee, xq_clerk, xq_head, rng, 0.74, (("yes", "no", "abstain", "spoiled"), (62, 30, 7, 1)),
                        now - timedelta(days=55), now - timedelta(days=42))
        clock.set_now(now - timedelta(days=41) + timedelta(minutes=5))
        reminders.close_due()
        clock.set_now(now - timedelta(days=40))
        workflow.act(xq_head, fee, "publish")
        # 泰山二村: committee election, counted and published.
        election = _motion(gx_head, election_estate, now - timedelta(days=60), title="第三届业主委员会委员选举",
                           body="选举第三届业主委员会委员 3 名，候选人由换届改选小组提名。", item=3, kind="election",
                           seats=3, candidates=[{"name": n} for n in ("陆志明", "沈玉兰", "顾海峰", "姚佳敏", "金福林")],
                           opens_at=now - timedelta(days=40), closes_at=now - timedelta(days=26))
        _open(election)
        ids = [c.id for c in db.session.get(Motion, election).candidates]
        added += _paper(election, gx_clerk, gx_head, rng, 0.74, None, now - timedelta(days=40),
                        now - timedelta(days=27), candidates=ids)
        clock.set_now(now - timedelta(days=26) + timedelta(minutes=5))
        reminders.close_due()
        clock.set_now(now - timedelta(days=25))
        workflow.act(gx_head, election, "publish")
        # 中远两湾城: replacing 208号楼's elevators from the maintenance fund, put to that building, open now.
        lift_building = db.session.execute(sa.select(Building.id).where(Building.estate_id == mega.id,
                                                                        Building.number == "208")).scalar_one()
        fund = _motion(committee, mega, now - timedelta(days=26), title="关于使用专项维修资金更换208号楼电梯的决定",
                       body="208号楼两台电梯已运行二十余年，拟使用专项维修资金 126 万元更换，费用由本楼业主分摊，"
                            "由本楼业主表决，详见附件预算。", item=5, scope_type="buildings", scope_ids=[lift_building],
                       opens_at=now - timedelta(days=8), closes_at=now + timedelta(days=12))
        _open(fund)
        clock.set_now(now - timedelta(days=7))
        workflow.cast(committee, fund, choice="yes")
        added += 1 + _paper(fund, zy_clerk, zy_head, rng, 0.3, (("yes", "no", "abstain"), (70, 20, 10)),
                            now - timedelta(days=7), now - timedelta(hours=2))
        # 香泉苑: elevator retrofit for one entrance, open now.
        entrance_id = db.session.execute(sa.select(Unit.entrance_id).where(Unit.estate_id == small.id)
                                         .order_by(Unit.id).limit(1)).scalar_one()
        lift = _motion(xq_head, small, now - timedelta(days=20), title="关于1号楼1单元加装电梯的决定",
                       body="1号楼1单元业主申请加装电梯，费用由本单元业主按楼层分摊，详见方案与分摊表。", item=7,
                       scope_type="entrance", scope_ids=[entrance_id],
                       opens_at=now - timedelta(days=2), closes_at=now + timedelta(days=12))
        _open(lift)
        added += _paper(lift, xq_clerk, xq_head, rng, 0.6, (("yes", "no"), (85, 15)), now - timedelta(days=2),
                        now - timedelta(hours=1))
    finally:
        clock.set_now(None)
    return added + 4
