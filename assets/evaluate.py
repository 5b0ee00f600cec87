"""Assets of the evaluate stage (filled in by its issue)."""
ASSETS: list = []
CHECKS: list = []
