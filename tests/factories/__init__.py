"""Test factories of the platform's objects (places, people, tokens); each domain's are in tests/factories/<name>.py."""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flask import current_app

from models.base import db
from models.people import ResidentProfile, RoleAssignment, User, WeChatAccount
from models.places import (Area, Building, District, Entrance, Estate, Neighbourhood, Owner, Ownership, Street,
                           Unit)
from service import privacy

_seq = itertools.count(1)


def n() -> int:
    return next(_seq)


@dataclass
class World:
    district: District
    street: Street
    other_street: Street
    area: Area
    nb: Neighbourhood
    nb2: Neighbourhood
    far_nb: Neighbourhood
    estate: Estate
    building: Building
    building2: Building
    entrance: Entrance
    units: list[Unit]
    far_unit: Unit


# 香泉路居民区's point (GCJ-02): a case reported here is routed to make_located_world()'s first neighbourhood.
HERE = {"lat": 31.2702, "lng": 121.4101}


def make_located_world() -> World:
    """make_world() whose first neighbourhood has its point (HERE), so that reports can be routed to it."""
    world = make_world()
    world.nb.lat, world.nb.lng = HERE["lat"], HERE["lng"]
    db.session.commit()
    return world


def make_world() -> World:
    """Two streets; street 1 has two neighbourhoods sharing one estate (building 1 → nb, building 2 → nb2)."""
    i = n()
    district = District(code=f"d{i}", name="普陀区")
    db.session.add(district)
    db.session.flush()
    street = Street(code=f"s{i}", district_id=district.id, name="万里街道", prefix="WL", lat=31.26, lng=121.40)
    other = Street(code=f"t{i}", district_id=district.id, name="宜川路街道", prefix="YC", lat=31.25, lng=121.44)
    db.session.add_all([street, other])
    db.session.flush()
    area = Area(code=f"a{i}", street_id=street.id, name="香泉片区")
    db.session.add(area)
    db.session.flush()
    nb = Neighbourhood(code=f"n{i}", street_id=street.id, area_id=area.id, name="香泉路居民区", committee_name="香泉路居委会")
    nb2 = Neighbourhood(code=f"m{i}", street_id=street.id, area_id=area.id, name="中浩云居民区", committee_name="中浩云居委会")
    far = Neighbourhood(code=f"f{i}", street_id=other.id, name="光新居民区", committee_name="光新居委会")
    db.session.add_all([nb, nb2, far])
    db.session.flush()
    estate = Estate(code=f"e{i}", street_id=street.id, name="香泉苑", housing_type="普通商品房")
    estate.neighbourhoods = [nb, nb2]
    far_estate = Estate(code=f"g{i}", street_id=other.id, name="光新小区")
    far_estate.neighbourhoods = [far]
    db.session.add_all([estate, far_estate])
    db.session.flush()
    b1 = Building(estate_id=estate.id, neighbourhood_id=nb.id, number="1", name="1号楼", floors=6)
    b2 = Building(estate_id=estate.id, neighbourhood_id=nb2.id, number="2", name="2号楼", floors=6)
    fb = Building(estate_id=far_estate.id, neighbourhood_id=far.id, number="1", name="1号楼", floors=6)
    db.session.add_all([b1, b2, fb])
    db.session.flush()
    e1 = Entrance(building_id=b1.id, number="1")
    e2 = Entrance(building_id=b2.id, number="1")
    fe = Entrance(building_id=fb.id, number="1")
    db.session.add_all([e1, e2, fe])
    db.session.flush()
    units = []
    for entrance, building in ((e1, b1), (e1, b1), (e2, b2)):
        units.append(Unit(entrance_id=entrance.id, building_id=building.id, estate_id=estate.id,
                          number=f"{len(units) + 1}01", floor=len(units) + 1, exclusive_area=Decimal("89.37")))
    far_unit = Unit(entrance_id=fe.id, building_id=fb.id, estate_id=far_estate.id, number="101", floor=1,
                    exclusive_area=Decimal("60.00"))
    db.session.add_all(units + [far_unit])
    db.session.commit()
    return World(district, street, other, area, nb, nb2, far, estate, b1, b2, e1, units, far_unit)


def make_user(*, name: str | None = None, phone: str | None = None, id_number: str | None = None,
              neighbourhood_id: int | None = None, birth_date: date | None = None,
              roles: list[tuple[str, str, int]] = (), username: str | None = None, openid: str | None = None,
              is_demo: bool = False) -> User:
    user = User(username=username, is_demo=is_demo, nickname=name)
    db.session.add(user)
    db.session.flush()
    if name or phone or id_number or neighbourhood_id or birth_date:
        # The ID number, birth date and neighbourhood given here are set up as verified (staff checked them;
        # no verifier is named). What a resident types goes through PATCH /me and is only declared.
        from service import clock
        from service.people import birth_date_from_id

        now = clock.now()
        birth_date = birth_date or birth_date_from_id(id_number)
        db.session.add(ResidentProfile(
            user_id=user.id, name=name, phone_enc=privacy.encrypt(phone), phone_hash=privacy.lookup_hash(phone),
            phone_verified=phone is not None, id_number_enc=privacy.encrypt(id_number),
            id_number_hash=privacy.lookup_hash(id_number), neighbourhood_id=neighbourhood_id,
            birth_date=birth_date, id_verified_at=now if id_number else None,
            birth_date_verified_at=now if birth_date else None,
            residence_verified_at=now if neighbourhood_id else None))
    for role, scope_type, scope_id in roles:
        db.session.add(RoleAssignment(user_id=user.id, role=role, scope_type=scope_type, scope_id=scope_id))
    if openid:
        db.session.add(WeChatAccount(user_id=user.id, appid=current_app.config["WECHAT_APPID"], openid=openid))
    db.session.commit()
    return user


def make_owner(user: User | None, unit: Unit, *, name: str = "王秀英", certificate_no: str = "沪2019普012345",
               voter: bool = True) -> Ownership:
    owner = Owner(kind="person", name=name, user_id=user.id if user else None)
    db.session.add(owner)
    db.session.flush()
    ownership = Ownership(unit_id=unit.id, owner_id=owner.id, certificate_no=certificate_no,
                          is_designated_voter=voter)
    db.session.add(ownership)
    db.session.commit()
    return ownership


def give_consent(user: User, purpose: str = "sensitive_status") -> None:
    """The person's own consent to ``purpose`` under the notice in force (as POST /me/consents records it)."""
    from models.privacy import Consent
    from service import consent

    db.session.add(Consent(user_id=user.id, purpose=purpose, notice_version=consent.notice().version,
                           given_by=user.id, channel="self"))
    db.session.commit()


def token_for(user: User) -> str:
    from api.security import issue_tokens
    from service import people

    actor = people.load_actor(user.id)
    with current_app.test_request_context():
        return issue_tokens(user.id, people.token_roles(actor))["access_token"]


def tokens_for(user: User) -> dict:
    from api.security import issue_tokens
    from service import people

    actor = people.load_actor(user.id)
    with current_app.test_request_context():
        return issue_tokens(user.id, people.token_roles(actor))


def auth(user: User, **headers) -> dict:
    return {"Authorization": f"Bearer {token_for(user)}", **headers}


# A valid mainland ID number (check digit correct) for tests.
VALID_ID = "11010519491231002X"


def id_for(birth: date, region: str = "310107", sequence: int = 123) -> str:
    """A mainland ID number of someone born on ``birth``, with its ISO 7064 MOD 11-2 check digit."""
    body = f"{region}{birth:%Y%m%d}{sequence:03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights)) % 11]


# --- life circle ---------------------------------------------------------------------------------------------------

M_PER_DEG_LAT = 111195.0802  # 2πR/360 with R = 6,371,008.8 m: metres per degree of latitude


def north(lat: float, metres: float) -> float:
    """The latitude ``metres`` due north of ``lat`` (on the same meridian the haversine is exactly R·Δφ)."""
    return lat + metres / M_PER_DEG_LAT


def add_units(estate: Estate, count: int) -> None:
    """``count`` units in one new building of ``estate``."""
    building = Building(estate_id=estate.id, number=f"L{n()}", name="测试楼", floors=6)
    db.session.add(building)
    db.session.flush()
    entrance = Entrance(building_id=building.id, number="1")
    db.session.add(entrance)
    db.session.flush()
    db.session.add_all([Unit(entrance_id=entrance.id, building_id=building.id, estate_id=estate.id, number=str(i + 1),
                             floor=1, exclusive_area=Decimal("50.00")) for i in range(count)])
    db.session.flush()


def make_user_who_reaches_everything(world: World | None = None) -> User:
    """A district admin who is also street staff and an owner, so generated requests get past the role checks
    to the services behind them (the contract walks)."""
    world = world or make_world()
    user = make_user(name="王秀英", phone="13812345678", neighbourhood_id=world.nb.id,
                     roles=[("admin", "district", world.district.id), ("staff", "street", world.street.id)])
    make_owner(user, world.units[0])
    return user
