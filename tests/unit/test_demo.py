"""The demo data set (`flask demo load`): real place names, the 中远两湾城 mega-estate,
the owners register, an account for every role with encrypted personal data, and
an idempotent load."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
import yaml

from data.demo import build
from data.demo import loader as demo_loader
from data.demo import cases as demo_cases
from models.base import db
from models.cases import Case, CaseEvent
from models.people import FamilyLink, ResidentProfile, RoleAssignment, UnitClaim, User, WeChatAccount
from models.places import Building, District, Estate, Neighbourhood, Owner, Ownership, Street, Unit
from service import clock, people, privacy
from service.cases import queries
from service.people import valid_id_number


def scalar(query):
    return db.session.execute(query).scalar_one()


def estate_named(name: str) -> Estate:
    return db.session.execute(sa.select(Estate).where(Estate.name == name)).scalar_one()


def user_named(username: str) -> User:
    return db.session.execute(sa.select(User).where(User.username == username)).scalar_one()


def test_places_hierarchy_and_the_mega_estate():
    summary = demo_loader.load_all(activity=False)
    assert summary["units"] >= 14_000

    districts = set(db.session.execute(sa.select(District.name)).scalars())
    assert {"普陀区", "长宁区"} <= districts
    streets = {s.name: s for s in db.session.execute(sa.select(Street)).scalars()}
    assert {"万里街道", "宜川路街道", "真如镇街道", "虹桥街道"} <= set(streets)
    assert {s.prefix for s in streets.values()} >= {"WL", "YC", "ZR", "HQ"}
    assert streets["虹桥街道"].district.name == "长宁区"
    assert streets["宜川路街道"].district.name == "普陀区"
    # The seeds' relative layout: 宜川路 is the east gate, 虹桥 (长宁) lies well to the south.
    assert streets["宜川路街道"].lng > streets["万里街道"].lng
    assert streets["宜川路街道"].lng > streets["真如镇街道"].lng
    assert streets["虹桥街道"].lat < streets["真如镇街道"].lat - 0.03
    for street in streets.values():
        assert street.coord_source == "approximate"
        assert round(street.lat, 4) == street.lat and round(street.lng, 4) == street.lng

    committees = set(db.session.execute(sa.select(Neighbourhood.committee_name)).scalars())
    assert {"香泉路居委会", "古北荣华第一居委会", "中远两湾城第四居委会"} <= committees

    mega = estate_named("中远两湾城")
    assert mega.street.name == "宜川路街道"
    assert [nb.committee_name for nb in mega.neighbourhoods] == [
        f"中远两湾城第{n}居委会" for n in "一二三四"]
    units = scalar(sa.select(sa.func.count()).select_from(Unit).where(Unit.estate_id == mega.id))
    assert units >= 10_000
    # Every building belongs to one of the estate's four 居委会, and each of them has buildings.
    split = dict(db.session.execute(sa.select(Building.neighbourhood_id, sa.func.count())
                                    .where(Building.estate_id == mega.id).group_by(Building.neighbourhood_id)).all())
    assert set(split) == {nb.id for nb in mega.neighbourhoods}
    assert db.session.execute(sa.select(Building).where(Building.estate_id == mega.id,
                                                        Building.number == "314")).scalar_one()

    others = db.session.execute(
        sa.select(Estate.name, sa.func.count(Unit.id)).join(Unit, Unit.estate_id == Estate.id)
        .where(Estate.id != mega.id).group_by(Estate.name)).all()
    assert len(others) >= 10
    assert all(50 <= n <= 1000 for _, n in others)

    # Units: exact areas with two places in a realistic range, floors, numbers like "502".
    low, high = db.session.execute(sa.select(sa.func.min(Unit.exclusive_area),
                                             sa.func.max(Unit.exclusive_area))).one()
    assert Decimal("45") <= low and high <= Decimal("160")
    sample = db.session.execute(sa.select(Unit).where(Unit.estate_id == mega.id).limit(50)).scalars().all()
    for unit in sample:
        assert unit.exclusive_area == unit.exclusive_area.quantize(Decimal("0.01"))
        assert unit.number == f"{unit.floor}{int(unit.number[-2:]):02d}"
    sources = dict(db.session.execute(sa.select(Unit.area_source, sa.func.count()).group_by(Unit.area_source)).all())
    assert set(sources) == {"register", "survey", "contract"}
    assert sources["register"] > 0.8 * sum(sources.values())


def test_owners_register_and_demo_accounts():
    demo_loader.load_all(activity=False)

    # Every co-owned unit has exactly one designated voter (and so does every owned unit).
    voters = db.session.execute(
        sa.select(Ownership.unit_id, sa.func.count(), sa.func.sum(sa.case((Ownership.is_designated_voter, 1),
                                                                          else_=0)))
        .where(Ownership.ended_on.is_(None)).group_by(Ownership.unit_id)).all()
    assert all(v == 1 for _, _, v in voters)
    co_owned = [u for u, n, _ in voters if n > 1]
    assert len(co_owned) > 100
    owned = len(voters)
    total = scalar(sa.select(sa.func.count()).select_from(Unit))
    assert owned > 0.95 * total
    # Some owners hold several units.
    multi = db.session.execute(sa.select(Ownership.owner_id).group_by(Ownership.owner_id)
                               .having(sa.func.count() > 1)).all()
    assert len(multi) > 10
    certificate = db.session.execute(sa.select(Ownership.certificate_no).where(
        Ownership.certificate_no.like("沪(%)普字不动产权第%号")).limit(1)).scalar_one()
    assert len(certificate) == len("沪(2015)普字不动产权第012345号")

    # The developer holds the unsold units of its estate.
    developer = db.session.execute(sa.select(Owner).where(Owner.kind == "developer")).scalars().first()
    assert developer is not None and developer.estate_id is not None
    unsold = db.session.execute(sa.select(Unit).where(Unit.sold.is_(False))).scalars().all()
    assert unsold and all(u.estate_id == developer.estate_id for u in unsold)
    held = set(db.session.execute(sa.select(Ownership.unit_id).where(Ownership.owner_id == developer.id)).scalars())
    assert held == {u.id for u in unsold}

    # A demo account for every role.
    demo = {u.username: u for u in db.session.execute(sa.select(User).where(User.is_demo.is_(True))).scalars()}
    expected = {"resident.demo", "owner.demo", "elder.demo", "family.demo", "staff.demo", "grid.demo",
                "operator.demo", "committee.demo", "admin.street", "admin.district"}
    assert expected <= set(demo)
    assert all(u.nickname and "（" in u.nickname for u in demo.values())
    roles = set()
    for user in demo.values():
        roles |= people.load_actor(user.id).roles
    assert roles >= {"resident", "owner", "staff", "operator", "committee", "admin"}
    assert "owner" in people.load_actor(demo["owner.demo"].id).roles
    assert {"committee", "owner"} <= people.load_actor(demo["committee.demo"].id).roles
    assert "owner" not in people.load_actor(demo["resident.demo"].id).roles

    def assignments(username):
        return db.session.execute(sa.select(RoleAssignment).where(
            RoleAssignment.user_id == demo[username].id)).scalars().all()

    assert [(a.role, a.scope_type, a.scope_id) for a in assignments("operator.demo")] == [("operator", "meal_site", 1)]
    assert {a.title for a in assignments("grid.demo")} == {"grid_worker"}
    assert {(a.role, a.scope_type) for a in assignments("admin.street")} == {("admin", "street")}
    assert {(a.role, a.scope_type) for a in assignments("admin.district")} == {("admin", "district")}
    committee_scope = assignments("committee.demo")[0]
    assert (committee_scope.scope_type, committee_scope.scope_id) == ("estate", estate_named("中远两湾城").id)
    # Non-demo staff: 居委会 heads, grid workers and a street-level officer.
    titles = dict(db.session.execute(sa.select(RoleAssignment.title, sa.func.count()).where(
        RoleAssignment.role == "staff").group_by(RoleAssignment.title)).all())
    assert titles.get("nc_head", 0) >= 30 and titles.get("grid_worker", 0) >= 30
    assert scalar(sa.select(sa.func.count()).select_from(RoleAssignment)
                  .where(RoleAssignment.scope_type == "street", RoleAssignment.role == "staff")) >= 4

    # owner.demo is a verified owner on the register.
    title = db.session.execute(sa.select(Ownership).join(Owner).where(Owner.user_id == demo["owner.demo"].id)
                               ).scalar_one()
    assert title.is_designated_voter and title.certificate_no

    # Personal data are stored encrypted, with lookup hashes, and decrypt correctly.
    profiles = {p.user_id: p for p in db.session.execute(sa.select(ResidentProfile).where(
        ResidentProfile.user_id.in_([u.id for u in demo.values()]))).scalars()}
    for user in demo.values():
        profile = profiles[user.id]
        phone = privacy.decrypt(profile.phone_enc)
        assert phone and phone.isdigit() and len(phone) == 11
        assert profile.phone_enc != phone and phone not in profile.phone_enc
        assert profile.phone_hash == privacy.lookup_hash(phone)
        number = privacy.decrypt(profile.id_number_enc)
        assert valid_id_number(number) and number not in profile.id_number_enc
        assert number[:6] in ("310107", "310105")
        assert number[6:14] == (profile.birth_date or profile.declared_birth_date).strftime("%Y%m%d")
        assert profile.id_number_hash == privacy.lookup_hash(number)

    # The elder: about 80, a phone, no WeChat; her child acts for her through a confirmed link.
    elder = profiles[demo["elder.demo"].id]
    assert 78 <= (date.today() - elder.birth_date).days // 365 <= 82
    assert privacy.decrypt(elder.phone_enc)
    assert scalar(sa.select(sa.func.count()).select_from(WeChatAccount)
                  .where(WeChatAccount.user_id == demo["elder.demo"].id)) == 0
    link = db.session.execute(sa.select(FamilyLink).where(
        FamilyLink.elder_user_id == demo["elder.demo"].id)).scalar_one()
    assert (link.proxy_user_id, link.relation, link.status) == (demo["family.demo"].id, "child", "confirmed")
    # staff.demo covers the elder's neighbourhood.
    assert people.load_actor(demo["staff.demo"].id).covers_neighbourhood(elder.neighbourhood_id)


def test_demo_decisions_come_after_what_they_decide():
    """Every demo family link and unit claim is decided at or after it was made."""
    demo_loader.load_all(activity=False)
    links = db.session.execute(sa.select(FamilyLink)).scalars().all()
    claims = db.session.execute(sa.select(UnitClaim)).scalars().all()
    assert links
    for item in (*links, *claims):
        assert item.decided_at is not None and item.decided_at >= item.created_at, (item.id, item.created_at)


def test_demo_residents_are_verified_by_staff_of_their_neighbourhood():
    """The demo elders' birth dates, residence and ID numbers are verified by staff of their 居委会, recorded
    with who and when; accounts living nowhere keep theirs as declared."""
    demo_loader.load_all(activity=False)
    elder = db.session.get(ResidentProfile, user_named("elder.demo").id)
    staff = people.load_actor(user_named("staff.demo").id)
    for who, when in ((elder.id_verified_by, elder.id_verified_at),
                      (elder.birth_date_verified_by, elder.birth_date_verified_at),
                      (elder.residence_verified_by, elder.residence_verified_at)):
        assert who == staff.user_id and when >= elder.created_at
    assert staff.covers_neighbourhood(elder.neighbourhood_id)
    assert (elder.declared_birth_date, elder.declared_neighbourhood_id) == (None, None)
    # Every demo account living in a neighbourhood is verified by staff covering it.
    for user in db.session.execute(sa.select(User).where(User.is_demo.is_(True))).scalars():
        profile = db.session.get(ResidentProfile, user.id)
        if profile.neighbourhood_id is None:
            assert profile.id_verified_at is None and profile.declared_birth_date is not None
            continue
        verifier = people.load_actor(profile.residence_verified_by)
        assert verifier.covers_neighbourhood(profile.neighbourhood_id) and profile.id_verified_at is not None


def test_loading_twice_changes_nothing():
    first = demo_loader.load_all()
    assert first["rows_added"] > 0

    def fingerprint():
        return (
            db.session.execute(sa.select(sa.func.sum(Unit.exclusive_area), sa.func.count(Unit.id))).one(),
            db.session.execute(sa.select(sa.func.count(Ownership.id),
                                         sa.func.max(Ownership.certificate_no))).one(),
            db.session.execute(sa.select(ResidentProfile.user_id, ResidentProfile.phone_enc)
                               .order_by(ResidentProfile.user_id)).all(),
        )

    before = fingerprint()
    cases_before = db.session.execute(sa.select(Case.id, Case.status, Case.version).order_by(Case.id)).all()
    assert first["cases"] == len(cases_before) >= 250
    second = demo_loader.load_all()
    assert second["rows_added"] == 0
    # The demo cases are there once: loading twice adds no case and changes none.
    assert db.session.execute(sa.select(Case.id, Case.status, Case.version).order_by(Case.id)).all() == cases_before
    assert {k: v for k, v in second.items() if k != "rows_added"} == \
           {k: v for k, v in first.items() if k != "rows_added"}
    assert fingerprint() == before


def test_generation_is_deterministic():
    spec = build.load_spec()
    street = spec["districts"][0]["streets"][1]
    mega = next(e for e in street["estates"] if e["name"] == "中远两湾城")
    a = build.plan_estate("310107-YC", mega)
    b = build.plan_estate("310107-YC", mega)
    assert a.units == b.units and len(a.units) >= 10_000
    assert all(valid_id_number(build.id_number("310105", date(1971, 10, 26), seq)) for seq in range(100, 200))


def test_a_failed_load_leaves_nothing_behind(tmp_path):
    """One transaction: a spec error found late (a demo unit that the layout lacks) rolls back everything."""
    spec = {
        "districts": [{"code": "310107", "name": "普陀区", "cert_abbr": "普", "streets": [{
            "name": "万里街道", "prefix": "WL", "at": [31.2665, 121.4075],
            "areas": [{"key": "XQPQ", "name": "香泉片区",
                       "neighbourhoods": [{"key": "XQL", "stem": "香泉路", "at": [31.2703, 121.4086]}]}],
            "estates": [{"key": "XQY", "name": "香泉苑", "neighbourhoods": ["XQL"], "housing_type": "普通商品房",
                         "built_year": 1997, "at": [31.2705, 121.4089], "area": [56, 112],
                         "buildings": [{"numbers": "1-2", "floors": 6, "entrances": 1, "per_floor": 2}]}],
        }]}],
        "demo_users": [{"username": "owner.demo", "nickname": "陈先生（业主）", "name": "陈志强", "sex": "M",
                        "birth_date": date(1975, 9, 2), "phone": "13900000102",
                        "unit": ["310107-WL-XQY", "9", "1", "101"],
                        "verified_owner": {"certificate_no": "沪(2016)普字不动产权第024506号",
                                           "since": date(2016, 11, 8)}}],
    }
    path = tmp_path / "places.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ValueError, match="does not exist"):
        demo_loader.load_all(path)
    for model in (District, Street, Estate, Unit, Owner, User):
        assert scalar(sa.select(sa.func.count()).select_from(model)) == 0


def test_demo_cases_in_every_state():
    """A few hundred cases through the real state machine: every state, some overdue, some rated,
    in every demo street, and a realistic queue for staff.demo (香泉路居委会)."""
    summary = demo_loader.load_all()
    assert 250 <= summary["cases"] <= 450
    now = clock.now()
    assert clock._frozen is None  # the loader gave the clock back

    states = dict(db.session.execute(sa.select(Case.status, sa.func.count()).group_by(Case.status)).all())
    assert {"dispatched", "accepted", "in_progress", "resolved", "closed", "reopened", "returned", "merged",
            "rejected", "withdrawn"} <= set(states)
    assert states["closed"] > 0.35 * summary["cases"]

    # Some overdue (open and past the next deadline); nothing closed carries a deadline.
    overdue = db.session.execute(sa.select(sa.func.count()).where(Case.due_at < now)).scalar_one()
    assert overdue >= 5
    assert db.session.execute(sa.select(sa.func.count()).where(
        Case.status.in_(("closed", "merged", "rejected", "withdrawn")), Case.due_at.is_not(None))).scalar_one() == 0
    # Some visited (回访) and rated (评价), on every level of the 5-level scale, mostly satisfied.
    ratings = dict(db.session.execute(sa.select(Case.rating, sa.func.count()).where(Case.rating.is_not(None))
                                      .group_by(Case.rating)).all())
    assert set(ratings) == {1, 2, 3, 4, 5}
    assert sum(ratings.values()) >= 40
    assert ratings[4] + ratings[5] > 0.6 * sum(ratings.values())
    assert db.session.execute(sa.select(sa.func.count()).where(Case.visited_at.is_not(None))).scalar_one() >= 30
    assert db.session.execute(sa.select(sa.func.count()).where(Case.cycle > 1)).scalar_one() > 0

    # Spread over the last ~60 days, in the past, in all four streets, with the category's street prefix.
    first, last = db.session.execute(sa.select(sa.func.min(Case.received_at), sa.func.max(Case.received_at))).one()
    assert timedelta(days=45) < now - first < timedelta(days=75) and last <= now
    streets = {s.id: s.prefix for s in db.session.execute(sa.select(Street)).scalars()}
    per_street = dict(db.session.execute(sa.select(Case.street_id, sa.func.count()).group_by(Case.street_id)).all())
    assert {streets[s] for s, n in per_street.items() if n >= 10} == {"WL", "YC", "ZR", "HQ"}
    for case in db.session.execute(sa.select(Case).limit(200)).scalars():
        assert case.number.startswith(streets[case.street_id])
        assert case.description.strip() and case.address
    assert len(set(db.session.execute(sa.select(Case.category_code)).scalars())) >= 12

    # Every case has its timeline: submitted, dispatched, and each later state reached by an event.
    submits = db.session.execute(sa.select(sa.func.count()).where(CaseEvent.action == "submit")).scalar_one()
    assert submits == summary["cases"]
    closes = db.session.execute(sa.select(sa.func.count(sa.distinct(CaseEvent.case_id)))
                                .where(CaseEvent.action == "close")).scalar_one()
    assert closes >= states["closed"]
    # Merged cases point at an open-or-later case of the same neighbourhood.
    for child, parent in db.session.execute(sa.select(Case, Case.merged_into_id).where(Case.status == "merged")).all():
        assert db.session.get(Case, parent).neighbourhood_id == child.neighbourhood_id

    # staff.demo's queue: open cases of 香泉路 only, nearest deadline first, some overdue.
    staff = people.load_actor(user_named("staff.demo").id)
    queue, cursor = queries.staff_queue(staff, limit=100)
    home = db.session.execute(sa.select(Neighbourhood).where(Neighbourhood.code == demo_cases.HOME)).scalar_one()
    assert 15 <= len(queue) <= 60 and cursor is None
    assert {c.neighbourhood_id for c in queue} == {home.id}
    assert len({c.status for c in queue}) >= 5
    assert sum(1 for c in queue if c.due_at is not None and c.due_at < now) >= 2
    assert [c.due_at for c in queue if c.due_at] == sorted(c.due_at for c in queue if c.due_at)
    # The demo residents have their own cases (resident.demo one she can still rate).
    mine = db.session.execute(sa.select(Case).where(Case.reporter_user_id == user_named("resident.demo").id)).scalars().all()
    assert len({c.status for c in mine}) >= 4
    assert any(c.status == "closed" and c.rating is None for c in mine)


def test_demo_elevator_motions_are_put_to_the_building_or_entrance_concerned():
    """An elevator's replacement or retrofit is decided by the owners of its building (or entrance), not the
    estate: the 中远两湾城 elevator motion's frozen electorate is exactly 208号楼's units and owners."""
    from models.voting import Motion, Voter, VoterUnit

    demo_loader.load_all()
    mega = estate_named("中远两湾城")
    lift = db.session.execute(sa.select(Motion).where(Motion.estate_id == mega.id,
                                                      Motion.title.contains("208号楼电梯"))).scalar_one()
    building = db.session.execute(sa.select(Building).where(Building.estate_id == mega.id,
                                                            Building.number == "208")).scalar_one()
    assert (lift.scope_type, lift.scope_ids, lift.status) == ("buildings", [building.id], "open")
    frozen = db.session.execute(sa.select(VoterUnit.unit_id).where(VoterUnit.motion_id == lift.id)).scalars().all()
    in_building = db.session.execute(sa.select(Unit.id).where(Unit.building_id == building.id)).scalars().all()
    assert sorted(frozen) == sorted(in_building)
    # Heads recounted from the register: a unit's current holders together are one owner, a unit off the
    # register its own (the estate has no developer stock).
    holders: dict[int, set[int]] = {unit_id: set() for unit_id in in_building}
    for unit_id, owner_id in db.session.execute(
            sa.select(Ownership.unit_id, Ownership.owner_id).join(Unit, Unit.id == Ownership.unit_id)
            .where(Unit.building_id == building.id, Ownership.ended_on.is_(None))).all():
        holders[unit_id].add(owner_id)
    entities = {tuple(sorted(held)) if held else ("unit", unit_id) for unit_id, held in holders.items()}
    heads = scalar(sa.select(sa.func.count()).select_from(Voter).where(Voter.motion_id == lift.id))
    assert lift.total_heads == heads == len(entities) and heads < scalar(
        sa.select(sa.func.count()).select_from(Unit).where(Unit.estate_id == mega.id)) / 20
    for motion in db.session.execute(sa.select(Motion).where(Motion.title.contains("电梯"))).scalars():
        assert motion.scope_type in ("buildings", "entrance") and len(motion.scope_ids) == 1, motion.title
