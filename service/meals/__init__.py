"""Elder meal service (老年助餐)."""
