"""Every message in an answer in the reader's language: the one place that decides it.

``language()`` reads ``Accept-Language`` (Chinese unless the reader prefers English). ``localize`` turns
whatever holds messages (an error envelope's ``errors``, an import report) into that language:

- a ``service.i18n.Text`` (a message the project wrote, bilingual where it was raised) gives its text
  in the language;
- a plain string is one of marshmallow's or webargs' English messages (a default message or a
  validator's template with its parameters filled): in Chinese it comes from the catalogue
  ``config/messages.yaml``; a string the catalogue does not know is shown as written, never refused;
- dicts and lists are walked, keys (field names, list indexes) kept, so nested schemas, list items and
  ``_schema`` messages are translated as top-level ones are; other values (numbers, booleans) pass.
"""
from __future__ import annotations

import re
from pathlib import Path

import yaml
from flask import has_request_context, request

from config import ROOT
from service.i18n import Text

CATALOGUE = ROOT / "config" / "messages.yaml"
_PARAMETER = re.compile(r"\\\{(\w+)\\\}")  # a {name} in re.escape()d text
LISTED = ("choices", "values")              # parameters that are lists written "a, b, c"


class CatalogueError(RuntimeError):
    """The catalogue is missing or malformed; the message names the entry."""


def load(path: Path = CATALOGUE) -> tuple[dict[str, str], list[tuple[re.Pattern, str]]]:
    """The exact messages (English → Chinese) and the templates (a pattern of the English → the Chinese)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogueError(f"{path}: {exc}") from None
    entries = data.get("messages") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise CatalogueError(f"{path}: needs a list 'messages'")
    exact: dict[str, str] = {}
    templates: list[tuple[re.Pattern, str]] = []
    for index, entry in enumerate(entries):
        where = f"{path}: messages[{index}]"
        if not (isinstance(entry, dict) and set(entry) == {"en", "zh"}
                and all(isinstance(entry[k], str) and entry[k] for k in ("en", "zh"))):
            raise CatalogueError(f"{where}: needs exactly the texts en and zh")
        en, zh = entry["en"], entry["zh"]
        pattern = _PARAMETER.sub(lambda m: f"(?P<{m[1]}>.+?)", re.escape(en))
        names = set(re.findall(r"\{(\w+)\}", en))
        if not set(re.findall(r"\{(\w+)\}", zh)) <= names:
            raise CatalogueError(f"{where}: the Chinese names a parameter the English does not have")
        if en in exact or any(p.pattern == pattern for p, _ in templates):
            raise CatalogueError(f"{where}: {en!r} is listed twice")
        if names:
            templates.append((re.compile(pattern, re.DOTALL), zh))
        else:
            exact[en] = zh
    return exact, templates


_EXACT, _TEMPLATES = load()


def language() -> str:
    """``en`` when the request's Accept-Language prefers English, else ``zh`` (also outside a request).
    Decided once per request: every label and message of an answer asks."""
    if not has_request_context():
        return "zh"
    environ = request.environ
    lang = environ.get("linli.language")
    if lang is None:
        try:
            best = request.accept_languages.best_match(["zh", "zh-CN", "en"], default="zh")
        except ValueError:  # a header werkzeug cannot parse
            best = "zh"
        lang = environ["linli.language"] = "en" if best and best.startswith("en") else "zh"
    return lang


def translate(text: str, lang: str) -> str:
    """One message in ``lang``."""
    if isinstance(text, Text):
        return text.in_(lang)
    if lang == "en":
        return text
    found = _EXACT.get(text)
    if found is not None:
        return found
    for pattern, zh in _TEMPLATES:
        match = pattern.fullmatch(text)
        if match:
            return zh.format(**{name: "、".join(value.split(", ")) if name in LISTED else value
                                for name, value in match.groupdict().items()})
    return text


def localize(value, lang: str | None = None):
    """``value`` with every message in it in ``lang`` (the request's language when not given)."""
    lang = lang or language()
    if isinstance(value, str):
        return translate(value, lang)
    if isinstance(value, dict):
        return {key: localize(item, lang) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [localize(item, lang) for item in value]
    return value
