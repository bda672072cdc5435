"""The 15-minute community life circle (15分钟社区生活圈): facilities, walking times,
"open now", coverage (覆盖率) per estate and street, import and export."""
import sqlalchemy as sa

from models.life_circle import Facility
from service.registry import Domain

DOMAIN = Domain(
    "life_circle", "15分钟社区生活圈",
    # Audit entries about a facility are placed in its street (none: district-wide).
    locators={"facility": sa.select(Facility.street_id).where(Facility.id == sa.bindparam("id"))},
)
