"""Personal data: encryption at rest, keyed hashes for lookup, and masking."""
from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken

# The encryption keys by version: the current one encrypts, every one configured decrypts (a rotation in
# progress, ``service.key_rotation``). A value is written as ``v<version>:<Fernet token>``; one written before
# keys had versions (no prefix) is version 1's.
_keys: dict[int, Fernet] = {}
_current = 1
_hash_key: bytes = b""
_mac_key: bytes = b""
_PREFIX = "v"


def _fernet(secret: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(("linli-pii:" + secret).encode()).digest()))


def configure(secret: str, *, version: int = 1, old_keys: dict[int, str] | None = None,
              hash_secret: str | None = None) -> None:
    """The current key (``secret``, of ``version``), the older keys still readable, and the keys of lookup
    hashes and MACs: from ``hash_secret``, else version 1's key (lookups must not change with a rotation)."""
    global _keys, _current, _hash_key, _mac_key
    old_keys = dict(old_keys or {})
    if version in old_keys:
        raise ValueError(f"key version {version} is both current and old")
    _keys = {version: _fernet(secret), **{v: _fernet(k) for v, k in old_keys.items()}}
    _current = version
    base = hash_secret or old_keys.get(1) or secret
    _hash_key = hashlib.sha256(("linli-pii-hash:" + base).encode()).digest()
    _mac_key = hashlib.sha256(("linli-mac:" + base).encode()).digest()


def current_version() -> int:
    return _current


def current_prefix() -> str:
    """How every value encrypted with the current key begins (a rotation looks for the others)."""
    return f"{_PREFIX}{_current}:"


def _split(token: str) -> tuple[int, str]:
    """(the key version, the Fernet token) of a stored value; one without a prefix is version 1's."""
    head, sep, body = token.partition(":")
    if sep and head.startswith(_PREFIX) and head[1:].isdigit():
        return int(head[1:]), body
    return 1, token


def encrypt(value: str | None) -> str | None:
    if value is None:
        return None
    assert _keys, "privacy.configure() not called"
    return current_prefix() + _keys[_current].encrypt(value.encode()).decode()


def decrypt(token: str | None) -> str | None:
    """The value, or None when no configured key reads it."""
    if token is None:
        return None
    assert _keys, "privacy.configure() not called"
    version, body = _split(token)
    key = _keys.get(version)
    if key is None:
        return None
    try:
        return key.decrypt(body.encode()).decode()
    except InvalidToken:
        return None


def lookup_hash(value: str | None) -> str | None:
    if value is None:
        return None
    normalised = value.strip().upper()
    return hmac.new(_hash_key, normalised.encode(), hashlib.sha256).hexdigest()


def mac(purpose: str, data: bytes) -> bytes:
    """A keyed digest of ``data`` for ``purpose`` (e.g. a page cursor the server hands out and
    must recognise when it comes back); a different purpose gives an unrelated digest."""
    assert _mac_key, "privacy.configure() not called"
    return hmac.new(_mac_key, purpose.encode() + b"\0" + data, hashlib.sha256).digest()


def mask_phone(phone: str | None) -> str | None:
    """138****5678"""
    if not phone:
        return phone
    if len(phone) < 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def mask_id_number(number: str | None) -> str | None:
    """310***********123X — the region's first digits and the last four only."""
    if not number:
        return number
    if len(number) <= 7:
        return "*" * len(number)
    return number[:3] + "*" * (len(number) - 7) + number[-4:]


def mask_name(name: str | None) -> str | None:
    """张** / Li*** — the family name (first character) only."""
    if not name:
        return name
    if len(name) == 1:
        return "*"
    return name[0] + "*" * (len(name) - 1)
