"""Authentication: token issue, the JWT loaders, and the role check on views."""
from __future__ import annotations

import functools
import uuid

from flask import current_app, g, request
from flask_jwt_extended import (create_access_token, create_refresh_token, get_jwt, get_jwt_identity,
                                verify_jwt_in_request)

from api.docs import requires_token
from api.errors import envelope, language
from api.extensions import AUTH_REQUIRED, TOKEN_VERIFIED, check_roles, jwt
from service import people
from service.db import reading_the_caller
from service.errors import DomainError, Unauthorized
from service.platform_errors import (AccountGone, AccountInactive, TokenExpired, TokenInvalid, TokenMissing,
                                     TokenNotFresh, TokenRevoked)


def issue_tokens(user_id: int, roles: list[str], session_id: str | None = None, *, second_factor: bool = False,
                 withheld: set[str] | frozenset[str] = frozenset()) -> dict:
    """A refresh token and an access token of one session: ``sid`` names it, a new one at login, the same
    one in every pair refreshed from it, so logout ends every token descended from the login. ``mfa`` marks
    a pair issued after the second factor (a refresh keeps it); ``mfa_pending`` names the roles a pair
    without it leaves out (service.second_factor)."""
    sid = session_id or str(uuid.uuid4())
    marks = {"mfa": True} if second_factor else {"mfa_pending": sorted(withheld)} if withheld else {}
    refresh = create_refresh_token(identity=str(user_id), additional_claims={"sid": sid, **marks})
    access = create_access_token(identity=str(user_id), additional_claims={"roles": roles, "sid": sid, **marks})
    expires = current_app.config["JWT_ACCESS_TOKEN_EXPIRES"]
    return {"access_token": access, "refresh_token": refresh, "token_type": "Bearer",
            "expires_in": int(expires.total_seconds())}


def tokens_for(user_id: int, session_id: str | None = None, *, second_factor: bool = False) -> dict:
    """A new pair for the user (a login, a refresh, the second factor) and who they are. Without the second
    factor the pair leaves out the roles that need it, and says so."""
    actor = people.load_actor(user_id, second_factor=second_factor)
    roles = people.token_roles(actor)
    tokens = issue_tokens(user_id, roles, session_id, second_factor=second_factor, withheld=actor.withheld_roles)
    me = people.me(actor)
    state = "verified" if second_factor else "pending" if actor.withheld_roles else "not_needed"
    tokens["user"] = {"id": user_id, "roles": roles, "verified": me["verified"], "nickname": me["nickname"],
                      "second_factor": state, "withheld_roles": sorted(actor.withheld_roles)}
    return tokens


def current_actor() -> people.Actor:
    actor = getattr(g, "actor", None)
    if actor is None:
        raise Unauthorized()
    return actor


def auth_required(*roles: str, refresh: bool = False, caller_only: bool = False):
    """Require a valid token; with ``roles``, require one of them in the token's claims.

    Object ownership and scope are checked again in the service. With ``caller_only`` the
    actor carries no roles or scopes (``people.load_caller``): for a use-case that decides
    by its own data who may act (its reads join the caller's).
    """
    load = people.load_caller if caller_only else people.load_actor

    def decorator(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if refresh or not request.environ.get(TOKEN_VERIFIED):  # else verified by the rate limiter's key
                verify_jwt_in_request(refresh=refresh)
            claims = get_jwt()
            check_roles(roles, claims)
            marks = {} if caller_only else {"second_factor": bool(claims.get("mfa"))}
            with reading_the_caller():  # on SQLite read before, not under, the write lock
                actor = load(int(get_jwt_identity()), ip=request.remote_addr, token_id=claims["jti"],
                             session_id=claims.get("sid"), **marks)
            if actor is None:
                raise AccountInactive()
            g.actor = actor
            return fn(*args, **kwargs)

        # The token (and the role) is checked before the input is parsed (api.extensions.Blueprint.arguments):
        # a caller without one hears 401, not what was wrong with the body.
        setattr(wrapper, AUTH_REQUIRED, {"roles": roles, "refresh": refresh})
        return requires_token(wrapper)

    return decorator


def _jwt_error(error: DomainError):
    return envelope(error.status, error.code, error.message(language()))


def register_jwt_loaders() -> None:
    # Revocation is checked by auth_required() on the same query that loads the
    # actor, and by the refresh endpoint when it spends the refresh token.
    @jwt.unauthorized_loader
    def _missing(reason):
        return _jwt_error(TokenMissing())

    @jwt.invalid_token_loader
    def _invalid(reason):
        return _jwt_error(TokenInvalid())

    @jwt.expired_token_loader
    def _expired(header, payload):
        return _jwt_error(TokenExpired())

    @jwt.revoked_token_loader
    def _revoked_answer(header, payload):
        return _jwt_error(TokenRevoked())

    @jwt.needs_fresh_token_loader
    def _fresh(header, payload):
        return _jwt_error(TokenNotFresh())

    @jwt.token_verification_failed_loader
    def _failed(header, payload):
        return _jwt_error(TokenInvalid())

    @jwt.user_lookup_error_loader
    def _lookup(header, payload):
        return _jwt_error(AccountGone())

