"""Assets of the pretrain stage (filled in by its issue)."""
ASSETS: list = []
CHECKS: list = []
