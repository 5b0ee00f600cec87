"""Sensors (new dump folders start ingestion)."""
SENSORS: list = []
