"""Token revocation, in the database: it survives restarts and needs no Redis.

A login starts a session (the ``sid`` claim of every token refreshed from it). Logout revokes the
session until the longest any of its tokens could live; a refresh revokes the refresh token it spends.
Both live in one table (``RevokedToken``), keyed by the token's ``jti`` or by ``sid:<session>``, and a
request asks for its token and its session inside the query that loads its caller
(service/people.py ``load_actor``/``load_caller``): an index probe each, no extra round trip, so no
request waits for Redis, and a Redis that stalls, restarts or is flushed changes nothing about who is
refused. Spending a refresh token is the table's unique insert, so it works exactly once with or
without Redis. (Before, with ``REDIS_URL``, revocations lived in Redis only;
:func:`adopt_redis_revocations` copies those into the table once, on upgrade.)"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from models.base import db
from models.system import RevokedToken
from service import clock
from service.db import transactional

# Where revocations lived in Redis before they moved to the database (read once by adopt_redis_revocations).
_PREFIX = "linli:revoked:"


def revoke(jti: str, expires_at: datetime) -> None:
    """Revoke a token until it would have expired anyway. Commits with the caller's transaction."""
    if expires_at <= clock.now():
        return
    if db.session.get(RevokedToken, jti) is None:
        db.session.add(RevokedToken(jti=jti, expires_at=expires_at))


def session_key(session_id: str) -> str:
    return "sid:" + session_id


def revocation_keys(token_id: str, session_id: str | None) -> dict:
    """The two keys a request is refused by, as the parameters ``jti`` and ``sid`` of the statements that
    ask for them (a token from before sessions asks for its jti twice)."""
    return {"jti": token_id, "sid": session_key(session_id) if session_id else token_id}


_REVOKED = sa.select(RevokedToken.jti).where(RevokedToken.jti.in_([sa.bindparam("jti"), sa.bindparam("sid")]))


def is_revoked(token_id: str, session_id: str | None = None) -> bool:
    """Whether the token or its session is revoked (one query; a request folds it into its caller's)."""
    return db.session.execute(_REVOKED, revocation_keys(token_id, session_id)).first() is not None


@transactional
def purge_expired() -> int:
    """Delete revocations whose tokens have expired."""
    result = db.session.execute(sa.delete(RevokedToken).where(RevokedToken.expires_at < clock.now()))
    return result.rowcount or 0


def _expiry(epoch_seconds: int) -> datetime:
    return datetime.fromtimestamp(epoch_seconds, tz=timezone.utc)


def logout(claims: dict, session_lifetime: timedelta) -> int:
    """End the token's session: every access and refresh token descended from its login is refused until
    the longest one could live (now + the refresh token lifetime: none is minted once it is revoked).
    A token from before sessions revokes itself and the refresh token issued with it. Returns the number
    of revocations written."""
    if claims.get("sid"):
        # A minute beyond: a refresh that passed its check just before this logout still mints a pair of
        # the session, and that pair must die with it.
        revocations = [(session_key(claims["sid"]), clock.now() + session_lifetime + timedelta(minutes=1))]
    else:
        revocations = [(claims["jti"], _expiry(claims["exp"]))]
        if claims.get("rjti") and claims.get("rexp"):
            revocations.append((claims["rjti"], _expiry(claims["rexp"])))
    try:
        _revoke_all(revocations)
    except sa.exc.IntegrityError:  # the same session logged out twice at once: revoked either way
        pass
    return len(revocations)


@transactional
def _revoke_all(revocations: list[tuple[str, datetime]]) -> None:
    for key, expires_at in revocations:
        revoke(key, expires_at)


def spend_refresh_token(claims: dict) -> None:
    """A refresh token works once: revoke it as it is exchanged (rotation). The revocation is the
    table's unique insert, so of two exchanges of the same token at once exactly one wins."""
    from service.platform_errors import RefreshTokenSpent

    try:
        _record_spent(claims["jti"], _expiry(claims["exp"]))
    except sa.exc.IntegrityError:
        raise RefreshTokenSpent() from None


@transactional
def _record_spent(jti: str, expires_at: datetime) -> None:
    db.session.add(RevokedToken(jti=jti, expires_at=expires_at))


def adopt_redis_revocations(client, batch: int = 500) -> int:
    """Copy the revocations an earlier version kept in Redis only (``linli:revoked:<key>`` with a TTL)
    into the table, so none is forgotten on upgrade; idempotent. Returns how many were added."""
    now = clock.now()
    added = 0
    keys = [key.decode() if isinstance(key, bytes) else key
            for key in client.scan_iter(match=_PREFIX + "*", count=batch)]
    for start in range(0, len(keys), batch):
        chunk = keys[start:start + batch]
        pipeline = client.pipeline(transaction=False)
        for key in chunk:
            pipeline.pttl(key)
        found = {key[len(_PREFIX):]: now + timedelta(milliseconds=ttl)
                 for key, ttl in zip(chunk, pipeline.execute()) if ttl and ttl > 0}
        added += _adopt(found)
    return added


@transactional
def _adopt(found: dict[str, datetime]) -> int:
    if not found:
        return 0
    known = set(db.session.execute(sa.select(RevokedToken.jti).where(RevokedToken.jti.in_(list(found)))).scalars())
    for jti, expires_at in found.items():
        if jti not in known:
            db.session.add(RevokedToken(jti=jti, expires_at=expires_at))
    return len(found) - len(known)
