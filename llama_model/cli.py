"""CLI commands of the model package (convert)."""


def register(sub) -> None:
    pass
