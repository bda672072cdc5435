"""Version 1 of the REST API: one thin blueprint per domain."""
