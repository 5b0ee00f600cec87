"""Assets of the align stage (filled in by its issue)."""
ASSETS: list = []
CHECKS: list = []
