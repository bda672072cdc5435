"""Owners' assembly voting (业主大会表决)."""
import sqlalchemy as sa

from models.places import Estate
from models.voting import Ballot, Motion, Proxy
from service.registry import Domain
from service.voting import access

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
    # Who sees an upload attached to a motion (its documents) or to a paper ballot or mandate (evidence).
    upload_rules={"motion": access.may_see_attachment, "paper": access.may_see_evidence,
                  "mandate": access.may_see_evidence},
)
