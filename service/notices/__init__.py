"""Notices and disclosure (通知公告 · 居务公开 · 业委会公示)."""
import sqlalchemy as sa

from models.notices import Notice
from service.notices import access
from service.registry import Domain

DOMAIN = Domain(
    "notices", "通知公告",
    # The estate's property company (物业服务企业) publishes its notices: a role granted on an estate.
    roles={"property_company": ("estate",)},
    # Audit entries about a notice are placed in its street.
    locators={"notice": sa.select(Notice.street_id).where(Notice.id == sa.bindparam("id"))},
    # Who sees a file attached to a notice: whoever may read the notice.
    upload_rules={"notice": access.may_see_attachment},
    # The chase list puts elders living alone first: the meals domain knows who they are (with their consent).
    uses=("service.meals.queries",),
    demo_after=("meals", "voting"),
)
