"""CLI commands of the sample dumps (make-samples)."""


def register(sub) -> None:
    pass
