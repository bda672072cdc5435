"""Demo meal service (老年助餐): the seeds' sites with a fortnight of menus and bookings.

Sites (names from the seeds where they give them; the others are labelled 演示):

* 万里街道 [000][001]: 香泉"智助食堂" (smart canteen in the 香泉片区党群服务中心, open to residents and nearby
  office workers), 中浩云社区食堂, and the street's 为老助餐点;
* 宜川路街道 [002]: 2 长者食堂 and a few of the planned 24 助餐点;
* 真如镇街道 [003]: its 6 助餐点 and a 配餐中心 (central kitchen: receives manifests, takes no bookings).

Menus: lunch every service day (dinner at the canteens) from a week ago to a week ahead: a 两荤一素 set, a
一荤两素 set and the daily 特惠套餐, dishes rotating. Diners: a pool of generated elders per site (ages
60–95, some with verified 低保/独居/残疾 statuses on their 助餐卡, the 80+ and those living alone with a home
unit so they can have meals delivered), plus elder.demo, for whom family.demo books.

Every booking goes through the real use-case (``workflow.book``) with the service clock moved to the moment
it was made (the afternoon before the meal, or now for the days ahead); past meals are then served at the
counter (``workflow.serve``), a few cancelled, and the rest marked no-show by the real sweep. Idempotent by
skipping: sites and slots are found by their natural keys; bookings are made only when no pool diner has one.
"""
from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa

from models.base import db
from models.meals import MealBooking, MealCard, MealSite, MealSlot
from models.people import ResidentProfile, RoleAssignment, User
from models.places import Building, Neighbourhood, Unit
from models.privacy import Consent
from service import clock, consent, people
from service.meals import pricing, queries, reminders, workflow
from service.meals import sites as meal_sites

SEED = "20240617:meals"
DAYS_BACK, DAYS_AHEAD = 7, 6
DINERS_PER_SITE = 8
BOOK_SHARE = 0.5
SHANGHAI = clock.SHANGHAI

# code, name, kind, street prefix, neighbourhood key, (lat, lng), open to public, delivery radius, dinner
SITES = [
    ("WL-XQ-ZZ", "香泉智助食堂", "smart_canteen", "WL", "XQL", (31.2705, 121.4083), True, 1500, True),
    ("WL-ZHY-ST", "中浩云社区食堂", "community_canteen", "WL", "ZHY", (31.2728, 121.4091), True, 1200, True),
    ("WL-YH-ZCD", "颐华为老助餐点", "meal_point", "WL", "YH2", (31.2676, 121.4158), False, 800, False),
    ("WL-ZHJY-ZCD", "中环家园为老助餐点", "meal_point", "WL", "ZHJY", (31.2638, 121.4029), False, 800, False),
    ("YC-XY-ZZST", "香溢长者食堂（演示）", "elder_canteen", "YC", "XYHC", (31.2585, 121.4362), False, 1500, True),
    ("YC-ZY-ZZST", "中远两湾城长者食堂（演示）", "elder_canteen", "YC", "ZY2", (31.2465, 121.4379), False, 1500, True),
    ("YC-GX-ZCD", "光新助餐点", "meal_point", "YC", "GX", (31.2534, 121.4320), False, 800, False),
    ("YC-ZYUAN-ZCD", "赵园助餐点", "meal_point", "YC", "ZYUAN", (31.2553, 121.4460), False, 800, False),
    ("ZR-YJQ-ZCD", "杨家桥助餐点", "meal_point", "ZR", "YJQ1", (31.2560, 121.4014), False, 800, False),
    ("ZR-QJ-ZCD", "清涧助餐点", "meal_point", "ZR", "QJ", (31.2543, 121.3980), False, 800, False),
    ("ZR-ZG-ZCD", "真光助餐点", "meal_point", "ZR", "ZG5", (31.2563, 121.3959), False, 800, False),
    ("ZR-CZ-ZCD", "车站新村助餐点", "meal_point", "ZR", "CZXC", (31.2521, 121.4096), False, 800, False),
    ("ZR-XH-ZCD", "星河世纪城助餐点", "meal_point", "ZR", "XHSJC", (31.2439, 121.4026), False, 800, False),
    ("ZR-CY-ZCD", "曹杨花苑助餐点", "meal_point", "ZR", "CYHY", (31.2470, 121.4126), False, 800, False),
]
KITCHEN = ("ZR-PCZX", "真如镇配餐中心（演示）", "central_kitchen", "ZR", "CZXC", (31.2512, 121.4090))

MEATS = ["红烧鸡腿", "糖醋小排", "清蒸鲈鱼", "红烧狮子头", "土豆烧牛肉", "白切鸡", "葱烤鲫鱼", "咖喱鸡块",
         "肉末茄子", "番茄牛腩"]
VEG = ["清炒青菜", "番茄炒蛋", "炒三丝", "香菇菜心", "西兰花", "冬瓜虾米", "蒜蓉生菜", "麻婆豆腐", "炒蛋饺",
       "芹菜豆干"]
SOUP = ["紫菜蛋汤", "冬瓜汤", "罗宋汤", "菌菇汤", "咸菜豆腐汤"]


def _signed_consent(user_id: int, staff_id: int | None, now: datetime) -> Consent:
    """The separate consent to sensitive data a diner signed at their 居委会, recorded by its staff."""
    return Consent(user_id=user_id, purpose=consent.SENSITIVE, notice_version=consent.notice().version, given_at=now,
                   given_by=staff_id or user_id, channel="staff" if staff_id else "self",
                   evidence="paper_form" if staff_id else None)


def _menu(rng: random.Random, day: date, meal: str) -> list[dict]:
    k = day.toordinal() + (0 if meal == "lunch" else 5)
    meats = [MEATS[k % len(MEATS)], MEATS[(k + 3) % len(MEATS)]]
    vegs = [VEG[k % len(VEG)], VEG[(k + 4) % len(VEG)]]
    soup = SOUP[k % len(SOUP)]
    items = [{"name": "两荤一素套餐", "elder_price": "15.00", "general_price": "22.00",
              "dishes": [*meats, vegs[0], soup, "米饭"], "allergens": ["鱼"] if "鱼" in "".join(meats) else [],
              "tags": ["low_salt"]},
             {"name": "一荤两素套餐（小份可选）", "elder_price": "12.00", "general_price": "18.00",
              "dishes": [meats[0], *vegs, "米饭"], "allergens": ["蛋"] if "蛋" in "".join(vegs) else [],
              "tags": ["soft", "small_portion"]}]
    if meal == "lunch":
        items.append({"name": "特惠套餐", "elder_price": "8.00", "general_price": "12.00", "discount": True,
                      "dishes": [vegs[1], "肉末蒸蛋", "米饭"], "allergens": ["蛋"], "tags": ["soft", "low_salt"]})
    return items


def _local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI)


def _mode(d: pricing.Diner, site: MealSite, pick: float) -> str:
    """Delivered when the diner has a home unit and may have meals delivered (most of them), else mostly dine-in."""
    if d.unit_id and pricing.delivery_allowed(d, meal_sites.site_rules(site)) and pick < 0.6:
        return "delivery"
    return "pickup" if pick > 0.85 else "dine_in"


FACILITY_SUBTYPES = {"smart_canteen": "智助食堂", "community_canteen": "社区食堂", "elder_canteen": "长者食堂",
                     "meal_point": "助餐点"}


class MealLoader:
    def __init__(self):
        self.rng = random.Random(SEED)
        self.added = 0
        self.today = clock.local_now().date()

    def neighbourhood(self, prefix: str, key: str) -> Neighbourhood | None:
        return db.session.execute(sa.select(Neighbourhood).where(
            Neighbourhood.code == f"310107-{prefix}-{key}")).scalar_one_or_none()

    def sites(self) -> list[MealSite]:
        made = []
        for code, name, kind, prefix, key, (lat, lng), public, radius, dinner in SITES:
            nb = self.neighbourhood(prefix, key)
            if nb is None:
                continue
            made.append(self._site(code, name, kind, nb, lat, lng, public, radius))
        code, name, kind, prefix, key, (lat, lng) = KITCHEN
        nb = self.neighbourhood(prefix, key)
        if nb is not None:
            self._site(code, name, kind, nb, lat, lng, False, 0, bookable=False)
        db.session.flush()
        return made

    def _site(self, code, name, kind, nb, lat, lng, public, radius, bookable=True) -> MealSite:
        site = db.session.execute(sa.select(MealSite).where(MealSite.code == code)).scalar_one_or_none()
        if site is None:
            site = meal_sites.create_site(code=code, name=name, kind=kind, street_id=nb.street_id,
                                          neighbourhood_id=nb.id, address=f"{nb.name}（演示地址）", lat=lat, lng=lng,
                                          bookable=bookable, open_to_public=public, delivery_radius_m=radius,
                                          service_days="1234567")
            self.added += 1
        return site

    def facilities(self, sites: list[MealSite]) -> None:
        """Each bookable site is also a 助餐 facility of the 15-minute life circle, linked to it."""
        from data.demo.life_circle import HOURS
        from models.life_circle import Facility
        from service.life_circle import hours as hours_mod
        from service.life_circle import walking

        for site in sites:
            external_id = f"meal-site:{site.code}"
            if db.session.execute(sa.select(Facility.id).where(Facility.external_id == external_id)).first():
                continue
            db.session.add(Facility(
                external_id=external_id, name=site.name, category_code="meal", subtype=FACILITY_SUBTYPES.get(site.kind, "助餐点"),
                address=site.address, lat=site.lat, lng=site.lng, cell=walking.cell_of(site.lat, site.lng),
                coord_source="approximate", hours=hours_mod.normalise(HOURS["meal"]), target_groups=["elder"],
                services=["堂食", "助餐"], accessible=True, bookable=True, status="open", street_id=site.street_id,
                neighbourhood_id=site.neighbourhood_id, meal_site_id=site.id))
            self.added += 1
        db.session.flush()

    def operator(self, site: MealSite) -> None:
        """operator.demo runs the first site (香泉智助食堂), whatever id it got."""
        user = db.session.execute(sa.select(User).where(User.username == "operator.demo")).scalar_one_or_none()
        if user is None:
            return
        exists = db.session.execute(sa.select(RoleAssignment.id).where(
            RoleAssignment.user_id == user.id, RoleAssignment.role == "operator",
            RoleAssignment.scope_type == "meal_site", RoleAssignment.scope_id == site.id)).first()
        if exists is None:
            db.session.add(RoleAssignment(user_id=user.id, role="operator", scope_type="meal_site", scope_id=site.id))
            self.added += 1

    def slots(self, sites: list[MealSite]) -> None:
        dinner = {code for code, *_rest, has_dinner in SITES if has_dinner}
        for site in sites:
            big = site.kind != "meal_point"
            for offset in range(-DAYS_BACK, DAYS_AHEAD + 1):
                day = self.today + timedelta(days=offset)
                for meal in ("lunch", "dinner") if site.code in dinner else ("lunch",):
                    exists = db.session.execute(sa.select(MealSlot.id).where(
                        MealSlot.site_id == site.id, MealSlot.day == day, MealSlot.meal == meal)).first()
                    if exists:
                        continue
                    capacity = {"dine_in": 80 if big else 30, "pickup": 20 if big else 10,
                                "delivery": 20 if big else 10}
                    if meal == "dinner":
                        capacity = {"dine_in": 40, "pickup": 10, "delivery": 0}
                    meal_sites.add_slot(site, day=day, meal=meal, capacity=capacity,
                                        set_meals=_menu(self.rng, day, meal))
                    self.added += 1

    def diners(self, site: MealSite) -> list[User]:
        rng = random.Random(f"{SEED}:{site.code}")
        units = list(db.session.execute(sa.select(Unit.id).join(Building, Building.id == Unit.building_id).where(
            Building.neighbourhood_id == site.neighbourhood_id).order_by(Unit.id).limit(200)).scalars())
        users = []
        staff = queries.staff_of_neighbourhood(site.neighbourhood_id)
        verifier = min(staff) if staff else None
        for i in range(DINERS_PER_SITE):
            username = f"meal.{site.code.lower()}.{i + 1}"
            user = db.session.execute(sa.select(User).where(User.username == username)).scalar_one_or_none()
            if user is None:
                from data.demo.build import person_name, verify

                user = User(username=username, nickname="助餐长者", is_demo=False)
                db.session.add(user)
                db.session.flush()
                age = rng.choice([62, 66, 68, 71, 74, 77, 79, 81, 84, 86, 89, 92])
                birth = date(self.today.year - age, rng.randint(1, 12), rng.randint(1, 28))
                lives_alone = rng.random() < 0.2
                unit_id = rng.choice(units) if units and (age >= 80 or lives_alone) else None
                # Their 居委会 checked the 户口簿 when issuing the card: birth date and residence are verified.
                now = clock.now()
                profile = ResidentProfile(user_id=user.id, name=person_name(rng), created_at=now, updated_at=now)
                verify(profile, verifier, now, id_number=False, birth_date=birth,
                       neighbourhood_id=site.neighbourhood_id, unit_id=unit_id)
                db.session.add(profile)
                db.session.add(MealCard(user_id=user.id, card_no=f"C{site.id:04d}{i + 1:07d}",
                                        low_income=rng.random() < 0.12, lives_alone=lives_alone,
                                        disabled=rng.random() < 0.05,
                                        diet_note=rng.choice([None, None, None, "少盐", "软烂", "糖尿病餐"])))
                # With the card they signed the separate consent to their sensitive statuses, which staff recorded.
                db.session.add(_signed_consent(user.id, verifier, now))
                self.added += 4
            users.append(user)
        return users

    def bookings(self, sites: list[MealSite], pools: dict[int, list[User]]) -> None:
        """Half the pool diners' days, and every other day of elder.demo (booked by family.demo), booked at the
        moment each was made; then settled."""
        now = clock.now()
        pool_ids = [u.id for users in pools.values() for u in users]
        if db.session.execute(sa.select(MealBooking.id).where(MealBooking.diner_user_id.in_(pool_ids))).first():
            return
        plans = self._plans(sites, pools)
        elder, family = (db.session.execute(sa.select(User).where(User.username == name)).scalar_one_or_none()
                         for name in ("elder.demo", "family.demo"))
        with_family = elder is not None and family is not None and bool(sites)
        if with_family:
            plans += self._family_plans(elder, family, sites[0])
        db.session.commit()
        plans.sort(key=lambda p: (p[0], p[1].id, p[2].id))
        proxies = {elder.id: people.load_actor(family.id)} if with_family else {}
        made = []
        for plan in plans:
            diner_id = plan[2].id
            booked = self._book(proxies.get(diner_id) or people.load_actor(diner_id), plan, now)
            if booked is not None:
                made.append(booked)
        self._settle(made, now)

    def _plans(self, sites: list[MealSite], pools: dict[int, list[User]]) -> list[tuple]:
        """(day, site, diner, pick, fate): which days each pool diner books, drawn from the seed."""
        rng = random.Random(f"{SEED}:bookings")
        plans = []
        for site in sites:
            for user in pools[site.id]:
                for offset in range(-DAYS_BACK, DAYS_AHEAD + 1):
                    day = self.today + timedelta(days=offset)
                    if rng.random() < BOOK_SHARE:
                        plans.append((day, site, user, rng.random(), rng.random()))
        return plans

    def _family_plans(self, elder: User, family: User, home: MealSite) -> list[tuple]:
        """elder.demo (with a meal card and its diet note, which family.demo consented to for them) eats at the
        first site every other day."""
        if db.session.get(MealCard, elder.id) is None:
            db.session.add(MealCard(user_id=elder.id, card_no="C0000000001", diet_note="少盐"))
            db.session.add(Consent(user_id=elder.id, purpose=consent.SENSITIVE, notice_version=consent.notice().version,
                                   given_at=clock.now(), given_by=family.id, channel="family"))
        return [(self.today + timedelta(days=offset), home, elder, 0.0, 0.5)
                for offset in range(-DAYS_BACK, DAYS_AHEAD + 1, 2)]

    def _book(self, actor: people.Actor, plan: tuple, now: datetime) -> tuple | None:
        """Book the plan's lunch through the real use-case at the moment it was made (the afternoon before, or
        now for the days ahead); None when there is no such lunch or it is refused (radius, eligibility)."""
        day, site, user, pick, fate = plan
        slot = db.session.execute(sa.select(MealSlot).where(MealSlot.site_id == site.id, MealSlot.day == day,
                                                            MealSlot.meal == "lunch")).scalar_one_or_none()
        if slot is None:
            return None
        moment = min(_local(day - timedelta(days=1), 15, int(pick * 50)), now)
        d = pricing.diner(user.id, day)
        set_meal = slot.set_meals[2 if (d.card and d.card.low_income and len(slot.set_meals) > 2)
                                  else int(pick * 10) % 2]
        with clock.frozen_at(moment):
            try:
                booking = workflow.book(actor, slot_id=slot.id, diner_id=user.id, mode=_mode(d, site, pick),
                                        set_meal_id=set_meal.id)
            except Exception:  # noqa: BLE001 — a refused booking (radius, eligibility) is simply not made
                return None
        self.added += 1
        return booking.id, booking.code, day, site, actor, fate

    def _settle(self, made: list[tuple], now: datetime) -> None:
        """A few bookings cancelled on the morning of the meal; past meals served at the counter, but for the
        no-shows, which the real sweep marks."""
        for booking_id, code, day, site, actor, fate in made:
            served_at = _local(day, 11, 15)
            if fate < 0.05:
                with clock.frozen_at(min(_local(day, 8, 0), now)):
                    try:
                        workflow.cancel(actor, booking_id, reason=None)
                    except Exception:  # noqa: BLE001
                        pass
            elif served_at <= now and fate <= 0.94:
                operator = people.load_actor(self._operator_id(site))
                with clock.frozen_at(served_at):
                    workflow.serve(operator, site_id=site.id, code=code)
        reminders.mark_no_shows()

    def _operator_id(self, site: MealSite) -> int:
        """A staff member of the site's neighbourhood ticks meals at the counter (operator.demo at 香泉)."""
        ops = queries.operators_of(site.id)
        if ops:
            return ops[0]
        staff = queries.staff_of_neighbourhood(site.neighbourhood_id)
        if staff:
            return staff[0]
        street_staff = db.session.execute(sa.select(RoleAssignment.user_id).where(
            RoleAssignment.role == "staff", RoleAssignment.scope_type == "street",
            RoleAssignment.scope_id == site.street_id)).scalar()
        return street_staff



# Counted in the summary of `flask demo load`.
COUNTS = {"meal_bookings": MealBooking}

def load(spec: dict | None = None) -> int:
    """Load the demo meal data; return how many rows were added."""
    loader = MealLoader()
    try:
        sites = loader.sites()
        loader.facilities(sites)
        if sites:
            loader.operator(sites[0])
        loader.slots(sites)
        pools = {site.id: loader.diners(site) for site in sites}
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    loader.bookings(sites, pools)
    db.session.commit()
    return loader.added

