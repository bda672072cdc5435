"""Operating Linli: the deploy/ procedures and what an operator sees (logs, metrics)."""
