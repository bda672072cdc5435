"""The shape of the code, as contracts: the layers, no import circles, the platform never imports or names a
domain, domains import each other only through the modules they declare, and every sweep is scheduled.

The import contracts are checked by import-linter (on grimp's graph, imports inside functions included); they
are written from the domain registry, so a new domain is held to them without an edit here.
"""
from __future__ import annotations

import inspect
import io
import tokenize
from pathlib import Path

import grimp
import pytest
from importlinter.cli import lint_imports

from jobs.runner import all_jobs
from models.base import Base
from service import registry

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("api", "jobs", "data", "service", "models", "config")
ENTRY_POINTS = ("manage.py", "wsgi.py")  # above every layer: they may import any package


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, cache_dir=None)


def domain_roots(domain: registry.Domain) -> list[str]:
    return [domain.module_name(layer) for layer in registry.LAYERS]


def owned(module: str, roots: list[str]) -> bool:
    return any(module == root or module.startswith(root + ".") for root in roots)


def platform_modules(graph) -> list[str]:
    roots = [root for domain in registry.domains() for root in domain_roots(domain)]
    return sorted(m for m in graph.modules if not owned(m, roots))


def contracts(graph) -> str:
    """The import-linter configuration, written from the registry."""
    domains = registry.domains()
    present = set(graph.modules)
    all_roots = [r for d in domains for r in domain_roots(d) if r in present]
    platform = platform_modules(graph)
    # A package that holds domains' modules (api.v1, service…) is checked as a module of its own: its
    # __init__ must not import them either, but its descendants are not the platform's.
    holders = [m for m in platform if any(r.startswith(m + ".") for r in all_roots)]
    domain_modules = sorted(m for m in present if owned(m, all_roots))
    text = [
        "[importlinter]",
        "root_packages =\n    " + "\n    ".join(PACKAGES),
        "include_external_packages = True",
        "",
        "[importlinter:contract:no-flask-below-api]",
        "name = the service and the models never import Flask (the api layer speaks HTTP)",
        "type = forbidden",
        "allow_indirect_imports = True",
        "source_modules =\n    service\n    models",
        "forbidden_modules =\n    flask\n    werkzeug\n    flask_smorest\n    flask_jwt_extended",
        "",
        "[importlinter:contract:layers]",
        "name = api | jobs | data, then service, then models, then config",
        "type = layers",
        "layers =\n    api | jobs | data\n    service\n    models\n    config",
        "",
        "[importlinter:contract:no-circles]",
        "name = no package depends on a sibling that depends on it",
        "type = acyclic_siblings",
        "ancestors =\n    " + "\n    ".join(PACKAGES),
        "",
        "[importlinter:contract:platform]",
        "name = the platform never imports a domain",
        "type = forbidden",
        "source_modules =\n    " + "\n    ".join(m for m in platform if m not in holders),
        "forbidden_modules =\n    " + "\n    ".join(all_roots),
        "",
        "[importlinter:contract:platform-packages]",
        "name = no package holding domains imports one in its own module",
        "type = forbidden",
        "as_packages = False",
        "allow_indirect_imports = True",
        "source_modules =\n    " + "\n    ".join(holders),
        "forbidden_modules =\n    " + "\n    ".join(domain_modules),
        "",
    ]
    for domain in domains:
        others = [r for d in domains if d is not domain for r in domain_roots(d) if r in present]
        own = [r for r in domain_roots(domain) if r in present]
        if not others or not own:
            continue
        ignores = [f"{importer} -> {used}" for used in domain.uses for root in own
                   for importer in (root, f"{root}.**")]
        text += [
            f"[importlinter:contract:{domain.name}]",
            f"name = {domain.name} imports other domains only through {', '.join(domain.uses) or 'nothing'}",
            "type = forbidden",
            "allow_indirect_imports = True",
            "unmatched_ignore_imports_alerting = none",
            "source_modules =\n    " + "\n    ".join(own),
            "forbidden_modules =\n    " + "\n    ".join(others),
        ]
        if ignores:
            text.append("ignore_imports =\n    " + "\n    ".join(ignores))
        text.append("")
    return "\n".join(text)


def test_the_import_contracts_hold(graph, tmp_path, monkeypatch, capsys):
    config = tmp_path / "importlinter.ini"
    config.write_text(contracts(graph), encoding="utf-8")
    monkeypatch.chdir(ROOT)
    result = lint_imports(config_filename=str(config), no_cache=True)
    report = capsys.readouterr().out
    assert result == 0, report
    assert "Contracts: " in report and " broken" in report and "0 broken" in report, report


def test_no_module_is_in_an_import_circle(graph):
    """Module by module (imports inside functions count): no strongly connected group of two or more."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(start: str) -> None:  # Tarjan's algorithm, iterative
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph.find_modules_directly_imported_by(nxt)))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        circles.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    assert circles == []


def test_the_contracts_catch_a_platform_import_of_a_domain(graph, tmp_path, monkeypatch, capsys):
    """The platform contract can fail: an import of a domain from a platform module breaks it."""
    domain = registry.domains()[0]
    graph.add_import(importer="service.people", imported=domain.module_name("service"), line_number=1,
                     line_contents=f"import {domain.module_name('service')}")
    config = tmp_path / "importlinter.ini"
    config.write_text(contracts(graph), encoding="utf-8")
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(grimp, "build_graph", lambda *args, **kwargs: graph)
    assert lint_imports(config_filename=str(config), no_cache=True) == 1
    assert "the platform never imports a domain BROKEN" in capsys.readouterr().out


# --- the registry --------------------------------------------------------------------------------------------

def test_every_domain_package_is_registered_and_has_the_common_modules():
    names = [d.name for d in registry.domains()]
    packages = sorted(p.name for p in (ROOT / "service").iterdir() if (p / "__init__.py").exists())
    assert names == packages
    for domain in registry.domains():
        for module in ("access", "queries", "workflow", "rules", "errors"):
            assert (ROOT / "service" / domain.name / f"{module}.py").exists(), (domain.name, module)
        assert hasattr(__import__(f"service.{domain.name}.rules", fromlist=["current"]), "current")
        assert domain.module("models") is not None and domain.module("api") is not None
        assert domain.part("api", "BLUEPRINTS"), domain.name


def test_every_sweep_is_scheduled():
    """A public function of a domain's reminders module that no job runs would never run."""
    scheduled = {inspect.unwrap(job.func) for job in all_jobs()}
    missing = []
    for domain in registry.domains():
        try:
            reminders = __import__(f"service.{domain.name}.reminders", fromlist=["_"])
        except ModuleNotFoundError:
            continue
        for name, fn in inspect.getmembers(reminders, inspect.isfunction):
            if fn.__module__ == reminders.__name__ and not name.startswith("_") and inspect.unwrap(fn) not in scheduled:
                missing.append(f"{reminders.__name__}.{name}")
    assert missing == []


def test_an_unscheduled_sweep_is_caught(monkeypatch):
    domain = next(d for d in registry.domains() if d.module("jobs") is not None and d.module("jobs").JOBS)
    jobs = domain.module("jobs")
    monkeypatch.setattr(jobs, "JOBS", jobs.JOBS[1:])
    with pytest.raises(AssertionError):
        test_every_sweep_is_scheduled()


# --- the platform names no domain --------------------------------------------------------------------------

def domain_words() -> set[str]:
    """What naming a domain looks like in code: its name, its layers' modules, its model classes."""
    words = set()
    for domain in registry.domains():
        words |= {domain.name, *domain_roots(domain)}
        models = domain.module("models")
        words |= {name for name, value in vars(models).items()
                  if isinstance(value, type) and issubclass(value, Base) and value.__module__ == models.__name__}
        words |= set(domain.scope_types) | set(domain.roles)
    return words


def _string_value(literal: str) -> str:
    """The text of a string literal (prefixes and quotes removed; an f-string's text as written)."""
    body = literal.lstrip("rRbBuUfF")
    quote = body[:3] if body[:3] in ('"""', "'''") else body[:1]
    return body[len(quote):len(body) - len(quote)]


def code_tokens(path: Path):
    """The names and strings of a module's code: comments and docstrings left out."""
    tokens = list(tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline))
    previous = tokenize.NEWLINE
    for token in tokens:
        if token.type == tokenize.STRING and previous in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
                                                           tokenize.NL):
            continue  # a docstring (a string standing alone as a statement)
        if token.type == tokenize.NAME:
            yield token.string
        elif token.type == tokenize.STRING:
            yield _string_value(token.string)
        if token.type not in (tokenize.COMMENT, tokenize.NL):
            previous = token.type


def test_no_platform_module_names_a_domain(graph):
    words = domain_words()
    naming = {}
    paths = {}
    for module in platform_modules(graph):
        path = ROOT / Path(*module.split("."))
        paths[module] = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    paths.update({name: ROOT / name for name in ENTRY_POINTS})
    for module, path in paths.items():
        found = sorted({token for token in code_tokens(path) if token in words})
        if found:
            naming[module] = found
    assert naming == {}


# --- simple functions ----------------------------------------------------------------------------------------

MOST_BRANCHES = 30  # cyclomatic complexity; above it a function is split into named steps


def test_no_function_is_too_complex():
    from radon.complexity import cc_visit

    too_complex = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for block in cc_visit(path.read_text(encoding="utf-8")):
                for item in (block, *getattr(block, "methods", ())):
                    if item.complexity > MOST_BRANCHES:
                        too_complex.append(f"{path.relative_to(ROOT)}:{item.lineno} {item.name} {item.complexity}")
    assert sorted(set(too_complex)) == []
