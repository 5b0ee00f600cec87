"""Assets of the tokens stage (filled in by its issue)."""
ASSETS: list = []
CHECKS: list = []
