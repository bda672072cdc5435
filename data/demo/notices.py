"""Demo notices, published through the real use-cases with the clock moved to each moment:

* 香泉苑 buildings 1–6: an urgent water outage (停水) for tomorrow, published yesterday morning by staff.demo,
  pinned and acknowledged as it goes in a street of elders: about 40 % in the app, most of the rest told by
  phone or at the door by the 居委会 (recorded by staff), a few still to reach (the chase list);
* 香泉路居民区: the 敬老月 activity (October, the month for the elderly), published two weeks ago;
* 万里街道: two policy notices from the street's administrator.

Each unit of buildings 1–6 has a household account whose residence the 居委会 verified (``xqy.<unit id>``),
so that the outage reaches a realistic audience. Idempotent: nothing is added when notices exist.
"""
from __future__ import annotations

import random
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from data.demo.build import person_name, verify
from models.base import db
from models.notices import Notice, NoticeAudience
from models.people import ResidentProfile, User
from models.places import Building, Estate, Neighbourhood, Street, Unit
from service import clock, people
from service.notices import workflow

SEED = "20261207:notices"
ESTATE, HOME, STREET = "310107-WL-XQY", "310107-WL-XQL", "310107-WL"
OUTAGE_BUILDINGS = [str(n) for n in range(1, 7)]
COUNTS = {"notices": Notice, "notice_audience": NoticeAudience}


def _actor(username: str):
    user_id = db.session.execute(sa.select(User.id).where(User.username == username)).scalar_one_or_none()
    return people.load_actor(user_id) if user_id else None


def _households(estate: Estate, staff_id: int, rng: random.Random) -> int:
    """One verified household account per unit of buildings 1–6 (most of them elders, as in 香泉苑)."""
    units = db.session.execute(sa.select(Unit.id, Building.neighbourhood_id).join(Building, Building.id == Unit.building_id)
                               .where(Unit.estate_id == estate.id, Building.number.in_(OUTAGE_BUILDINGS))
                               .order_by(Unit.id)).all()
    now, today, added = clock.now(), clock.local_now().date(), 0
    for unit_id, neighbourhood_id in units:
        username = f"xqy.{unit_id}"
        if db.session.execute(sa.select(User.id).where(User.username == username)).first():
            continue
        user = User(username=username, nickname="香泉苑住户", is_demo=False)
        db.session.add(user)
        db.session.flush()
        age = rng.choice([34, 45, 58, 63, 67, 70, 72, 75, 78, 81, 84, 87, 90])
        profile = ResidentProfile(user_id=user.id, name=person_name(rng), created_at=now, updated_at=now)
        verify(profile, staff_id, now, id_number=False, neighbourhood_id=neighbourhood_id, unit_id=unit_id,
               birth_date=date(today.year - age, rng.randint(1, 12), rng.randint(1, 28)))
        db.session.add(profile)
        added += 2
    db.session.commit()
    return added


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=clock.SHANGHAI)


def load(spec: dict | None = None) -> int:
    """Load the demo notices; return how many rows were added."""
    if db.session.execute(sa.select(Notice.id).limit(1)).first():
        return 0
    estate = db.session.execute(sa.select(Estate).where(Estate.code == ESTATE)).scalar_one_or_none()
    home = db.session.execute(sa.select(Neighbourhood).where(Neighbourhood.code == HOME)).scalar_one_or_none()
    street = db.session.execute(sa.select(Street).where(Street.code == STREET)).scalar_one_or_none()
    staff, admin = _actor("staff.demo"), _actor("admin.street")
    if None in (estate, home, street, staff, admin):
        return 0
    rng = random.Random(SEED)
    added = _households(estate, staff.user_id, rng)
    today = clock.local_now().date()
    try:
        # Two policy notices from the street, a month and a week ago.
        for days, title, text in (
                (30, "万里街道关于开展2026年度居住证积分政策宣传的通知",
                 "街道社区事务受理服务中心每周三下午提供居住证积分咨询，请有需要的居民携带证件前往。"),
                (7, "关于做好冬季燃气安全使用的告知",
                 "入冬以来燃气使用增多，请居民定期检查燃气软管，离家关闭总阀；独居老人家中可申请安装燃气报警器。")):
            clock.set_now(_at(today - timedelta(days=days), 10))
            workflow.create(admin, {"category": "policy", "title": title, "body": text, "publish": True,
                                    "scopes": [{"type": "street", "id": street.id}]})
        # 敬老月: the neighbourhood's activity, two weeks ago.
        clock.set_now(_at(today - timedelta(days=14), 9))
        workflow.create(staff, {"category": "activity", "title": "香泉路居民区敬老月活动：重阳茶话会",
                                "body": "本周六上午9:30在居民区活动室举办重阳茶话会，为80岁以上老人测量血压、赠送慰问品。行动不便的老人可请楼组长协助登记上门慰问。",
                                "publish": True, "scopes": [{"type": "neighbourhood", "id": home.id}]})
        # The outage: published yesterday 09:00, for tomorrow 08:00–17:00.
        buildings = db.session.execute(sa.select(Building.id).where(
            Building.estate_id == estate.id, Building.number.in_(OUTAGE_BUILDINGS)).order_by(Building.id)).scalars()
        published = _at(today - timedelta(days=1), 9)
        clock.set_now(published)
        outage = workflow.create(staff, {
            "category": "outage", "urgent": True, "pinned": True, "publish": True,
            "title": "香泉苑1—6号楼停水通知",
            "body": "因供水管道改造，明日8:00至17:00香泉苑1—6号楼停水，请提前储水。独居老人如需送水请联系居委会。",
            "scopes": [{"type": "building", "id": b} for b in buildings],
            "event_at": _at(today + timedelta(days=1), 8), "valid_until": _at(today + timedelta(days=1), 18)})
        added += 1 + outage.audience_count
        _acknowledgements(outage.id, staff, published, rng)
    finally:
        clock.set_now(None)
    return added + 3


def _acknowledgements(notice_id: int, staff, published: datetime, rng: random.Random) -> None:
    """About 40 % acknowledge in the app within the day; the 居委会 phones or visits most of the others the
    same afternoon and records it; about one in eight is still to reach."""
    audience = db.session.execute(sa.select(NoticeAudience.user_id).where(NoticeAudience.notice_id == notice_id)
                                  .order_by(NoticeAudience.user_id)).scalars().all()
    for user_id in audience:
        roll = rng.random()
        if roll < 0.40:
            clock.set_now(published + timedelta(minutes=rng.randint(5, 600)))
            workflow.acknowledge(people.load_actor(user_id), notice_id)
        elif roll < 0.875:
            clock.set_now(published + timedelta(hours=3, minutes=rng.randint(0, 300)))
            workflow.acknowledge(staff, notice_id, for_user_id=user_id,
                                 channel="phone" if roll < 0.75 else "door")
