"""Cases (市民诉求 / 网格化案件): rules, the closed-loop workflow, queries, metrics and reminders."""
import sqlalchemy as sa

from models.cases import Case
from service import places

# Audit entries about a case are placed in its street.
places.register_locator("case", sa.select(Case.street_id).where(Case.id == sa.bindparam("id")))
