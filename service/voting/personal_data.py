"""What the voting domain holds about a person (service/personal_data.py): the motions they were in the
electorate of (as the owner verified on the platform) with their units and weight, the ballots they cast
with their own choices and receipts, and the written mandates they hold as a proxy.

Closing the account: a counted ballot keeps its unit and weight (the result and the motion's hash chain, which
names the casting account, must stay verifiable), under the pseudonymous account; the electorate entry no
longer leads to the account; mandates not yet used end."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from models.base import db
from models.voting import Ballot, Motion, Proxy, Voter
from service.personal_data import MAX_ROWS, rows

KEPT = [
    ("已计入结果的表决票：保留专有部分和面积（表决结果和证据链需要），不再关联到您的身份", "Counted ballots: their units "
     "and area stay (the result and its evidence chain need them), no longer linked to who you are"),
    ("表决名册中的业主姓名：来自业主名册，属于该次表决的法定记录", "The owner's name in a motion's electorate: it comes from "
     "the owners register and is that vote's legal record"),
]


def export(user_id: int) -> dict:
    electorate = rows(sa.select(Voter.motion_id, Motion.title.label("motion_title"), Voter.label, Voter.area,
                                Voter.units).join(Motion, Motion.id == Voter.motion_id)
                      .where(Voter.user_id == user_id).order_by(Voter.id.desc()).limit(MAX_ROWS))
    ballots = rows(sa.select(Ballot.id, Ballot.motion_id, Motion.title.label("motion_title"), Ballot.channel,
                             Ballot.choice, Ballot.candidate_ids, Ballot.status, Ballot.receipt, Ballot.cast_at,
                             Ballot.settled_at).join(Motion, Motion.id == Ballot.motion_id)
                   .where(Ballot.cast_by == user_id).order_by(Ballot.id.desc()).limit(MAX_ROWS))
    mandates = rows(sa.select(Proxy.id, Proxy.motion_id, Proxy.voter_id, Proxy.valid_until, Proxy.created_at,
                              Proxy.revoked_at, Proxy.used_at).where(Proxy.proxy_user_id == user_id)
                    .order_by(Proxy.id.desc()).limit(MAX_ROWS))
    return {"voting_electorate": electorate, "ballots": ballots, "proxy_mandates": mandates}


def erase(user_id: int, now: datetime) -> dict:
    unlinked = db.session.execute(sa.update(Voter).where(Voter.user_id == user_id).values(user_id=None)
                                  .execution_options(synchronize_session=False)).rowcount or 0
    ended = db.session.execute(sa.update(Proxy).where(Proxy.proxy_user_id == user_id, Proxy.revoked_at.is_(None),
                                                      Proxy.used_at.is_(None)).values(revoked_at=now)
                               .execution_options(synchronize_session=False)).rowcount or 0
    counted = db.session.execute(sa.select(sa.func.count()).select_from(Ballot)
                                 .where(Ballot.cast_by == user_id, Ballot.status == "counted")).scalar()
    return {"motion_voter.unlinked": unlinked, "motion_proxy.ended": ended, "ballot.kept_pseudonymous": counted}
