"""Token revocation that survives restarts: Redis when configured, else the database."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from models.base import db
from models.system import RevokedToken
from service import clock

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


def is_revoked(jti: str) -> bool:
    if _redis is not None:
        return bool(_redis.exists(_PREFIX + jti))
    return db.session.execute(sa.select(RevokedToken.jti).where(RevokedToken.jti == jti)).first() is not None


def purge_expired() -> int:
    """Delete revocations whose tokens have expired (Redis expires its own keys)."""
    result = db.session.execute(sa.delete(RevokedToken).where(RevokedToken.expires_at < clock.now()))
    db.session.commit()
    return result.rowcount or 0


def _expiry(epoch_seconds: int) -> datetime:
    from datetime import timezone

    return datetime.fromtimestamp(epoch_seconds, tz=timezone.utc)


def logout(claims: dict) -> int:
    """Revoke an access token and the refresh token issued with it."""
    revoke(claims["jti"], _expiry(claims["exp"]))
    revoked = 1
    if claims.get("rjti") and claims.get("rexp"):
        revoke(claims["rjti"], _expiry(claims["rexp"]))
        revoked = 2
    db.session.commit()
    return revoked


def spend_refresh_token(claims: dict) -> None:
    """A refresh token works once: revoke it as it is exchanged (rotation).
    Two exchanges of the same token at once: exactly one wins."""
    from service.errors import Unauthorized

    spent = Unauthorized(code="auth.token_revoked", zh="登录已失效，请重新登录", en="The token has been used or revoked")
    expires_at = _expiry(claims["exp"])
    if _redis is not None:
        ttl = max(1, int((expires_at - clock.now()).total_seconds()) + 1)
        if not _redis.set(_PREFIX + claims["jti"], "1", ex=ttl, nx=True):
            raise spent
        return
    db.session.add(RevokedToken(jti=claims["jti"], expires_at=expires_at))
    try:
        db.session.commit()
    except sa.exc.IntegrityError:
        db.session.rollback()
        raise spent from None
