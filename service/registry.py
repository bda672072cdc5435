"""The domains of Linli, each declared once in its own package.

A domain (cases, meals, voting, …) is a package ``service/<name>/`` whose ``__init__.py`` holds one
``DOMAIN = Domain(...)``: what the domain brings that the platform must know of. Everything else is found
by the domain's name, the same in every layer:

=====================  ==============================================================================
``models/<name>.py``   its tables (the models package imports every module it holds)
``service/<name>/``    ``access``, ``queries``, ``workflow``, ``rules`` (``load``/``current``),
                       ``reminders`` (sweeps), ``errors`` (its error catalogue), ``personal_data`` (what it
                       holds about a person: ``export``/``erase``, service/personal_data.py), and what it
                       needs besides
``api/v1/<name>``      its views; ``BLUEPRINTS`` lists the blueprints to register
``api/schemas/<name>`` its request and answer schemas
``jobs/<name>.py``     ``JOBS`` (its sweeps on their triggers) and optionally ``CLI`` (a click group)
``data/demo/<name>.py`` ``load(spec) -> int`` (its demo data; ``COUNTS`` names tables to count)
``config/rules/``      ``<name>.yaml``: the rules operators tune (``notifications:`` its message templates)
``config/labels/``     ``<name>.yaml``: the Chinese and English names of its codes
=====================  ==============================================================================

The platform (the app factory, the jobs runner, the demo loader, people's roles) iterates
:func:`domains` and imports those modules by name; it never imports a domain's module itself, so adding a
domain touches no platform file (docs/adding-a-domain.md). ``tests/unit/test_architecture.py`` checks the
layers and that no platform module imports a domain.
"""
from __future__ import annotations

import functools
import importlib
import importlib.util
import pkgutil
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Callable

# Where each layer keeps a domain's module, by the domain's name.
LAYERS = {
    "models": "models.{name}",
    "service": "service.{name}",
    "personal_data": "service.{name}.personal_data",
    "api": "api.v1.{name}",
    "schemas": "api.schemas.{name}",
    "jobs": "jobs.{name}",
    "demo": "data.demo.{name}",
}


@dataclass(frozen=True)
class Domain:
    """What a domain brings to the platform, declared in ``service/<name>/__init__.py``."""

    name: str
    title: str  # its Chinese name, for people reading the registry (``flask domains``)
    # Roles it adds, with the scope types each may be granted on (operator: meal_site). A role another
    # domain or the platform already has gains the scope types listed here.
    roles: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Scope types it adds (kinds of its own objects a role is granted on, e.g. a meal site).
    scope_types: tuple[str, ...] = ()
    # Where its objects lie, for placing audit entries in a street: kind → SELECT street_id … WHERE id = :id.
    locators: dict[str, Any] = field(default_factory=dict)
    # Who may see an upload attached to one of its objects: kind → rule(actor, upload) -> bool.
    upload_rules: dict[str, Callable] = field(default_factory=dict)
    # Called when a new holiday arrangement is loaded: (old, new, arrangement, now) -> count moved.
    on_calendar: Callable | None = None
    # Settings it reads, with their defaults; each may be set in the environment under the same name.
    settings: dict[str, Any] = field(default_factory=dict)
    # Other domains whose demo data its own demo data needs (loaded first).
    demo_after: tuple[str, ...] = ()
    # Other domains' modules it may import (its named public functions), e.g. "service.life_circle.walking".
    uses: tuple[str, ...] = ()

    def module_name(self, layer: str) -> str:
        return LAYERS[layer].format(name=self.name)

    def module(self, layer: str) -> ModuleType | None:
        """The domain's module in ``layer``, or None when it has none (a domain without sweeps has no jobs)."""
        dotted = self.module_name(layer)
        if importlib.util.find_spec(dotted) is None:
            return None
        return importlib.import_module(dotted)

    def part(self, layer: str, attribute: str, default=None):
        module = self.module(layer)
        return getattr(module, attribute, default) if module is not None else default


class RegistryError(RuntimeError):
    """A domain package that declares no domain, or declares it wrongly."""


@functools.cache
def domains() -> tuple[Domain, ...]:
    """Every domain, found as the packages of ``service/`` that declare ``DOMAIN``, in name order."""
    import service

    found = []
    for info in sorted(pkgutil.iter_modules(service.__path__), key=lambda m: m.name):
        if not info.ispkg:
            continue
        package = importlib.import_module(f"service.{info.name}")
        domain = getattr(package, "DOMAIN", None)
        if not isinstance(domain, Domain) or domain.name != info.name:
            raise RegistryError(f"service/{info.name}/__init__.py must declare DOMAIN = Domain({info.name!r}, …)")
        found.append(domain)
    return tuple(found)


def get(name: str) -> Domain:
    for domain in domains():
        if domain.name == name:
            return domain
    raise KeyError(name)


def in_demo_order() -> list[Domain]:
    """The domains ordered so that each comes after the domains its demo data needs."""
    ordered: list[Domain] = []
    placing: set[str] = set()

    def place(domain: Domain) -> None:
        if domain in ordered:
            return
        if domain.name in placing:
            raise RegistryError(f"demo_after of {domain.name} goes round in a circle")
        placing.add(domain.name)
        for name in domain.demo_after:
            place(get(name))
        ordered.append(domain)

    for domain in domains():
        place(domain)
    return ordered


def role_scopes(platform: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """The platform's granted roles with their scope types, with what each domain adds."""
    merged = {role: tuple(scopes) for role, scopes in platform.items()}
    for domain in domains():
        for role, scopes in domain.roles.items():
            merged[role] = merged.get(role, ()) + tuple(s for s in scopes if s not in merged.get(role, ()))
    return merged


def scope_types(platform: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(platform) + tuple(t for domain in domains() for t in domain.scope_types if t not in platform)


def load_rules(directory=None) -> None:
    """Load (and check) every domain's rules from ``config/rules/<name>.yaml``."""
    for domain in domains():
        importlib.import_module(f"{domain.module_name('service')}.rules").load(directory)
