"""Elder care: Alarms about elders and their ladder."""
from __future__ import annotations

from api.extensions import Blueprint

blp = Blueprint("care_alarms", __name__, url_prefix="/api/v1", description="Alarms about elders and their ladder")
