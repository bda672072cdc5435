"""Scheduled sweeps, run only by the scheduler process (`flask jobs run`)."""
