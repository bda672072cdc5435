"""Elder meal service (老年助餐)."""
import sqlalchemy as sa

from models.meals import MealBooking, MealSite, MealSlot
from service.registry import Domain

DOMAIN = Domain(
    "meals", "老年助餐",
    # Operators run meal sites: the role is granted on a site (people.grant_role).
    roles={"operator": ("meal_site",)},
    scope_types=("meal_site",),
    # Audit entries about sites, slots and bookings are placed in the site's street.
    locators={
        "meal_site": sa.select(MealSite.street_id).where(MealSite.id == sa.bindparam("id")),
        "meal_slot": sa.select(MealSite.street_id).join(MealSlot, MealSlot.site_id == MealSite.id)
        .where(MealSlot.id == sa.bindparam("id")),
        "meal_booking": sa.select(MealSite.street_id).join(MealBooking, MealBooking.site_id == MealSite.id)
        .where(MealBooking.id == sa.bindparam("id")),
    },
    # Meal sites are life-circle facilities; a diner's walk to a site is the life circle's.
    uses=("models.life_circle", "service.life_circle.walking", "service.life_circle.hours", "data.demo.life_circle"),
    demo_after=("life_circle",),
)
