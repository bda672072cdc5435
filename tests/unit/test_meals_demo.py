"""The demo meal data: the seeds' sites, a fortnight of menus, bookings through the real use-cases."""
import sqlalchemy as sa

from data.demo import loader as demo_loader
from models.base import db
from models.meals import MealBooking, MealSite, MealSlot
from models.people import ResidentProfile, RoleAssignment, User
from service import clock, people
from service.meals import queries


def test_demo_meals_show_sites_menus_and_bookings_in_every_state():
    summary = demo_loader.load_all()
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
    # The diners' birth dates and residence were verified by staff of their 居委会 (who and when), which is
    # what makes them eligible: nothing a resident typed prices a meal.
    diners = db.session.execute(sa.select(ResidentProfile).join(User, User.id == ResidentProfile.user_id)
                                .where(User.username.like("meal.%"))).scalars().all()
    assert diners
    verifiers = {}
    for profile in diners:
        assert profile.birth_date_verified_at is not None and profile.birth_date_verified_at >= profile.created_at
        staff = verifiers.setdefault(profile.residence_verified_by, people.load_actor(profile.residence_verified_by))
        assert staff.covers_neighbourhood(profile.neighbourhood_id)
        assert (profile.declared_birth_date, profile.declared_neighbourhood_id) == (None, None)
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
