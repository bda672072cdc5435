"""Demo elders living alone in 万里街道, at the district's scale:

* about 1,400 elders on the rosters of its 居委会 (6.1 % of the registered elders living alone in Shanghai, applied
  to Wanli's 66,000 residents), 香泉路居民区 (香泉苑, the oldest estate) with the most and at the top of the risk
  tiers; each verified by the 居委会 head at a home visit, most of them with the signed care consent, two emergency
  contacts and, for those at the top tiers, a 民生档案;
* about 280 老伙伴 volunteers aged 55–72, each paired with up to 5 elders of their neighbourhood (1 : 5), and the
  demo volunteer ``partner.demo`` with elder.demo among theirs;
* their visit plans (the 老伙伴's two contacts a week, the 居委会's monthly visit at the top tier) started five
  weeks ago, and the visits made: most on time, some late, some missed (a few volunteers fall behind), so each
  居委会's monthly visit rate is realistic;
* devices (smoke, door, water meter, motion) in the homes of a tenth of them, with a week of their events;
* three alarms in 香泉路, through the real use-cases with the clock moved to each moment: a kitchen smoke alarm
  three days ago that was cooking (a false alarm), an elder whose door, water and movement stopped two days ago,
  found fallen by her 老伙伴 at the door and taken to hospital (now away), and an SOS this morning that the
  居委会 is attending.

Idempotent: nothing is added when the roster has elders."""
from __future__ import annotations

import random
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from data.demo.build import person_name, verify
from models.base import db
from models.care import (Alarm, Contact, Device, DeviceEvent, Elder, LivelihoodFile, Pairing, Vendor, Visit,
                         VisitDue)
from models.people import ResidentProfile, RoleAssignment, User
from service.db import transactional
from models.places import Building, Neighbourhood, Street, Unit
from models.privacy import Consent
from service import clock, consent, people, privacy
from service.care import alarms, plans, visits, workflow
from service.care import rules as care_rules

SEED = "20261207:care"
STREET = "310107-WL"
OLDEST = "310107-WL-XQL"          # 香泉路居民区 (香泉苑)
ELDERS, OLDEST_ELDERS = 1400, 220
PARTNER_LOAD = 5
DEVICE_SHARE = 0.10
KINDS = ("smoke", "door", "water", "motion")
ROOMS = {"smoke": "厨房", "door": "入户门", "water": "厨房", "motion": "卧室"}
COUNTS = {"care_elders": Elder, "care_pairings": Pairing, "care_due_visits": VisitDue, "care_visits": Visit,
          "care_devices": Device, "care_events": DeviceEvent, "care_alarms": Alarm}
PLANS_WEEKS = 5
RELATIONS = ("child", "child", "other_relative", "neighbour", "grandchild", "friend")


def _phone(rng: random.Random) -> str:
    return f"13{rng.randint(0, 9)}{rng.randint(10_000_000, 99_999_999)}"


class CareLoader:
    def __init__(self):
        self.rng = random.Random(SEED)
        self.now = clock.now()
        self.today = clock.local(self.now).date()
        self.added = 0

    def _head(self, nb: Neighbourhood) -> int:
        return db.session.execute(sa.select(RoleAssignment.user_id).where(
            RoleAssignment.role == "staff", RoleAssignment.scope_type == "neighbourhood",
            RoleAssignment.scope_id == nb.id).order_by((RoleAssignment.title == "nc_head").desc(),
                                                      RoleAssignment.id).limit(1)).scalar()

    def _units(self, nb: Neighbourhood) -> list[int]:
        return db.session.execute(sa.select(Unit.id).join(Building, Building.id == Unit.building_id)
                                  .where(Building.neighbourhood_id == nb.id).order_by(Unit.id)).scalars().all()

    def _person(self, name: str, born: date, nb: Neighbourhood, staff_id: int, unit_id: int | None,
                username: str | None = None, is_demo: bool = False) -> User:
        user = User(username=username, nickname=name, is_demo=is_demo)
        db.session.add(user)
        db.session.flush()
        phone = _phone(self.rng)
        profile = ResidentProfile(user_id=user.id, name=name, phone_enc=privacy.encrypt(phone),
                                  phone_hash=privacy.lookup_hash(phone), phone_verified=False,
                                  address=f"{nb.name.removesuffix('居民区')}{self.rng.randint(1, 200)}号"
                                          f"{self.rng.randint(1, 6)}0{self.rng.randint(1, 4)}室",
                                  created_at=self.now, updated_at=self.now)
        verify(profile, staff_id, self.now - timedelta(days=200), id_number=False, birth_date=born,
               neighbourhood_id=nb.id, unit_id=unit_id)
        db.session.add(profile)
        self.added += 2
        return user

    def _elder(self, user: User, nb: Neighbourhood, staff_id: int, tier: int, signed: bool) -> Elder:
        rng = self.rng
        living = rng.choices(("alone", "elders_only", "childless"), (70, 22, 8))[0]
        since = self.now - timedelta(days=rng.randint(40, 700))
        elder = Elder(user_id=user.id, neighbourhood_id=nb.id, street_id=nb.street_id, living=living, risk_tier=tier,
                      verified_by=staff_id, verified_at=since, verified_on="home_visit", status="active",
                      created_at=since, updated_at=since)
        db.session.add(elder)
        db.session.flush()
        if signed:
            db.session.add(Consent(user_id=user.id, purpose="care", notice_version=consent.notice().version,
                                   given_at=since, given_by=staff_id, channel="staff", evidence="paper_form"))
        for position in range(1, (2 if living == "childless" else 3)):
            db.session.add(Contact(elder_id=elder.id, position=position, name=person_name(rng),
                                   relation=RELATIONS[0 if position == 1 and living != "childless" else
                                                      rng.randrange(len(RELATIONS))],
                                   phone_enc=privacy.encrypt(_phone(rng))))
        if tier <= 2:
            db.session.add(LivelihoodFile(
                elder_id=elder.id, version=1, written_by=staff_id, written_at=since,
                household=[{"name": db.session.get(ResidentProfile, user.id).name, "relation": "self",
                            "lives_in": True}],
                benefits=rng.sample(["高龄津贴", "低保", "特困供养", "残疾人补贴", "居家养老服务补贴"], rng.randint(0, 2)),
                housing=rng.choice(["老公房六楼，无电梯", "老公房三楼", "售后公房二楼，卫生间无扶手", "商品房高层，有电梯"]),
                needs=rng.choice(["助餐送餐", "陪同就医", "代购日用品", "冬季取暖", "家电维修", "心理慰藉"]),
                health_enc=privacy.encrypt(rng.choice(["高血压，每日服药", "糖尿病，注射胰岛素", "行动不便，使用助行器",
                                                       "听力下降", "轻度认知障碍，家属每周探望"])) if signed else None))
        self.added += 3
        return elder

    def load_roster(self) -> tuple[list[Elder], dict[int, list[Elder]]]:
        street = db.session.execute(sa.select(Street).where(Street.code == STREET)).scalar_one()
        nbs = db.session.execute(sa.select(Neighbourhood).where(Neighbourhood.street_id == street.id)
                                 .order_by(Neighbourhood.id)).scalars().all()
        others = [nb for nb in nbs if nb.code != OLDEST]
        per_nb = {nb.id: OLDEST_ELDERS if nb.code == OLDEST else (ELDERS - OLDEST_ELDERS) // len(others)
                  for nb in nbs}
        elders, by_nb = [], {}
        demo_elder = db.session.execute(sa.select(User).where(User.username == "elder.demo")).scalar_one_or_none()
        for nb in nbs:
            staff_id = self._head(nb)
            units = self._units(nb)
            for i in range(per_nb[nb.id]):
                oldest = nb.code == OLDEST
                tier = self.rng.choices((1, 2, 3), (55, 30, 15) if oldest else (12, 33, 55))[0]
                if oldest and i == 0 and demo_elder is not None:
                    user = demo_elder
                else:
                    born = date(self.today.year - self.rng.randint(70, 96), self.rng.randint(1, 12),
                                self.rng.randint(1, 28))
                    user = self._person(person_name(self.rng), born, nb, staff_id,
                                        self.rng.choice(units) if units else None)
                elder = self._elder(user, nb, staff_id, tier, signed=self.rng.random() < 0.85)
                elders.append(elder)
                by_nb.setdefault(nb.id, []).append(elder)
        return elders, by_nb

    def load_partners(self, by_nb: dict[int, list[Elder]]) -> list[tuple[User, list[Elder]]]:
        """老伙伴 of each neighbourhood, each with up to five of its elders (the first of 香泉路 is partner.demo)."""
        teams = []
        for nb_id, elders in by_nb.items():
            nb = db.session.get(Neighbourhood, nb_id)
            staff_id = self._head(nb)
            units = self._units(nb)
            for start in range(0, len(elders), PARTNER_LOAD):
                first_demo = nb.code == OLDEST and start == 0
                born = date(self.today.year - self.rng.randint(55, 72), self.rng.randint(1, 12),
                            self.rng.randint(1, 28))
                partner = self._person(person_name(self.rng), born, nb, staff_id,
                                       self.rng.choice(units) if units else None,
                                       username="partner.demo" if first_demo else None, is_demo=first_demo)
                team = elders[start:start + PARTNER_LOAD]
                for elder in team:
                    db.session.add(Pairing(elder_id=elder.id, visitor_user_id=partner.id, role="partner",
                                           starts_on=clock.local(elder.verified_at).date(), created_by=staff_id))
                    self.added += 1
                teams.append((partner, team))
        return teams

    def load_visits(self, teams: list[tuple[User, list[Elder]]]) -> None:
        """The default plans, started five weeks ago, with their due visits to the horizon; the visits made: a
        reliable 老伙伴 makes nine contacts in ten, within the window, mostly by phone; one in ten falls behind
        (half); the 居委会 visits nine in ten of its top-tier elders at the door."""
        rng, now = self.rng, self.now
        start = self.today - timedelta(weeks=PLANS_WEEKS)
        defaults = care_rules.current().plans.values()
        visitor_of, reliable = {}, {}
        for partner, team in teams:
            steady = rng.random() > 0.1
            for elder in team:
                visitor_of[elder.id], reliable[elder.id] = partner.id, steady
        heads = {}
        for elder in {e.id: e for _, team in teams for e in team}.values():
            heads.setdefault(elder.neighbourhood_id, self._head(db.session.get(Neighbourhood, elder.neighbourhood_id)))
            for plan in defaults:
                if plan.tiers is None or elder.risk_tier in plan.tiers:
                    plans.new_plan(elder, role=plan.role, rule=plan.rrule, window_days=plan.window_days,
                                   starts_on=start, now=now, actor_user_id=heads[elder.neighbourhood_id],
                                   reason="default")
        due = db.session.execute(sa.select(VisitDue, Elder.neighbourhood_id).join(Elder, Elder.id == VisitDue.elder_id)
                                 .where(VisitDue.earliest_at <= now, VisitDue.cancelled_at.is_(None))
                                 .order_by(VisitDue.id)).all()
        made = []
        for row, neighbourhood_id in due:
            partner = row.role == "partner"
            chance = (0.92 if reliable.get(row.elder_id, True) else 0.5) if partner else 0.9
            if rng.random() > chance:
                continue
            earliest, latest = clock.local(row.earliest_at), clock.local(row.latest_at)
            span = max(60, int((min(latest, clock.local(now)) - earliest).total_seconds()) - 60)
            at = earliest + timedelta(seconds=rng.randint(8 * 3600 % span, span)) if span > 8 * 3600 else \
                earliest + timedelta(seconds=rng.randint(0, span))
            visitor = visitor_of.get(row.elder_id) if partner else heads[neighbourhood_id]
            if visitor is None:
                continue
            outcome = rng.choices(("well", "needs_help", "absent", "unreachable"), (90, 5, 4, 1))[0]
            visit = Visit(elder_id=row.elder_id, visitor_user_id=visitor, role=row.role, at=at,
                          channel=("phone" if rng.random() < 0.6 else "door") if partner else "door",
                          outcome=outcome, recorded_by=visitor, recorded_at=at,
                          notes_enc=privacy.encrypt(rng.choice(["精神不错，聊了家常", "血压平稳，提醒按时服药",
                                                                "家里暖气不太好，已告知居委会", "想参加社区活动"]))
                          if rng.random() < 0.3 else None)
            db.session.add(visit)
            made.append((row, visit))
        db.session.flush()
        for row, visit in made:
            row.visit_id = visit.id
        self.added += len(due) + len(made)

    def load_devices(self, elders: list[Elder]) -> list[Device]:
        """Four devices in the homes of a tenth of the elders who signed the consent (the highest tiers first),
        with a week of heartbeats and activity."""
        vendor = Vendor(code="anju", name="安居物联（演示）", secret_enc=privacy.encrypt("demo-vendor-secret"),
                        created_at=self.now - timedelta(days=300))
        db.session.add(vendor)
        db.session.flush()
        signed = set(db.session.execute(sa.select(Consent.user_id).where(Consent.purpose == "care")).scalars())
        chosen = sorted((e for e in elders if e.user_id in signed), key=lambda e: (e.risk_tier, e.id))
        chosen = chosen[:int(len(elders) * DEVICE_SHARE)]
        devices, events = [], []
        week = self.now - timedelta(days=7)
        for elder in chosen:
            for kind in KINDS:
                device = Device(elder_id=elder.id, vendor_id=vendor.id, vendor_ref=f"AJ-{elder.id:05d}-{kind}",
                                kind=kind, room=ROOMS[kind], installed_at=self.now - timedelta(days=60),
                                battery=self.rng.randint(55, 100))
                db.session.add(device)
                devices.append(device)
        db.session.flush()
        for device in devices:
            last_seen = last_activity = None
            for hours in range(0, 7 * 24, 6):
                at = week + timedelta(hours=hours, minutes=self.rng.randint(0, 59))
                events.append(self._event(vendor.id, device, "heartbeat", at))
                last_seen = at
                if device.kind != "smoke" and 7 <= clock.local(at).hour <= 21:
                    events.append(self._event(vendor.id, device, "activity", at + timedelta(minutes=7)))
                    last_activity = at + timedelta(minutes=7)
            # The last hour: every device heard from, and used (so nobody is quiet when the demo starts).
            last_seen = self.now - timedelta(minutes=self.rng.randint(1, 30))
            events.append(self._event(vendor.id, device, "heartbeat", last_seen))
            if device.kind != "smoke":
                last_activity = self.now - timedelta(minutes=self.rng.randint(5, 55))
                events.append(self._event(vendor.id, device, "activity", last_activity))
            device.last_seen_at = max(filter(None, (last_seen, last_activity)))
            device.last_activity_at = last_activity
        db.session.execute(sa.insert(DeviceEvent), events)
        self.added += len(devices) + len(events)
        return devices

    def _event(self, vendor_id: int, device: Device, kind: str, at: datetime) -> dict:
        return {"vendor_id": vendor_id, "vendor_event_id": f"{device.vendor_ref}-{kind}-{int(at.timestamp())}",
                "device_id": device.id, "vendor_ref": device.vendor_ref, "kind": kind, "at": at,
                "received_at": at + timedelta(seconds=2)}


@transactional
def _raise(elder_id: int, device_id: int | None, kind: str, at: datetime, *, source: str, rule: str,
           severity: str) -> int:
    """A device's alarm event (or, with no device, a rule that held) and the alarm it opens, its first rungs
    taken: what the events' endpoint and the no-activity sweep do."""
    elder = db.session.get(Elder, elder_id)
    event_id = None
    if device_id is not None:
        device = db.session.get(Device, device_id)
        event = DeviceEvent(vendor_id=device.vendor_id, vendor_event_id=f"{device.vendor_ref}-{kind}-{int(at.timestamp())}",
                            device_id=device.id, vendor_ref=device.vendor_ref, kind=kind, at=at,
                            received_at=at + timedelta(seconds=2))
        db.session.add(event)
        db.session.flush()
        event_id = event.id
    alarm = alarms.open_alarm(elder, source=source, rule=rule, severity=severity, now=at, event_id=event_id)
    if event_id is not None:
        db.session.get(DeviceEvent, event_id).alarm_id = alarm.id
    return alarm.id


@transactional
def _climb(alarm_id: int, at: datetime) -> None:
    alarms.climb(db.session.get(Alarm, alarm_id), at)


def _at(moment: datetime, actor_id: int, call, *args, **kwargs):
    """A use-case called as ``actor_id`` at ``moment``."""
    clock.set_now(moment)
    try:
        return call(people.load_actor(actor_id), *args, **kwargs)
    finally:
        clock.set_now(None)


def load_alarms(devices: list[Device]) -> int:
    """The demo's three alarms in 香泉路 (see the module's text)."""
    oldest = db.session.execute(sa.select(Neighbourhood).where(Neighbourhood.code == OLDEST)).scalar_one()
    staff = db.session.execute(sa.select(User.id).where(User.username == "staff.demo")).scalar_one()
    homes: dict[int, dict[str, Device]] = {}
    for device in devices:
        homes.setdefault(device.elder_id, {})[device.kind] = device
    chosen = db.session.execute(sa.select(Elder).where(Elder.id.in_(homes), Elder.neighbourhood_id == oldest.id,
                                                       Elder.away_from.is_(None))
                                .order_by(Elder.id).limit(3)).scalars().all()
    if len(chosen) < 3:
        return 0
    cooking, fallen, sos = chosen
    now = clock.now()
    today = clock.local(now).date()
    day = lambda n, h, m=0: datetime(today.year, today.month, today.day, h, m, tzinfo=clock.SHANGHAI) \
        - timedelta(days=n)  # noqa: E731

    # 1. Cooking smoke, three days ago: the 居委会 takes it, finds a pan and an open window.
    t = day(3, 11, 42)
    alarm = _raise(cooking.id, homes[cooking.id]["smoke"].id, "alarm", t, source="device", rule="smoke",
                   severity="emergency")
    _at(t + timedelta(minutes=3), staff, alarms.take, alarm)
    _at(t + timedelta(minutes=14), staff, alarms.on_site, alarm)
    _at(t + timedelta(minutes=20), staff, alarms.resolve, alarm, outcome="false_alarm",
        note="做饭油烟触发烟感，已开窗通风，提醒做饭时打开油烟机")

    # 2. No door, water or movement since the evening two days ago: the ladder reaches her 老伙伴, who finds her
    # fallen at home; she goes to hospital (away for ten days).
    home = homes[fallen.id]
    stopped = day(2, 19, 30)
    # Her devices go on sending their heartbeats; nothing has used them since.
    db.session.execute(sa.delete(DeviceEvent).where(DeviceEvent.device_id.in_([d.id for d in home.values()]),
                                                    DeviceEvent.kind == "activity", DeviceEvent.at > stopped))
    for device in home.values():
        device.last_activity_at = None if device.kind == "smoke" else stopped
    db.session.commit()
    t = stopped + timedelta(hours=12, minutes=5)
    alarm = _raise(fallen.id, None, "activity", t, source="no_activity", rule="no_water_12h", severity="urgent")
    for minutes in (30, 60):
        _climb(alarm, t + timedelta(minutes=minutes, seconds=20))
    partner = db.session.execute(sa.select(Pairing.visitor_user_id).where(Pairing.elder_id == fallen.id,
                                                                          Pairing.role == "partner")).scalar()
    _at(t + timedelta(minutes=63), partner, alarms.take, alarm)
    _at(t + timedelta(minutes=75), partner, alarms.on_site, alarm)
    visit = _at(t + timedelta(minutes=80), partner, visits.record_visit, fallen.id,
                {"at": t + timedelta(minutes=76), "channel": "door", "outcome": "needs_help",
                 "notes": "敲门无应答，请物业开门，老人夜间在卫生间摔倒，神志清楚，已叫120送医"})
    _at(t + timedelta(minutes=95), staff, alarms.resolve, alarm, outcome="hospital", visit_id=visit.id,
        note="老伙伴上门发现老人摔倒，120送同济医院，已通知子女")
    _at(t + timedelta(minutes=100), staff, workflow.set_away, fallen.id,
        {"away_reason": "hospital", "away_from": t + timedelta(minutes=90), "away_until": t + timedelta(days=10)})

    # 3. SOS this morning: the 居委会 is at the door.
    sos_device = Device(elder_id=sos.id, vendor_id=home["door"].vendor_id, vendor_ref=f"AJ-{sos.id:05d}-sos",
                        kind="sos", room="卧室床头", installed_at=now - timedelta(days=60), battery=90,
                        last_seen_at=now - timedelta(minutes=12))
    db.session.add(sos_device)
    db.session.commit()
    t = min(day(0, 8, 50), now - timedelta(minutes=30))
    alarm = _raise(sos.id, sos_device.id, "alarm", t, source="device", rule="sos", severity="emergency")
    _at(t + timedelta(minutes=2), staff, alarms.take, alarm)
    _at(t + timedelta(minutes=11), staff, alarms.on_site, alarm)
    return 3


def load(spec: dict | None = None) -> int:
    """Load the demo roster, volunteers and devices; return how many rows were added."""
    if db.session.execute(sa.select(Elder.id).limit(1)).first():
        return 0
    if db.session.execute(sa.select(Street.id).where(Street.code == STREET)).first() is None:
        return 0
    loader = CareLoader()
    try:
        elders, by_nb = loader.load_roster()
        teams = loader.load_partners(by_nb)
        loader.load_visits(teams)
        devices = loader.load_devices(elders)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return loader.added + load_alarms(devices)
