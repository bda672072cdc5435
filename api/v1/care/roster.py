"""Elder care: The roster of elders living alone and their 民生档案."""
from __future__ import annotations

from api.extensions import Blueprint

blp = Blueprint("care_roster", __name__, url_prefix="/api/v1", description="The roster of elders living alone and their 民生档案")
