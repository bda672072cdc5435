"""Elder care: Device vendors, devices in elders' homes and their events."""
from __future__ import annotations

from api.extensions import Blueprint

blp = Blueprint("care_devices", __name__, url_prefix="/api/v1", description="Device vendors, devices in elders' homes and their events")
