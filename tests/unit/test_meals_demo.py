"""The demo meal data: the seeds' sites, a fortnight of menus, bookings through the real use-cases."""
import sqlalchemy as sa

from data.demo import build
from models.base import db
from models.meals import MealBooking, MealSite, MealSlot
from models.people import RoleAssignment, User
from service import clock, people
from service.meals import queries


def test_demo_meals_show_sites_menus_and_bookings_in_every_state():
    summary = build.load_all()
    assert clock._frozen is None
    names = set(db.session.execute(sa.select(MealSite.name)).scalars())
    assert {"香泉智助食堂", "中浩云社区食堂", "杨家桥助餐点"} <= names
    assert db.session.execute(sa.select(sa.func.count()).where(MealSite.kind == "meal_point",
                                                                MealSite.code.like("ZR-%"))).scalar() == 6
    assert db.session.execute(sa.select(MealSite.bookable).where(MealSite.kind == "central_kitchen")).scalar() is False
    statuses = dict(db.session.execute(sa.select(MealBooking.status, sa.func.count()).group_by(MealBooking.status)).all())
    assert {"confirmed", "served", "no_show", "cancelled"} <= set(statuses)
    assert summary["meal_bookings"] == sum(statuses.values()) >= 500
    assert db.session.execute(sa.select(sa.func.count()).where(MealBooking.booked_by_role == "family")).scalar() > 0
    assert db.session.execute(sa.select(sa.func.count()).where(MealBooking.mode == "delivery")).scalar() > 0
    # Counters agree with the bookings, and no slot is over capacity.
    for slot in db.session.execute(sa.select(MealSlot)).scalars():
        held = db.session.execute(sa.select(sa.func.coalesce(sa.func.sum(MealBooking.quantity), 0)).where(
            MealBooking.slot_id == slot.id, MealBooking.status.in_(("confirmed", "served", "no_show")))).scalar()
        assert slot.booked_dine_in + slot.booked_pickup + slot.booked_delivery == held
        assert slot.booked_dine_in <= slot.cap_dine_in
    # operator.demo runs 香泉智助食堂 and sees its manifest of today.
    operator = db.session.execute(sa.select(User).where(User.username == "operator.demo")).scalar_one()
    site = db.session.execute(sa.select(MealSite).where(MealSite.code == "WL-XQ-ZZ")).scalar_one()
    assert db.session.execute(sa.select(RoleAssignment.id).where(
        RoleAssignment.user_id == operator.id, RoleAssignment.scope_id == site.id)).first()
    manifest = queries.manifest(people.load_actor(operator.id), site.id, clock.local_now().date())
    assert manifest["slots"] and manifest["slots"][0]["totals"]["all"] > 0
