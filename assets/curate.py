"""Assets of the curate stage (filled in by its issue)."""
ASSETS: list = []
CHECKS: list = []
