"""Append-only audit of staff and admin mutations and of views of personal data.

Each entry records the street its object lay in when it was written (``service.places.locate`` by the
object's type, or the place the caller names), so an admin reads the entries of their own streets."""
from __future__ import annotations

import sqlalchemy as sa

from models.audit import AuditEntry
from models.base import db
from models.people import ResidentProfile, User
from models.places import Street
from service import places, retention
from service.db import end_read_before_write, paginate, transactional

LOCATE = object()  # the default of ``street_id``: found from the object's type and id


def record(actor, action: str, object_type: str, object_id, *, before: dict | None = None,
           after: dict | None = None, street_id=LOCATE, subject_user_id: int | None = None) -> AuditEntry:
    """Add an audit entry in the caller's transaction (it commits or rolls back with the change).

    ``street_id`` places the entry where the object's type alone does not tell (a role granted on a
    place is placed there, not where its holder lives); None places it district-wide.
    ``subject_user_id`` names the person whose personal data the action viewed or changed, who can then
    read the entry (``for_subject``); a user object is its own subject."""
    entry = AuditEntry(**_entry(actor, action, object_type, object_id, street_id, subject_user_id),
                       before=before, after=after)
    db.session.add(entry)
    return entry


def _entry(actor, action: str, object_type: str, object_id, street_id, subject_user_id: int | None) -> dict:
    """An audit entry's columns but what changed (``record``)."""
    if subject_user_id is None and object_type == "user" and object_id is not None:
        subject_user_id = int(object_id)
    if street_id is LOCATE:
        place = places.locate(object_type, object_id) if object_id is not None else None
        street_id = place.street_id if place is not None else None
    return {"actor_user_id": getattr(actor, "user_id", None), "actor_role": getattr(actor, "acting_role", None),
            "action": action, "object_type": object_type, "object_id": None if object_id is None else str(object_id),
            "ip": getattr(actor, "ip", None), "street_id": street_id, "subject_user_id": subject_user_id}


def record_view(actor, action: str, object_type: str, object_id, *, street_id=LOCATE,
                subject_user_id: int | None = None) -> None:
    """Audit a view of personal data from a read. On SQLite the read's transaction ends first and the
    entry is written in a transaction of its own, which takes the write lock before anything else; on
    PostgreSQL the read's transaction goes on and commits with the entry (one commit, and the statements
    the connection has prepared are kept: a rollback would drop them). ``street_id`` as in ``record``:
    a caller holding the object passes it, saving the lookup. The entry is one INSERT statement: nothing
    reads it back, so it needs no object in the session."""
    end_read_before_write()
    _write(actor, action, object_type, object_id, street_id, subject_user_id)


_INSERT_ENTRY = sa.insert(AuditEntry)


@transactional
def _write(actor, action: str, object_type: str, object_id, street_id, subject_user_id) -> None:
    db.session.connection().execute(_INSERT_ENTRY, _entry(actor, action, object_type, object_id, street_id,
                                                          subject_user_id))


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


def for_subject(actor, *, page: int = 1, page_size: int = 20) -> tuple[list[dict], int]:
    """Who viewed or changed the caller's personal data (PIPL Art. 45), newest first: (items, total).

    Each entry by its action, the acting role and the organisation the object lay in (its street); the
    acting person's name only for the roles privacy.yaml lists (``data_access.names_of_roles``). The caller's
    own actions are left out. One index (subject_user_id, id) serves both statements."""
    mine = (AuditEntry.subject_user_id == actor.user_id,
            sa.or_(AuditEntry.actor_user_id.is_(None), AuditEntry.actor_user_id != actor.user_id))
    total = db.session.execute(sa.select(sa.func.count()).select_from(AuditEntry).where(*mine)).scalar_one()
    rows = db.session.execute(
        sa.select(AuditEntry.id, AuditEntry.at, AuditEntry.action, AuditEntry.actor_role, AuditEntry.object_type,
                  AuditEntry.object_id, AuditEntry.street_id, Street.name.label("street_name"),
                  sa.func.coalesce(ResidentProfile.name, User.nickname).label("actor_name"))
        .outerjoin(Street, Street.id == AuditEntry.street_id)
        .outerjoin(User, User.id == AuditEntry.actor_user_id)
        .outerjoin(ResidentProfile, ResidentProfile.user_id == AuditEntry.actor_user_id)
        .where(*mine).order_by(AuditEntry.id.desc()).limit(page_size).offset((page - 1) * page_size)).all()
    named = retention.policy().names_of_roles
    return [{"id": r.id, "at": r.at, "action": r.action, "actor_role": r.actor_role,
             "actor_name": r.actor_name if r.actor_role in named else None, "object_type": r.object_type,
             "object_id": r.object_id, "street_id": r.street_id, "street_name": r.street_name}
            for r in rows], total
