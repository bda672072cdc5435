"""Owners register constraints, enforced by the database on SQLite and PostgreSQL."""
from decimal import Decimal

import pytest
import sqlalchemy as sa

from models.base import db
from models.places import Owner, Ownership, Unit
from tests.factories import make_owner, make_world


def test_a_unit_has_at_most_one_designated_voter():
    world = make_world()
    make_owner(None, world.units[0], name="王秀英", voter=True)
    co_owner = Owner(kind="person", name="李建国")
    db.session.add(co_owner)
    db.session.flush()
    db.session.add(Ownership(unit_id=world.units[0].id, owner_id=co_owner.id, is_designated_voter=False))
    db.session.commit()  # a second, non-voting co-owner is fine
    second_voter = Owner(kind="person", name="张三")
    db.session.add(second_voter)
    db.session.flush()
    db.session.add(Ownership(unit_id=world.units[0].id, owner_id=second_voter.id, is_designated_voter=True))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_an_ended_ownership_frees_the_voter_slot():
    world = make_world()
    old = make_owner(None, world.units[0], name="旧业主", voter=True)
    old.ended_on = __import__("datetime").date(2024, 1, 1)
    db.session.commit()
    make_owner(None, world.units[0], name="新业主", voter=True)  # no IntegrityError
    voters = db.session.execute(sa.select(sa.func.count()).select_from(Ownership).where(
        Ownership.unit_id == world.units[0].id, Ownership.is_designated_voter.is_(True),
        Ownership.ended_on.is_(None))).scalar()
    assert voters == 1


def test_one_owner_may_hold_several_units_and_areas_sum_exactly():
    world = make_world()
    owner = Owner(kind="person", name="王秀英")
    db.session.add(owner)
    db.session.flush()
    for unit, area in zip(world.units, ("0.01", "89.37", "100.10")):
        unit.exclusive_area = Decimal(area)
        db.session.add(Ownership(unit_id=unit.id, owner_id=owner.id))
    db.session.commit()
    total = db.session.execute(sa.select(sa.func.sum(Unit.exclusive_area)).join(Ownership)
                               .where(Ownership.owner_id == owner.id)).scalar()
    assert total == Decimal("189.48")


def test_area_must_be_positive_and_at_most_two_places():
    world = make_world()
    world.units[0].exclusive_area = Decimal("0")
    with pytest.raises(sa.exc.IntegrityError):
        db.session.commit()
    db.session.rollback()
    world = make_world()
    world.units[0].exclusive_area = Decimal("1.005")
    with pytest.raises(sa.exc.StatementError):
        db.session.commit()
    db.session.rollback()
