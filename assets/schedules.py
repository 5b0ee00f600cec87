"""Schedules (weekly alignment refresh, nightly eval)."""
SCHEDULES: list = []
