"""The error catalogues (service/errors.py's bases, service/platform_errors.py, each service/<domain>/errors.py):
every error code is defined once, by one class, with a Chinese and an English message; no other module of
service/ or api/ builds an error with its code or messages inline."""
from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import service
from service.errors import DomainError

ROOT = Path(__file__).resolve().parents[2]

# The classes an error is built from when it is not a catalogue's.
BASES = {"DomainError", "InvalidInput", "NotFound", "Forbidden", "Unauthorized", "Conflict", "Unavailable",
         "RateLimited"}


def catalogue_modules() -> list:
    names = ["service.errors", "service.platform_errors"]
    names += sorted(info.name for info in pkgutil.walk_packages(service.__path__, "service.")
                    if info.name.endswith(".errors") and info.name != "service.errors")
    return [importlib.import_module(name) for name in names]


def error_classes() -> list[type[DomainError]]:
    return [value for module in catalogue_modules() for value in vars(module).values()
            if isinstance(value, type) and issubclass(value, DomainError) and value.__module__ == module.__name__]


def test_the_catalogues_are_found():
    names = {module.__name__ for module in catalogue_modules()}
    assert {"service.errors", "service.platform_errors"} <= names
    assert len(error_classes()) > 50


def test_every_code_is_defined_by_exactly_one_class():
    """A class that sets ``code`` defines it; a subclass that keeps it (another message, another status)
    is a variant of the same error."""
    defined: dict[str, list[str]] = {}
    for cls in error_classes():
        if "code" in vars(cls):
            defined.setdefault(cls.code, []).append(f"{cls.__module__}.{cls.__qualname__}")
    twice = {code: classes for code, classes in defined.items() if len(classes) > 1}
    assert not twice, twice
    for cls in error_classes():
        assert cls.code in defined, cls


@pytest.mark.parametrize("cls", error_classes(), ids=lambda cls: f"{cls.__module__}.{cls.__qualname__}")
def test_every_error_has_both_messages(cls):
    assert isinstance(cls.zh, str) and cls.zh.strip()
    assert isinstance(cls.en, str) and cls.en.strip()
    assert isinstance(cls.code, str) and cls.code.strip()


def _catalogue_paths() -> set[Path]:
    return {Path(module.__file__).resolve() for module in catalogue_modules()}


def _inline_errors(path: Path) -> list[str]:
    """Calls in ``path`` that build an error's code or messages inline: ``code=``/``zh=``/``en=`` given as
    keywords, or a message given as a string to one of the base classes."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
        keywords = {keyword.arg for keyword in node.keywords}
        literal = [arg for arg in node.args if isinstance(arg, ast.JoinedStr)
                   or (isinstance(arg, ast.Constant) and isinstance(arg.value, str))]
        if name == "InvalidInput" and node.args and node.args[0] in literal:
            literal.remove(node.args[0])  # its field
        if keywords & {"zh", "en"} or (name in BASES and ("code" in keywords or literal)):
            found.append((node.lineno, f"{path.relative_to(ROOT)}:{node.lineno} {name}(...)"))
    return [where for _, where in sorted(found)]


def test_no_module_builds_an_error_inline():
    catalogues = _catalogue_paths()
    found = []
    for top in ("service", "api"):
        for path in sorted((ROOT / top).rglob("*.py")):
            if path.resolve() in catalogues:
                continue
            found += _inline_errors(path)
    assert not found, "raise a class of the error catalogue instead:\n" + "\n".join(found)
