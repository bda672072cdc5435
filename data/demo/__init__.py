"""The demo data set that `make run` loads."""
