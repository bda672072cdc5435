"""Personal data: encryption at rest, keyed hashes for lookup, and masking."""
from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken

_fernet: Fernet | None = None
_hash_key: bytes = b""
_mac_key: bytes = b""


def configure(secret: str) -> None:
    """Derive the encryption and hashing keys from the configured secret."""
    global _fernet, _hash_key, _mac_key
    material = hashlib.sha256(("linli-pii:" + secret).encode()).digest()
    _fernet = Fernet(base64.urlsafe_b64encode(material))
    _hash_key = hashlib.sha256(("linli-pii-hash:" + secret).encode()).digest()
    _mac_key = hashlib.sha256(("linli-mac:" + secret).encode()).digest()


def encrypt(value: str | None) -> str | None:
    if value is None:
        return None
    assert _fernet is not None, "privacy.configure() not called"
    return _fernet.encrypt(value.encode()).decode()


def decrypt(token: str | None) -> str | None:
    if token is None:
        return None
    assert _fernet is not None, "privacy.configure() not called"
    try:
        return _fernet.decrypt(token.encode()).decode()
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
