"""Elder meal service (老年助餐)."""
import sqlalchemy as sa

from models.meals import MealBooking, MealSite, MealSlot
from service import places

# Where the domain's objects lie: operators are granted roles on meal sites (people.grant_role), and
# audit entries about sites, slots and bookings are placed in the site's street.
places.register_locator("meal_site", sa.select(MealSite.street_id).where(MealSite.id == sa.bindparam("id")))
places.register_locator("meal_slot", sa.select(MealSite.street_id).join(MealSlot, MealSlot.site_id == MealSite.id)
                        .where(MealSlot.id == sa.bindparam("id")))
places.register_locator("meal_booking", sa.select(MealSite.street_id)
                        .join(MealBooking, MealBooking.site_id == MealSite.id)
                        .where(MealBooking.id == sa.bindparam("id")))
