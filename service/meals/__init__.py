"""Elder meal service (老年助餐)."""
import sqlalchemy as sa

from models.meals import MealSite
from service import places

# Where a meal site lies: operators are granted roles on meal sites (people.grant_role).
places.register_locator("meal_site", sa.select(MealSite.street_id).where(MealSite.id == sa.bindparam("id")))
