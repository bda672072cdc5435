"""The labels of the codes in answers: ``"status": "in_progress"`` comes with ``"status_name": "办理中"``
(``"Processing"`` when the reader prefers English); a list of codes with ``<field>_names`` in the same order.

The labels are data, one catalogue per domain: config/labels/<domain>.yaml maps each coded field to its
codes and their ``[中文, English]`` labels; a field that shares another's codes names it instead
(``from_status: status``). A domain that adds codes to a field of another catalogue (a role or a scope type
it brings to people) lists them in its own file under ``<catalogue>.<field>``, e.g. ``people.role:`` in
meals.yaml. A catalogue is read once per process and checked as it is read. A code a catalogue does not
know is shown as itself (a test keeps every code of the models in a catalogue).
"""
from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path

import yaml

from config import ROOT

LABELS_DIR = ROOT / "config" / "labels"


class CatalogueError(RuntimeError):
    """A catalogue is missing or malformed; the message names the file and the problem."""


@cache
def catalogue(domain: str) -> dict[str, dict[str, tuple[str, str]]]:
    """field → code → (zh, en) for one domain, aliases resolved."""
    path = LABELS_DIR / f"{domain}.yaml"
    if not path.exists():
        raise CatalogueError(f"{path}: no such catalogue")
    fields = _checked(path, _read(path))
    for other in LABELS_DIR.glob("*.yaml"):  # codes other domains add to this catalogue's fields
        for key, codes in _read(other).items():
            target, _, field = str(key).partition(".")
            if target == domain and field:
                if field not in fields:
                    raise CatalogueError(f"{other}: {key} adds to a field {domain} does not have")
                fields[field].update(_checked(other, {field: codes})[field])  # in place: its aliases share it
    return fields


@cache
def _read(path: Path) -> dict:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise CatalogueError(f"{path}: the top level must map fields to their codes")
    return data


def _checked(path: Path, data) -> dict:
    fields: dict = {}
    for field, codes in data.items():
        if isinstance(codes, str) or "." in str(field):
            continue
        if not isinstance(codes, dict) or not codes:
            raise CatalogueError(f"{path}: {field} must map codes to [中文, English] or name another field")
        for code, pair in codes.items():
            if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(t, str) and t for t in pair)):
                raise CatalogueError(f"{path}: {field}.{code} must be [中文, English]")
        fields[field] = {str(code): (zh, en) for code, (zh, en) in codes.items()}
    for field, other in data.items():
        if isinstance(other, str):
            if other not in fields:
                raise CatalogueError(f"{path}: {field} names {other}, which has no codes")
            fields[field] = fields[other]
    return fields


def name(domain: str, field: str, code, lang: str = "zh") -> str | None:
    """The label of ``code`` in ``field`` of ``domain``'s catalogue; the code itself if unknown."""
    if code is None:
        return None
    pair = catalogue(domain).get(field, {}).get(str(code))
    if pair is None:
        return str(code)
    return pair[1] if lang == "en" else pair[0]


def names(domain: str, field: str, codes: Iterable, lang: str = "zh") -> list[str]:
    return [name(domain, field, code, lang) for code in codes]


def attach(item: dict, domain: str, fields: Iterable[str], lang: str = "zh") -> dict:
    """Add ``<field>_name`` (``<field>_names`` for a list) beside each of ``fields`` present in ``item``."""
    for field in fields:
        if field not in item:
            continue
        value = item[field]
        if isinstance(value, (list, tuple)):
            item[f"{field}_names"] = names(domain, field, value, lang)
        else:
            item[f"{field}_name"] = name(domain, field, value, lang)
    return item


def codes(domain: str, field: str) -> set[str]:
    return set(catalogue(domain).get(field, {}))


def domains() -> list[str]:
    return sorted(path.stem for path in LABELS_DIR.glob("*.yaml"))
