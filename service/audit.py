"""Append-only audit of staff and admin mutations and of views of personal data.

Each entry records the street its object lay in when it was written (``service.places.locate`` by the
object's type, or the place the caller names), so an admin reads the entries of their own streets."""
from __future__ import annotations

import sqlalchemy as sa

from models.audit import AuditEntry
from models.base import db
from service import places
from service.db import end_read_before_write, paginate, transactional

LOCATE = object()  # the default of ``street_id``: found from the object's type and id


def record(actor, action: str, object_type: str, object_id, *, before: dict | None = None,
           after: dict | None = None, street_id=LOCATE) -> AuditEntry:
    """Add an audit entry in the caller's transaction (it commits or rolls back with the change).

    ``street_id`` places the entry where the object's type alone does not tell (a role granted on a
    place is placed there, not where its holder lives); None places it district-wide."""
    if street_id is LOCATE:
        place = places.locate(object_type, object_id) if object_id is not None else None
        street_id = place.street_id if place is not None else None
    entry = AuditEntry(
        actor_user_id=getattr(actor, "user_id", None),
        actor_role=getattr(actor, "acting_role", None),
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        before=before,
        after=after,
        ip=getattr(actor, "ip", None),
        street_id=street_id,
    )
    db.session.add(entry)
    return entry


def record_view(actor, action: str, object_type: str, object_id, *, street_id=LOCATE) -> None:
    """Audit a view of personal data from a read. On SQLite the read's transaction ends first and the
    entry is written in a transaction of its own, which takes the write lock before anything else; on
    PostgreSQL the read's transaction goes on and commits with the entry (one commit, and the statements
    the connection has prepared are kept: a rollback would drop them). ``street_id`` as in ``record``:
    a caller holding the object passes it, saving the lookup."""
    end_read_before_write()
    _write(actor, action, object_type, object_id, street_id)


@transactional
def _write(actor, action: str, object_type: str, object_id, street_id) -> None:
    record(actor, action, object_type, object_id, street_id=street_id)


def list_entries(actor, *, object_type: str | None = None, object_id: str | None = None,
                 actor_user_id: int | None = None, page: int = 1, page_size: int = 20):
    """Admins read the entries placed in their streets (a district admin: every street of their districts,
    and the entries with no street); staff read only their own actions. Everyone reads their own."""
    from service.errors import Forbidden

    query = sa.select(AuditEntry)
    if not actor.is_admin:
        if not actor.is_staff:
            raise Forbidden()
        query = query.where(AuditEntry.actor_user_id == actor.user_id)
    else:
        districts, streets = actor.admin_reach()
        visible = [AuditEntry.actor_user_id == actor.user_id]
        if streets:
            visible.append(AuditEntry.street_id.in_(sorted(streets)))
        if districts:
            visible.append(AuditEntry.street_id.is_(None))
        query = query.where(sa.or_(*visible))
    if object_type:
        query = query.where(AuditEntry.object_type == object_type)
    if object_id:
        query = query.where(AuditEntry.object_id == object_id)
    if actor_user_id:
        query = query.where(AuditEntry.actor_user_id == actor_user_id)
    return paginate(query.order_by(AuditEntry.id.desc()), page, page_size)
