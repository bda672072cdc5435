"""Re-encrypting personal data with the current key (``flask privacy rotate-key``).

Every encrypted column is rotated: ``encrypted()`` finds each mapped column named ``*_enc`` in the models' registry
(the platform's and every domain's), so a new one is rotated without being listed. A value not yet written with the current key (its ``v<version>:`` prefix) is read with the key of its
own version and written again with the current one, a batch per transaction; a run stopped half-way is run
again and goes on with what is left. While it runs, old and new values both read: the old keys stay
configured (PII_OLD_KEYS) until it reports nothing left. A value no configured key reads is left as it is
and counted, never overwritten.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from models.base import Base, db
from service import privacy
from service.db import transactional



def encrypted() -> list:
    """Every encrypted column of every model, in a stable order (table, then column)."""
    found = [getattr(mapper.class_, column.key) for mapper in Base.registry.mappers for column in mapper.columns
             if column.key.endswith("_enc")]
    return sorted(found, key=_name)


@dataclass
class Report:
    version: int
    rewritten: dict[str, int] = field(default_factory=dict)
    unreadable: dict[str, list] = field(default_factory=dict)
    remaining: int = 0


def _name(column) -> str:
    return f"{column.class_.__tablename__}.{column.key}"


def _pending(column):
    """Rows whose value is not yet the current key's: (primary key, value)."""
    key = column.class_.__mapper__.primary_key[0]
    return sa.select(key, column).where(column.is_not(None), sa.not_(column.startswith(privacy.current_prefix(),
                                                                                          autoescape=True)))


def remaining() -> int:
    return sum(db.session.execute(sa.select(sa.func.count()).select_from(_pending(column).subquery())).scalar_one()
               for column in encrypted())


def rotate(batch: int = 500, progress=None) -> Report:
    """Re-encrypt every value not yet written with the current key."""
    report = Report(version=privacy.current_version())
    for column in encrypted():
        name = _name(column)
        report.rewritten[name], report.unreadable[name] = 0, []
        after = None
        while True:
            done, unreadable, after = _batch(column, batch, after)
            report.rewritten[name] += done
            report.unreadable[name] += unreadable
            if progress:
                progress(name, report.rewritten[name])
            if after is None:
                break
    report.remaining = remaining()
    return report


@transactional
def _batch(column, size: int, after) -> tuple[int, list, object]:
    """One batch after primary key ``after``: (rewritten, keys of unreadable values, the last key or None)."""
    key = column.class_.__mapper__.primary_key[0]
    query = _pending(column).order_by(key).limit(size)
    if after is not None:
        query = query.where(key > after)
    rows = db.session.execute(query).all()
    done, unreadable = 0, []
    for pk, value in rows:
        plain = privacy.decrypt(value)
        if plain is None:
            unreadable.append(pk)
            continue
        # Only if it is still the value read: a concurrent write with the current key is left alone.
        done += db.session.execute(sa.update(column.class_).where(key == pk, column == value)
                                   .values({column.key: privacy.encrypt(plain)})
                                   .execution_options(synchronize_session=False)).rowcount or 0
    return done, unreadable, (rows[-1][0] if len(rows) == size else None)
