"""Owners' assembly voting (业主大会表决)."""
