"""SQLAlchemy 2 typed models, one module per domain (``models/<name>.py``) beside the platform's.
Importing this package registers them all: every module in it is imported, so a new domain's models need
no entry here."""
import importlib
import pkgutil

from models.base import Base, db  # noqa: F401

for _module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    importlib.import_module(f"{__name__}.{_module.name}")
