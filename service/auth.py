"""Token revocation that survives restarts: Redis when configured, else the database.

A login starts a session (the ``sid`` claim of every token refreshed from it). Logout revokes the
session until the longest any of its tokens could live; a refresh revokes the refresh token it spends.
Both live in one store, keyed by the token's ``jti`` or by ``sid:<session>``, so a request asks for its
token and its session in one query or one Redis round trip."""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from models.base import db
from models.system import RevokedToken
from service import clock
from service.db import transactional

_redis = None
_PREFIX = "linli:revoked:"


def configure(redis_url: str | None) -> None:
    global _redis
    if redis_url:
        import redis

        _redis = redis.Redis.from_url(redis_url, socket_timeout=2)
    else:
        _redis = None


def uses_database() -> bool:
    return _redis is None


def revoke(jti: str, expires_at: datetime) -> None:
    """Revoke a token until it would have expired anyway. Commits with the caller's transaction."""
    ttl = int((expires_at - clock.now()).total_seconds()) + 1
    if ttl <= 0:
        return
    if _redis is not None:
        _redis.set(_PREFIX + jti, "1", ex=ttl)
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
    """Whether the token or its session is revoked: one Redis EXISTS of both keys, or one query."""
    keys = revocation_keys(token_id, session_id)
    if _redis is not None:
        return bool(_redis.exists(*{_PREFIX + key for key in keys.values()}))
    return db.session.execute(_REVOKED, keys).first() is not None


@transactional
def purge_expired() -> int:
    """Delete revocations whose tokens have expired (Redis expires its own keys)."""
    result = db.session.execute(sa.delete(RevokedToken).where(RevokedToken.expires_at < clock.now()))
    return result.rowcount or 0


def _expiry(epoch_seconds: int) -> datetime:
    from datetime import timezone

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
    """A refresh token works once: revoke it as it is exchanged (rotation).
    Two exchanges of the same token at once: exactly one wins."""
    from service.platform_errors import RefreshTokenSpent

    spent = RefreshTokenSpent()
    expires_at = _expiry(claims["exp"])
    if _redis is not None:
        ttl = max(1, int((expires_at - clock.now()).total_seconds()) + 1)
        if not _redis.set(_PREFIX + claims["jti"], "1", ex=ttl, nx=True):
            raise spent
        return
    try:
        _record_spent(claims["jti"], expires_at)
    except sa.exc.IntegrityError:
        raise spent from None


@transactional
def _record_spent(jti: str, expires_at: datetime) -> None:
    db.session.add(RevokedToken(jti=jti, expires_at=expires_at))
