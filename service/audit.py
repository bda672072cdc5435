"""Append-only audit of staff and admin mutations and of views of personal data."""
from __future__ import annotations

import sqlalchemy as sa

from models.audit import AuditEntry
from models.base import db
from service.db import paginate, transactional


def record(actor, action: str, object_type: str, object_id, *, before: dict | None = None,
           after: dict | None = None) -> AuditEntry:
    """Add an audit entry in the caller's transaction (it commits or rolls back with the change)."""
    entry = AuditEntry(
        actor_user_id=getattr(actor, "user_id", None),
        actor_role=getattr(actor, "acting_role", None),
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        before=before,
        after=after,
        ip=getattr(actor, "ip", None),
    )
    db.session.add(entry)
    return entry


def record_view(actor, action: str, object_type: str, object_id) -> None:
    """Audit a view of personal data from a read: the read's transaction ends and the entry is
    written in a transaction of its own, which takes the write lock before anything else."""
    db.session.rollback()
    _write(actor, action, object_type, object_id)


@transactional
def _write(actor, action: str, object_type: str, object_id) -> None:
    record(actor, action, object_type, object_id)


def list_entries(actor, *, object_type: str | None = None, object_id: str | None = None,
                 actor_user_id: int | None = None, page: int = 1, page_size: int = 20):
    """Admins read the log; staff read only their own actions."""
    from service.errors import Forbidden

    query = sa.select(AuditEntry)
    if not actor.is_admin:
        if not actor.is_staff:
            raise Forbidden()
        query = query.where(AuditEntry.actor_user_id == actor.user_id)
    if object_type:
        query = query.where(AuditEntry.object_type == object_type)
    if object_id:
        query = query.where(AuditEntry.object_id == object_id)
    if actor_user_id:
        query = query.where(AuditEntry.actor_user_id == actor_user_id)
    return paginate(query.order_by(AuditEntry.id.desc()), page, page_size)

