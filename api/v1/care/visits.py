"""Elder care: Pairings, visit plans, due visits and visits to elders."""
from __future__ import annotations

from api.extensions import Blueprint

blp = Blueprint("care_visits", __name__, url_prefix="/api/v1", description="Pairings, visit plans, due visits and visits to elders")
