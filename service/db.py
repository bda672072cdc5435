"""Transaction boundary for use-cases: commit everything or nothing."""
from __future__ import annotations

import functools

from sqlalchemy.orm.exc import StaleDataError

from models.base import db
from service.errors import Conflict


def transactional(fn=None, *, stale=None):
    """Run a use-case in one transaction: commit on success, roll back on any error.

    A row changed by someone else meanwhile (a versioned row's UPDATE matched
    nothing) becomes a 409: ``stale()`` when given, else a generic conflict.
    """

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                result = fn(*args, **kwargs)
                db.session.commit()
                return result
            except StaleDataError:
                db.session.rollback()
                raise (stale() if stale else Conflict(code="concurrent_update", zh="数据刚被他人修改，请刷新后重试",
                                                      en="Someone else changed this just now; reload and retry")) from None
            except BaseException:
                db.session.rollback()
                raise

        return wrapper

    return decorate(fn) if fn is not None else decorate


def is_unique_violation(exc: Exception) -> bool:
    text = str(getattr(exc, "orig", exc)).lower()
    return "unique" in text or "duplicate key" in text


def paginate(query, page: int, page_size: int):
    """Return (items, total) of a select() for page ``page`` (1-based)."""
    import sqlalchemy as sa

    total = db.session.execute(sa.select(sa.func.count()).select_from(query.order_by(None).subquery())).scalar_one()
    items = db.session.execute(query.limit(page_size).offset((page - 1) * page_size)).scalars().all()
    return items, total


def add_unique(obj, conflict: Exception):
    """Add ``obj``; if a unique constraint refuses it, raise ``conflict`` (the transaction stays usable)."""
    import sqlalchemy as sa

    try:
        with db.session.begin_nested():
            db.session.add(obj)
    except sa.exc.IntegrityError as exc:
        if not is_unique_violation(exc):
            raise
        raise conflict from None
    return obj
