"""The second factor of the roles that see other people's personal data (等保 2.0: two factors for
administrators): a TOTP authenticator (RFC 6238: HMAC-SHA1, 30-second steps, 6 digits) and ten one-time
recovery codes.

Which roles need it is data (``second_factor.roles`` in config/rules/privacy.yaml); whether it is asked for is
the deployment's ``SECOND_FACTOR``: ``required`` (production), ``non_demo`` (development: the demo accounts are
exempt) or ``off`` (tests, unless a test turns it on). A token issued without the second factor carries the
person's other roles only; ``people.load_actor`` leaves the withheld roles out of every check, and a view that
needs one answers 403 ``auth.second_factor_required``.

A code is accepted within one step either side of now, never twice (the last accepted step is kept), and five
wrong codes in a row lock the factor for fifteen minutes (429 with Retry-After); a wrong code says only that
the code is wrong.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import io
import secrets
import struct
from datetime import timedelta
from urllib.parse import quote, urlencode

import sqlalchemy as sa

from models.base import db
from models.second_factor import RecoveryCode, SecondFactor
from service import audit, clock, privacy, rules
from service.db import transactional
from service.platform_errors import (SecondFactorCodeWrong, SecondFactorEnrolled, SecondFactorLocked,
                                     SecondFactorNotEnrolled, SecondFactorNotNeeded, SecondFactorUnknown)

STEP_SECONDS, DIGITS, WINDOW = 30, 6, 1
MAX_FAILURES, LOCK = 5, timedelta(minutes=15)
RECOVERY_CODES = 10
ISSUER = "Linli 邻里"
MODES = ("required", "non_demo", "off")


_mode = "off"
_roles: frozenset[str] = frozenset()


def configure(mode: str, directory=None) -> None:
    """The deployment's mode, and the roles that need the factor (config/rules/privacy.yaml)."""
    global _mode, _roles
    if mode not in MODES:
        raise rules.RulesError(f"SECOND_FACTOR must be one of {', '.join(MODES)}, not {mode!r}")
    section = rules.load("privacy", directory).get("second_factor") or {}
    roles = section.get("roles")
    rules.require(isinstance(roles, list) and roles and all(isinstance(r, str) for r in roles), "privacy.yaml",
                  "second_factor.roles must be a non-empty list of roles")
    _mode, _roles = mode, frozenset(roles)


def mode() -> str:
    return _mode


def withheld(held: set[str], is_demo: bool) -> set[str]:
    """Of the roles a person holds, those a token without the second factor leaves out."""
    if _mode == "off" or (_mode == "non_demo" and is_demo):
        return set()
    return held & _roles


def needs(held: set[str], is_demo: bool) -> bool:
    return bool(withheld(held, is_demo))


# --- TOTP -----------------------------------------------------------------------------------------------------

def code_at(secret: bytes, step: int) -> str:
    """RFC 4226's HOTP of ``step`` (RFC 6238: the step is the Unix time ÷ 30)."""
    digest = hmac.new(secret, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10 ** DIGITS).zfill(DIGITS)


def current_step() -> int:
    return int(clock.now().timestamp()) // STEP_SECONDS


def _secret(factor: SecondFactor) -> bytes:
    return base64.b32decode(privacy.decrypt(factor.secret_enc))


def _matching_step(factor: SecondFactor, code: str) -> int | None:
    """The step within the window whose code this is, if not used already."""
    secret, now = _secret(factor), current_step()
    for step in range(now - WINDOW, now + WINDOW + 1):
        if hmac.compare_digest(code_at(secret, step), code) and (factor.last_step is None or step > factor.last_step):
            return step
    return None


def _qr_svg(uri: str) -> str:
    import segno

    out = io.BytesIO()
    segno.make(uri, error="m").save(out, kind="svg", scale=4, border=2, xmldecl=False)
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode()


# --- enrolment ------------------------------------------------------------------------------------------------

def _held_roles(actor) -> set[str]:
    """The roles the person holds, second factor or not: from the user ``load_actor`` read with its roles."""
    return {assignment.role for assignment in actor.user.roles} if actor.user is not None else set()


def enrolled(user_id: int) -> bool:
    return db.session.execute(sa.select(SecondFactor.confirmed_at).where(SecondFactor.user_id == user_id)
                              ).scalar() is not None


def status(actor, verified: bool) -> dict:
    """Whether the caller's roles need the factor, whether one is set up, and whether this token carries it."""
    user = actor.user
    held = _held_roles(actor)
    factor = db.session.get(SecondFactor, actor.user_id)
    left = db.session.execute(sa.select(sa.func.count()).select_from(RecoveryCode).where(
        RecoveryCode.user_id == actor.user_id, RecoveryCode.used_at.is_(None))).scalar_one()
    return {"required": needs(held, bool(user and user.is_demo)), "roles": sorted(held & _roles),
            "enrolled": factor is not None and factor.confirmed_at is not None,
            "confirmed_at": factor.confirmed_at if factor else None, "recovery_codes_left": left,
            "verified": verified}


@transactional
def start(actor) -> dict:
    """A new secret for the caller's authenticator (replacing one not yet confirmed): its otpauth:// URI and the
    same as a QR code to scan. Only for a person holding a role that needs it."""
    if not _held_roles(actor) & _roles:
        raise SecondFactorNotNeeded()
    factor = db.session.get(SecondFactor, actor.user_id)
    if factor is not None and factor.confirmed_at is not None:
        raise SecondFactorEnrolled()
    secret = base64.b32encode(secrets.token_bytes(20)).decode()
    if factor is None:
        factor = SecondFactor(user_id=actor.user_id, secret_enc=privacy.encrypt(secret), failures=0)
        db.session.add(factor)
    else:
        factor.secret_enc, factor.last_step, factor.failures, factor.locked_until = (privacy.encrypt(secret), None,
                                                                                      0, None)
    account = getattr(actor.user, "username", None) or f"user{actor.user_id}"
    uri = (f"otpauth://totp/{quote(ISSUER)}:{quote(account)}?"
           + urlencode({"secret": secret, "issuer": ISSUER, "algorithm": "SHA1", "digits": DIGITS,
                        "period": STEP_SECONDS}, quote_via=quote))
    return {"secret": secret, "otpauth_uri": uri, "qr_svg": _qr_svg(uri)}


@transactional
def confirm(actor, code: str) -> list[str]:
    """The first code from the authenticator confirms it: the ten recovery codes, shown this once."""
    factor = _factor_for_update(actor.user_id)
    if factor is None:
        raise SecondFactorNotEnrolled()
    if factor.confirmed_at is not None:
        raise SecondFactorEnrolled()
    _check(factor, code)
    factor.confirmed_at = clock.now()
    codes = [_recovery_code() for _ in range(RECOVERY_CODES)]
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == actor.user_id))
    db.session.add_all(RecoveryCode(user_id=actor.user_id, code_hash=_hash(c)) for c in codes)
    audit.record(actor, "second_factor.enrolled", "user", actor.user_id, street_id=None)
    return codes


@transactional
def verify(actor, code: str) -> None:
    """A code from the authenticator, or an unused recovery code, proves the second factor (or raises)."""
    factor = _factor_for_update(actor.user_id)
    if factor is None or factor.confirmed_at is None:
        raise SecondFactorNotEnrolled()
    if "-" in code:   # a recovery code: xxxxx-xxxxx
        _check_locked(factor)
        used = db.session.execute(sa.update(RecoveryCode).where(
            RecoveryCode.user_id == actor.user_id, RecoveryCode.code_hash == _hash(code.strip().lower()),
            RecoveryCode.used_at.is_(None)).values(used_at=clock.now())).rowcount
        if not used:
            _failed(factor)
        factor.failures = 0
        audit.record(actor, "second_factor.recovery_code_used", "user", actor.user_id, street_id=None)
        return
    _check(factor, code)


def remove(actor, user_id: int) -> None:
    """Remove a person's authenticator and recovery codes, audited (people.reset_second_factor decides who
    may); in the caller's transaction."""
    factor = db.session.get(SecondFactor, user_id)
    if factor is None:
        raise SecondFactorUnknown()
    db.session.delete(factor)
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    audit.record(actor, "second_factor.reset", "user", user_id,
                 before={"confirmed_at": clock.iso(factor.confirmed_at) if factor.confirmed_at else None})


def _factor_for_update(user_id: int) -> SecondFactor | None:
    return db.session.execute(sa.select(SecondFactor).where(SecondFactor.user_id == user_id)
                              .with_for_update()).scalar_one_or_none()


def _check_locked(factor: SecondFactor) -> None:
    now = clock.now()
    if factor.locked_until is not None and factor.locked_until > now:
        seconds = int((factor.locked_until - now).total_seconds()) + 1
        raise SecondFactorLocked(retry_after=seconds, minutes=-(-seconds // 60))


def _check(factor: SecondFactor, code: str) -> None:
    _check_locked(factor)
    step = _matching_step(factor, code.strip()) if code.strip().isdigit() else None
    if step is None:
        _failed(factor)
    factor.last_step, factor.failures, factor.locked_until = step, 0, None


def _failed(factor: SecondFactor):
    """Count a wrong code (committed: the caller's transaction ends with the refusal) and refuse it."""
    factor.failures += 1
    if factor.failures >= MAX_FAILURES:
        factor.failures, factor.locked_until = 0, clock.now() + LOCK
    db.session.commit()
    raise SecondFactorCodeWrong()


def _recovery_code() -> str:
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    raw = "".join(secrets.choice(alphabet) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()
