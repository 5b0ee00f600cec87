"""Assets of the ingest stage (filled in by its issue)."""
ASSETS: list = []
CHECKS: list = []
