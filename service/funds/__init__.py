"""The owners' funds disclosed (业委会公示: 维修资金 and 公共收益)."""
import sqlalchemy as sa

from models.funds import FundAudit, FundPeriod, Journal
from models.places import Estate
from service.registry import Domain

_STREET = sa.select(Estate.street_id)

DOMAIN = Domain(
    "funds", "维修资金与公共收益公示",
    # Audit entries about periods and journals are placed in the street of their estate.
    locators={
        "fund_period": _STREET.join(FundPeriod, FundPeriod.estate_id == Estate.id)
        .where(FundPeriod.id == sa.bindparam("id")),
        "journal": _STREET.join(Journal, Journal.estate_id == Estate.id).where(Journal.id == sa.bindparam("id")),
        "fund_audit": _STREET.join(FundAudit, FundAudit.estate_id == Estate.id)
        .where(FundAudit.id == sa.bindparam("id")),
    },
    # A published statement goes out as a notice to the estate; the owners' assembly's counted decisions (the
    # voting domain's motions) are on the disclosure calendar.
    uses=("service.notices.workflow", "models.voting"),
    demo_after=("notices",),
)
