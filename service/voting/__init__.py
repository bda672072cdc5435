"""Owners' assembly voting (业主大会表决)."""
import sqlalchemy as sa

from models.places import Estate
from models.voting import Ballot, Motion, Proxy
from service.registry import Domain

# Audit entries about motions, ballots and proxies are placed in the street of the motion's estate.
_MOTION_STREET = sa.select(Estate.street_id).join(Motion, Motion.estate_id == Estate.id)

DOMAIN = Domain(
    "voting", "业主大会表决",
    locators={
        "motion": _MOTION_STREET.where(Motion.id == sa.bindparam("id")),
        "ballot": _MOTION_STREET.join(Ballot, Ballot.motion_id == Motion.id).where(Ballot.id == sa.bindparam("id")),
        "motion_proxy": _MOTION_STREET.join(Proxy, Proxy.motion_id == Motion.id)
        .where(Proxy.id == sa.bindparam("id")),
    },
)
