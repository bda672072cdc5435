"""Builds the demo data set from ``places.yaml``.

The hierarchy (district → street → 片区 → 居民区 → estate) is written by hand
in the YAML file; buildings, entrances, units, the owners register and the
staff accounts are generated here from its compact rules with seeded
``random.Random`` streams, so every load produces the same data.

Loading is idempotent: rows are found by their natural keys (``code`` for
places, (estate, number) for buildings, (building, number) for entrances,
(entrance, number) for units, ``username`` for accounts) and only what is
missing is inserted. An estate whose units are all present is skipped, and an
estate that already has an owners register keeps it. Everything happens in
one transaction: committed at the end, rolled back on any error.

Coordinates are approximate GCJ-02 positions (``coord_source="approximate"``),
see the header of ``places.yaml``.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import yaml

from models.base import db
from models.people import FamilyLink, ResidentProfile, RoleAssignment, User
from models.places import (Area, Building, District, Entrance, Estate, Neighbourhood, Owner, Ownership, Street,
                           Unit, estate_neighbourhood)
from service import clock, privacy
from service.people import valid_id_number

PLACES_FILE = Path(__file__).with_name("places.yaml")
SEED = 20240617
COORD_SOURCE = "approximate"
SHANGHAI = ZoneInfo("Asia/Shanghai")
# The register's last year: owners' "since" dates fall before the end of it.
REGISTER_YEAR = 2024
# Shanghai issued 不动产权证书 from 2016; earlier titles are 房地产权证.
NEW_CERTIFICATES_FROM = 2016

# Owners register shape (shares of units).
UNREGISTERED = 0.02     # sold units not (yet) on the register
CO_OWNED = 0.16         # two owners, one designated voter
SECOND_UNIT = 0.05      # the owner already holds another unit of the estate
ORIGINAL_BUYER = 0.6    # bought within three years of completion
AREA_SURVEY = 0.05      # area from a survey (实测) instead of the register
AREA_CONTRACT = 0.03    # area from the sale contract

SURNAMES = ("张" * 6 + "王" * 6 + "陈" * 6 + "李" * 5 + "徐" * 4 + "朱" * 4 + "沈" * 4 + "陆" * 3 + "周" * 3
            + "顾" * 3 + "吴" * 3 + "黄" * 3 + "杨" * 3 + "钱" * 2 + "孙" * 2 + "胡" * 2 + "金" * 2 + "姚" * 2
            + "刘" * 2 + "蒋" * 2 + "马俞施蔡赵范郁许潘汪唐秦邵夏严盛丁倪宋曹袁冯戴龚")
GIVEN_NAMES = (
    # older generation
    "秀英 玉兰 凤英 德明 金凤 根生 惠芳 雪芳 卫东 爱华 红梅 文彬 月娥 阿娣 宝根 福林 "
    "美珍 凤娣 金妹 志明 秀珍 桂芳 永康 荣根 玉珍 洪福 菊英 雅琴 德兴 锦华 "
    # middle generation
    "伟 敏 静 丽 军 勇 磊 洁 芳 慧 红 华 峰 斌 蓉 燕 俊 琳 倩 涛 晨 健 颖 蕾 鹏 骏 "
    "海峰 晓东 立新 雯雯 佳敏 文杰 海燕 春华 建平 晓燕 伟明 国华 丽萍 晓峰 卫国 "
    "红霞 志刚 秀芳 晓红 海涛 永明 慧敏 雪梅 振华 晓军 彩凤 明辉 丽华 蓓蕾 "
    # younger generation
    "浩然 子涵 欣怡 宇轩 思远 一鸣 佳怡 梓萱 俊杰 诗雨 天佑 晓彤 嘉怡 逸飞 子豪 雨萱 "
    "梦婷 家豪 思琪 晨阳 佳琪 泽宇 若曦 奕辰"
).split()
# Demo accounts' names are kept off the generated register so that each is unambiguous.
DEMO_GIVEN_NAMES = {"秀兰", "志强", "桂英", "建华", "国平", "美华", "建国", "丽娟"}
assert not DEMO_GIVEN_NAMES & set(GIVEN_NAMES)
# Steps coprime to 10,000: index → (offset + index * step) % 10,000 is a permutation.
SERIAL_STEPS = [s for s in range(1001, 9999) if s % 2 and s % 5]
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


# --- the specification ---------------------------------------------------------------------------------------

def load_spec(path: Path = PLACES_FILE) -> dict:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _range(value) -> tuple:
    """An int or a [lo, hi] pair → (lo, hi)."""
    if isinstance(value, (list, tuple)):
        lo, hi = value
        return lo, hi
    return value, value


def _numbers(value) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    text = str(value)
    if "-" in text:
        lo, hi = text.split("-")
        return [str(n) for n in range(int(lo), int(hi) + 1)]
    return [text]


def _coord(value: float) -> float:
    return round(float(value), 4)


def _quantize(value: float) -> Decimal:
    return Decimal(f"{value:.2f}")


def id_number(region: str, birth: date, sequence: int) -> str:
    """A mainland ID number with its ISO 7064 MOD 11-2 check digit (odd sequence: male)."""
    body = f"{region}{birth:%Y%m%d}{sequence:03d}"
    total = sum(int(d) * w for d, w in zip(body, ID_WEIGHTS))
    number = body + "10X98765432"[total % 11]
    assert valid_id_number(number), number
    return number


def person_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN_NAMES)


# --- generated layout of an estate -------------------------------------------------------------------------

@dataclass
class BuildingPlan:
    number: str
    neighbourhood_key: str | None
    floors: int
    has_elevator: bool
    lat: float
    lng: float
    entrances: list[str]


@dataclass
class EstatePlan:
    buildings: list[BuildingPlan] = field(default_factory=list)
    # (building number, entrance number, unit number, floor, exclusive area, area source, sold)
    units: list[tuple] = field(default_factory=list)


def plan_estate(street_code: str, spec: dict) -> EstatePlan:
    """The buildings and units of one estate, the same on every call."""
    code = f"{street_code}-{spec['key']}"
    rng = random.Random(f"{SEED}:layout:{code}")
    only_nb = spec["neighbourhoods"][0] if len(spec["neighbourhoods"]) == 1 else None
    lat0, lng0 = spec["at"]
    plan = EstatePlan()
    for group in spec["buildings"]:
        nb_key = group.get("neighbourhood", only_nb)
        if nb_key is None or nb_key not in spec["neighbourhoods"]:
            raise ValueError(f"{code}: building group {group['numbers']} needs one of {spec['neighbourhoods']}")
        area_lo, area_hi = _range(group.get("area", spec["area"]))
        for number in _numbers(group["numbers"]):
            floors = rng.randint(*_range(group["floors"]))
            entrances = rng.randint(*_range(group.get("entrances", 1)))
            per_floor = rng.randint(*_range(group.get("per_floor", 2)))
            elevator = group.get("elevator", floors >= 7)
            if not elevator and rng.random() < spec.get("retrofit_elevators", 0):
                elevator = True
            building = BuildingPlan(
                number=number, neighbourhood_key=nb_key, floors=floors, has_elevator=elevator,
                lat=_coord(lat0 + rng.uniform(-0.0012, 0.0012)), lng=_coord(lng0 + rng.uniform(-0.0015, 0.0015)),
                entrances=[str(e) for e in range(1, entrances + 1)])
            plan.buildings.append(building)
            for entrance in building.entrances:
                # A stack (same position on every floor) has one layout, hence one area.
                stack_areas = [_quantize(rng.uniform(area_lo, area_hi)) for _ in range(per_floor)]
                for floor in range(1, floors + 1):
                    for position, area in enumerate(stack_areas, start=1):
                        roll = rng.random()
                        source = ("survey" if roll < AREA_SURVEY else
                                  "contract" if roll < AREA_SURVEY + AREA_CONTRACT else "register")
                        plan.units.append((number, entrance, f"{floor}{position:02d}", floor, area, source, True))
    developer = spec.get("developer")
    if developer:
        # The developer's unsold stock, scattered through the estate; its areas are surveyed (实测).
        unsold = set(rng.sample(range(len(plan.units)), round(len(plan.units) * developer["unsold"])))
        plan.units = [(*u[:5], "survey", False) if i in unsold else u for i, u in enumerate(plan.units)]
    return plan


# --- the loader ----------------------------------------------------------------------------------------------

class Loader:
    def __init__(self, spec: dict):
        self.spec = spec
        self.added = 0
        self.districts: dict[str, District] = {}
        self.streets: dict[str, Street] = {}
        self.neighbourhoods: dict[str, Neighbourhood] = {}
        self.estates: dict[str, Estate] = {}
        self.estate_specs: list[tuple[Street, dict, dict]] = []   # (street, district spec, estate spec)
        self.users: dict[str, User] = {}
        self.reserved_units: dict[str, set[tuple[str, str, str]]] = {}

    # -- helpers

    def _upsert(self, model, code: str, values: dict):
        obj = db.session.execute(sa.select(model).where(model.code == code)).scalar_one_or_none()
        if obj is None:
            obj = model(code=code, **values)
            db.session.add(obj)
            self.added += 1
        else:
            for name, value in values.items():
                if getattr(obj, name) != value:
                    setattr(obj, name, value)
        return obj

    def _bulk_insert(self, model, rows: list[dict], returning=None):
        if not rows:
            return []
        self.added += len(rows)
        # One timestamp for the batch (saves a default call per row and column).
        stamp = clock.now()
        rows = [{**row, "created_at": stamp, "updated_at": stamp} for row in rows]
        # Core inserts on the table (executemany in the session's transaction): no ORM bookkeeping per row.
        table = model.__table__
        if returning is not None:
            stmt = table.insert().returning(table.c[returning], sort_by_parameter_order=True)
            return list(db.session.execute(stmt, rows).scalars())
        db.session.execute(table.insert(), rows)
        return []

    # -- places

    def load_places(self) -> None:
        for d in self.spec["districts"]:
            district = self._upsert(District, d["code"], {"name": d["name"]})
            db.session.flush()
            self.districts[d["code"]] = district
            for s in d["streets"]:
                street_code = f"{d['code']}-{s['prefix']}"
                street = self._upsert(Street, street_code, {
                    "district_id": district.id, "name": s["name"], "prefix": s["prefix"],
                    "lat": _coord(s["at"][0]), "lng": _coord(s["at"][1]), "coord_source": COORD_SOURCE})
                db.session.flush()
                self.streets[street_code] = street
                self._load_street(street, d, s)

    def _load_street(self, street: Street, district_spec: dict, s: dict) -> None:
        keys: dict[str, Neighbourhood] = {}
        for a in s.get("areas", []):
            area = self._upsert(Area, f"{street.code}-{a['key']}", {"street_id": street.id, "name": a["name"]})
            db.session.flush()
            for n in a["neighbourhoods"]:
                if n["key"] in keys:
                    raise ValueError(f"{street.code}: neighbourhood key {n['key']} used twice")
                name = n.get("name") or f"{n['stem']}居民区"
                committee = n.get("committee") or f"{n['stem']}居委会"
                nb = self._upsert(Neighbourhood, f"{street.code}-{n['key']}", {
                    "street_id": street.id, "area_id": area.id, "name": name, "committee_name": committee,
                    "lat": _coord(n["at"][0]), "lng": _coord(n["at"][1]), "coord_source": COORD_SOURCE})
                keys[n["key"]] = nb
        db.session.flush()
        for nb in keys.values():
            self.neighbourhoods[nb.code] = nb
        for e in s.get("estates", []):
            missing = [k for k in e["neighbourhoods"] if k not in keys]
            if missing:
                raise ValueError(f"{street.code}-{e['key']}: unknown neighbourhoods {missing}")
            estate = self._upsert(Estate, f"{street.code}-{e['key']}", {
                "street_id": street.id, "name": e["name"], "address": e.get("address"),
                "housing_type": e.get("housing_type"), "built_year": e.get("built_year"),
                "lat": _coord(e["at"][0]), "lng": _coord(e["at"][1]), "coord_source": COORD_SOURCE})
            db.session.flush()
            self.estates[estate.code] = estate
            self.estate_specs.append((street, district_spec, e))
            linked = set(db.session.execute(sa.select(estate_neighbourhood.c.neighbourhood_id)
                                            .where(estate_neighbourhood.c.estate_id == estate.id)).scalars())
            rows = [{"estate_id": estate.id, "neighbourhood_id": keys[k].id} for k in e["neighbourhoods"]
                    if keys[k].id not in linked]
            if rows:
                db.session.execute(estate_neighbourhood.insert(), rows)
                self.added += len(rows)

    # -- buildings, entrances, units

    def load_units(self) -> None:
        counts = dict(db.session.execute(sa.select(Unit.estate_id, sa.func.count())
                                         .group_by(Unit.estate_id)).all())
        for street, _, e in self.estate_specs:
            estate = self.estates[f"{street.code}-{e['key']}"]
            plan = plan_estate(street.code, e)
            if counts.get(estate.id, 0) == len(plan.units):
                continue   # already loaded
            self._fill_estate(street, estate, plan)

    def _fill_estate(self, street: Street, estate: Estate, plan: EstatePlan) -> None:
        buildings = dict(db.session.execute(sa.select(Building.number, Building.id)
                                            .where(Building.estate_id == estate.id)).all())
        self._bulk_insert(Building, [{
            "estate_id": estate.id, "number": b.number, "name": f"{b.number}号楼", "floors": b.floors,
            "has_elevator": b.has_elevator,
            "neighbourhood_id": self.neighbourhoods[f"{street.code}-{b.neighbourhood_key}"].id,
            "lat": b.lat, "lng": b.lng, "coord_source": COORD_SOURCE,
        } for b in plan.buildings if b.number not in buildings])
        buildings = dict(db.session.execute(sa.select(Building.number, Building.id)
                                            .where(Building.estate_id == estate.id)).all())
        entrance_query = (sa.select(Building.number, Entrance.number, Entrance.id)
                          .join(Building, Building.id == Entrance.building_id)
                          .where(Building.estate_id == estate.id))
        entrances = {(b, e): i for b, e, i in db.session.execute(entrance_query)}
        self._bulk_insert(Entrance, [{"building_id": buildings[b.number], "number": e}
                                     for b in plan.buildings for e in b.entrances
                                     if (b.number, e) not in entrances])
        entrances = {(b, e): i for b, e, i in db.session.execute(entrance_query)}
        existing = set(db.session.execute(sa.select(Unit.entrance_id, Unit.number)
                                          .where(Unit.estate_id == estate.id)).all())
        self._bulk_insert(Unit, [{
            "entrance_id": entrances[(b, e)], "building_id": buildings[b], "estate_id": estate.id,
            "number": number, "floor": floor, "exclusive_area": area, "area_source": source, "sold": sold,
        } for b, e, number, floor, area, source, sold in plan.units if (entrances[(b, e)], number) not in existing])

    def unit_id(self, key: list) -> int:
        estate_code, building, entrance, number = (str(k) for k in key)
        estate = self.estates[estate_code]
        unit_id = db.session.execute(
            sa.select(Unit.id).join(Entrance, Entrance.id == Unit.entrance_id)
            .join(Building, Building.id == Unit.building_id)
            .where(Unit.estate_id == estate.id, Building.number == building, Entrance.number == entrance,
                   Unit.number == number)).scalar_one_or_none()
        if unit_id is None:
            raise ValueError(f"demo unit {key} does not exist in the generated layout")
        return unit_id

    # -- owners register

    def load_owners(self) -> None:
        for u in self.spec.get("demo_users", []):
            if u.get("unit") and (u.get("register_owner") or u.get("verified_owner")):
                estate_code, building, entrance, number = (str(k) for k in u["unit"])
                self.reserved_units.setdefault(estate_code, set()).add((building, entrance, number))
        registered = set(db.session.execute(sa.select(Unit.estate_id).join(Ownership, Ownership.unit_id == Unit.id)
                                            .distinct()).scalars())
        for block, (street, district_spec, e) in enumerate(self.estate_specs, start=10):
            estate = self.estates[f"{street.code}-{e['key']}"]
            if estate.id not in registered:
                self._register_estate(estate, e, district_spec["cert_abbr"], block)

    def _register_estate(self, estate: Estate, e: dict, abbr: str, block: int) -> None:
        rng = random.Random(f"{SEED}:owners:{estate.code}")
        units = db.session.execute(
            sa.select(Unit.id, Building.number, Entrance.number, Unit.number, Unit.sold)
            .join(Entrance, Entrance.id == Unit.entrance_id).join(Building, Building.id == Unit.building_id)
            .where(Unit.estate_id == estate.id)).all()
        # A stable order that does not depend on row ids.
        units.sort(key=lambda u: (_natural(u[1]), _natural(u[2]), _natural(u[3])))
        reserved = self.reserved_units.get(estate.code, set())
        built = e.get("built_year") or 2000
        serials: dict[int, int] = {}
        steps = {}

        def certificate(year: int) -> str:
            # A unique serial per (estate block, year): an affine permutation of 0..9999.
            if year not in steps:
                steps[year] = (rng.choice(SERIAL_STEPS), rng.randrange(10000))
            step, offset = steps[year]
            index = serials.get(year, 0)
            serials[year] = index + 1
            serial = block * 10000 + (offset + index * step) % 10000
            if year >= NEW_CERTIFICATES_FROM:
                return f"沪({year}){abbr}字不动产权第{serial:06d}号"
            return f"沪房地{abbr}字({year})第{serial:06d}号"

        def since() -> date:
            if rng.random() < ORIGINAL_BUYER:
                year = rng.randint(min(built + 1, REGISTER_YEAR), min(built + 3, REGISTER_YEAR))
            else:
                year = rng.randint(min(built + 2, REGISTER_YEAR), REGISTER_YEAR)
            return date(year, rng.randint(1, 12), rng.randint(1, 28))

        owners: list[dict] = []
        titles: list[tuple[int, int, str | None, bool, date]] = []   # unit id, owner index, cert, voter, since
        holder = None
        if e.get("developer") or e.get("organisation"):
            kind = "developer" if e.get("developer") else "organisation"
            name = (e.get("developer") or e.get("organisation"))["name"]
            owners.append({"kind": kind, "name": name, "user_id": None,
                           "estate_id": estate.id if kind == "developer" else None})
            holder = len(owners) - 1
            initial = date(built, 12, 1)
            initial_cert = certificate(built)   # the developer's initial registration (大产证)
        persons: list[int] = []
        for unit_id, building, entrance, number, sold in units:
            if (building, entrance, number) in reserved:
                continue
            if e.get("organisation"):
                titles.append((unit_id, holder, certificate(built), True, initial))
                continue
            if not sold:
                titles.append((unit_id, holder, initial_cert, True, initial))
                continue
            if rng.random() < UNREGISTERED:
                continue
            start = since()
            cert = certificate(start.year)
            if persons and rng.random() < SECOND_UNIT:
                first = rng.choice(persons)
            else:
                owners.append({"kind": "person", "name": person_name(rng), "user_id": None, "estate_id": None})
                first = len(owners) - 1
                persons.append(first)
            titles.append((unit_id, first, cert, True, start))
            if rng.random() < CO_OWNED:
                owners.append({"kind": "person", "name": person_name(rng), "user_id": None, "estate_id": None})
                titles.append((unit_id, len(owners) - 1, cert, False, start))
        owner_ids = self._bulk_insert(Owner, owners, returning="id")
        self._bulk_insert(Ownership, [{
            "unit_id": unit_id, "owner_id": owner_ids[index], "certificate_no": cert, "is_designated_voter": voter,
            "since": start, "ended_on": None,
        } for unit_id, index, cert, voter, start in titles])

    # -- accounts

    def _user(self, username: str, nickname: str, *, is_demo: bool) -> User:
        user = db.session.execute(sa.select(User).where(User.username == username)).scalar_one_or_none()
        if user is None:
            user = User(username=username, nickname=nickname, is_demo=is_demo, is_active=True)
            db.session.add(user)
            db.session.flush()
            self.added += 1
        self.users[username] = user
        return user

    def _profile(self, user: User, *, name: str, phone: str | None = None, id_number: str | None = None,
                 birth_date: date | None = None, neighbourhood_id: int | None = None, unit_id: int | None = None,
                 address: str | None = None, verified_by: User | None = None) -> None:
        """A profile as its resident set it up: the ID number, birth date and residence are verified by
        ``verified_by`` (staff of their 居委会) at load time, else stored as typed (declared, unverified)."""
        if db.session.get(ResidentProfile, user.id) is not None:
            return   # encryption is not deterministic: never rewrite an existing profile
        now = clock.now()
        profile = ResidentProfile(
            user_id=user.id, name=name, phone_enc=privacy.encrypt(phone), phone_hash=privacy.lookup_hash(phone),
            phone_verified=phone is not None, id_number_enc=privacy.encrypt(id_number),
            id_number_hash=privacy.lookup_hash(id_number), address=address, created_at=now, updated_at=now)
        verify(profile, verified_by.id if verified_by else None, now, id_number=id_number is not None,
               birth_date=birth_date, neighbourhood_id=neighbourhood_id, unit_id=unit_id)
        db.session.add(profile)
        self.added += 1

    def _role(self, user: User, role: str, scope_type: str, scope_id: int, title: str | None = None) -> None:
        exists = db.session.execute(sa.select(RoleAssignment.id).where(
            RoleAssignment.user_id == user.id, RoleAssignment.role == role,
            RoleAssignment.scope_type == scope_type, RoleAssignment.scope_id == scope_id)).first()
        if exists is None:
            db.session.add(RoleAssignment(user_id=user.id, role=role, scope_type=scope_type, scope_id=scope_id,
                                          title=title))
            self.added += 1

    def _scope_id(self, scope_type: str, ref) -> int:
        table = {"district": self.districts, "street": self.streets, "neighbourhood": self.neighbourhoods,
                 "estate": self.estates}.get(scope_type)
        if table is None:  # a domain's own object, given by its id
            return int(ref)
        return table[str(ref)].id

    def load_staff(self) -> None:
        """A head for every 居委会, a social worker where it serves an estate, a grid worker per 片区,
        and an ops-centre officer per street."""
        served = {k for _, _, e in self.estate_specs for k in e["neighbourhoods"]}
        for d in self.spec["districts"]:
            for s in d["streets"]:
                street = self.streets[f"{d['code']}-{s['prefix']}"]
                prefix = s["prefix"].lower()
                rng = random.Random(f"{SEED}:staff:{street.code}")
                officer = person_name(rng)
                user = self._user(f"{prefix}.ops", f"{officer}（{s['name']}城运中心）", is_demo=False)
                self._profile(user, name=officer)
                self._role(user, "staff", "street", street.id, "ops_center")
                for a in s.get("areas", []):
                    worker = person_name(rng)
                    user = self._user(f"{prefix}.{a['key'].lower()}.grid", f"{worker}（{a['name']}网格员）",
                                      is_demo=False)
                    self._profile(user, name=worker)
                    for n in a["neighbourhoods"]:
                        nb = self.neighbourhoods[f"{street.code}-{n['key']}"]
                        self._role(user, "staff", "neighbourhood", nb.id, "grid_worker")
                    for n in a["neighbourhoods"]:
                        nb = self.neighbourhoods[f"{street.code}-{n['key']}"]
                        head = person_name(rng)
                        user = self._user(f"{prefix}.{n['key'].lower()}.head", f"{head}（{nb.committee_name}主任）",
                                          is_demo=False)
                        self._profile(user, name=head)
                        self._role(user, "staff", "neighbourhood", nb.id, "nc_head")
                        if n["key"] in served:
                            worker = person_name(rng)
                            user = self._user(f"{prefix}.{n['key'].lower()}.sw", f"{worker}（{nb.committee_name}社工）",
                                              is_demo=False)
                            self._profile(user, name=worker)
                            self._role(user, "staff", "neighbourhood", nb.id)

    def load_demo_users(self) -> None:
        specs = self.spec.get("demo_users", [])
        for u in specs:   # every account first: a resident's verifier may come later in the file
            self._user(u["username"], u["nickname"], is_demo=True)
        for sequence, u in enumerate(specs, start=1):
            user = self.users[u["username"]]
            unit_id = self.unit_id(u["unit"]) if u.get("unit") else None
            address = None
            if u.get("unit"):
                estate_code, building, entrance, number = (str(k) for k in u["unit"])
                estate = self.estates[estate_code]
                address = f"{estate.street.name}{estate.name}{building}号楼{entrance}单元{number}室"
            region = str(u.get("region", "310107"))
            # Odd sequence digits are men's, even women's.
            seq = 100 + 2 * sequence + (1 if u["sex"] == "M" else 0)
            number = id_number(region, u["birth_date"], seq)
            nb_id = self.neighbourhoods[u["neighbourhood"]].id if u.get("neighbourhood") else None
            verifier = self._verifier(u["verified_by"]) if u.get("verified_by") else None
            self._profile(user, name=u["name"], phone=u.get("phone"), id_number=number, birth_date=u["birth_date"],
                          neighbourhood_id=nb_id, unit_id=unit_id, address=address, verified_by=verifier)
            for role in u.get("roles", []):
                role_name, scope_type, ref, *title = role
                self._role(user, role_name, scope_type, self._scope_id(scope_type, ref), title[0] if title else None)
            title = u.get("verified_owner") or u.get("register_owner")
            if title:
                self._title(user if u.get("verified_owner") else None, u["name"], unit_id, title)
        db.session.flush()
        for u in specs:
            if u.get("family_of"):
                self._family_link(self.users[u["username"]], u["family_of"])

    def _verifier(self, username: str) -> User:
        """A staff account (a demo one, or one load_staff generated) by its username."""
        if username not in self.users:
            raise ValueError(f"verified_by: no staff account {username}")
        return self.users[username]

    def _title(self, user: User | None, name: str, unit_id: int, title: dict) -> None:
        """A demo user's entry on the register (verified: linked to the account)."""
        if db.session.execute(sa.select(Ownership.id).where(Ownership.unit_id == unit_id)).first() is not None:
            return
        holders = [(name, user.id if user else None, True)]
        if title.get("co_owner"):
            holders.append((title["co_owner"], None, False))
        for holder, user_id, voter in holders:
            owner = Owner(kind="person", name=holder, user_id=user_id)
            db.session.add(owner)
            db.session.flush()
            db.session.add(Ownership(unit_id=unit_id, owner_id=owner.id, certificate_no=title["certificate_no"],
                                     is_designated_voter=voter, since=title["since"]))
            self.added += 2

    def _family_link(self, proxy: User, link: dict) -> None:
        elder = self.users[link["username"]]
        exists = db.session.execute(sa.select(FamilyLink.id).where(
            FamilyLink.proxy_user_id == proxy.id, FamilyLink.elder_user_id == elder.id,
            FamilyLink.status.in_(("pending", "confirmed")))).first()
        if exists is not None:
            return
        # Asked on a Friday, confirmed after a home visit the next Monday: decided after it was made.
        requested = datetime(2025, 2, 28, 9, 15, tzinfo=SHANGHAI).astimezone(timezone.utc)
        decided = datetime(2025, 3, 3, 10, 30, tzinfo=SHANGHAI).astimezone(timezone.utc)
        db.session.add(FamilyLink(proxy_user_id=proxy.id, elder_user_id=elder.id, relation=link["relation"],
                                  status="confirmed", decided_by=self.users[link["confirmed_by"]].id,
                                  decided_at=decided, reason="居委会上门核实", created_at=requested,
                                  updated_at=decided))
        self.added += 1


def verify(profile: ResidentProfile, staff_id: int | None, at: datetime, *, id_number: bool,
           birth_date: date | None, neighbourhood_id: int | None, unit_id: int | None = None) -> None:
    """Record on a new demo profile what a 居委会 staff member checked at ``at`` (its ID number, birth date,
    residence): the demo's counterpart of service.people.verify_resident, without its audit entry. With no
    staff member the birth date and neighbourhood stay declared, as the resident typed them."""
    if staff_id is None:
        profile.declared_birth_date, profile.declared_neighbourhood_id = birth_date, neighbourhood_id
        return
    if id_number:
        profile.id_verified_by, profile.id_verified_at = staff_id, at
    if birth_date is not None:
        profile.birth_date = birth_date
        profile.birth_date_verified_by, profile.birth_date_verified_at = staff_id, at
    if neighbourhood_id is not None or unit_id is not None:
        profile.neighbourhood_id, profile.unit_id = neighbourhood_id, unit_id
        profile.residence_verified_by, profile.residence_verified_at = staff_id, at


def _natural(text: str) -> tuple:
    """Sort "2" before "10"."""
    return (0, int(text), "") if text.isdigit() else (1, 0, text)


def counts() -> dict:
    """How many rows of each kind the database holds."""
    tables = (("districts", District), ("streets", Street), ("areas", Area), ("neighbourhoods", Neighbourhood),
              ("estates", Estate), ("buildings", Building), ("entrances", Entrance), ("units", Unit),
              ("owners", Owner), ("ownerships", Ownership), ("users", User), ("profiles", ResidentProfile),
              ("role_assignments", RoleAssignment), ("family_links", FamilyLink))
    result = {name: db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()
              for name, model in tables}
    result["demo_users"] = db.session.execute(sa.select(sa.func.count()).select_from(User)
                                              .where(User.is_demo.is_(True))).scalar_one()
    return result
