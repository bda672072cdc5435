"""What the notices domain holds about a person (service/personal_data.py): the notices that reached them, with
their first read and acknowledgement (and who recorded it for them). Closing the account keeps who was told
about a notice under the pseudonymous account (the notice's proof that it was delivered), without the unit and
the relative it came through, and with the chase order reset."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from models.base import db
from models.notices import Notice, NoticeAudience
from service.personal_data import MAX_ROWS, rows

KEPT = [
    ("收到的通知及已读、已知晓记录：证明通知已送达（紧急通知和停水停电通知的告知记录），账号以不可识别的编号代替，删除房屋和亲属关联",
     "The notices that reached the person, with read and acknowledged: the proof a notice was delivered (urgent "
     "and outage notices), under an unidentifiable number, without the unit and the relative"),
]


def export(user_id: int) -> dict:
    a = NoticeAudience
    reached = rows(sa.select(Notice.id.label("notice_id"), Notice.title, Notice.category, Notice.published_at,
                             a.reason, a.via_user_id, a.unit_id, a.read_at, a.acked_at, a.ack_channel,
                             a.acked_by_user_id, a.ack_proxy)
                   .join(a, a.notice_id == Notice.id).where(a.user_id == user_id)
                   .order_by(Notice.id.desc()).limit(MAX_ROWS))
    recorded = rows(sa.select(a.notice_id, a.user_id, a.acked_at, a.ack_channel)
                    .where(a.acked_by_user_id == user_id, a.user_id != user_id).order_by(a.notice_id.desc())
                    .limit(MAX_ROWS))
    return {"notices_received": reached, "notice_acknowledgements_recorded": recorded}


def erase(user_id: int, now: datetime) -> dict:
    done = db.session.execute(sa.update(NoticeAudience).where(NoticeAudience.user_id == user_id)
                              .values(unit_id=None, via_user_id=None, priority=5)
                              .execution_options(synchronize_session=False)).rowcount or 0
    return {"notice_audience.pseudonymised": done}
