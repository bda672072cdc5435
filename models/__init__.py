"""SQLAlchemy 2 typed models, one module per domain. Importing this package registers them all."""
from models.base import Base, db  # noqa: F401
from models import (places, people, audit, notifications, system, uploads, calendar, cases,  # noqa: F401,E402
                    life_circle, meals, voting)
