"""Request guards that apply to every endpoint."""
from __future__ import annotations

from flask import Flask, request

from service.errors import InvalidInput


def _find_nul(value, path: str) -> str | None:
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _find_nul(key, path) or _find_nul(item, f"{path}.{key}" if path else str(key))
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _find_nul(item, f"{path}.{index}" if path else str(index))
            if found is not None:
                return found
    return None


def reject_nul_characters():
    """NUL characters are never valid text (PostgreSQL refuses them): a 422 naming the field."""
    for key, value in request.args.items(multi=True):
        if "\x00" in key or "\x00" in value:
            raise InvalidInput(key.replace("\x00", ""), "输入包含无效字符", "The input contains a NUL character",
                               code="validation.nul_character")
    if request.is_json:
        data = request.get_data(cache=True)
        if b"\x00" in data or b"\\u0000" in data.lower():
            payload = request.get_json(silent=True)
            field = _find_nul(payload, "") if payload is not None else "json"
            raise InvalidInput(field or "json", "输入包含无效字符", "The input contains a NUL character",
                               code="validation.nul_character")


def register(app: Flask) -> None:
    app.before_request(reject_nul_characters)
