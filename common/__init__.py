"""Small Dagster-free utilities shared by the libraries and the assets (progress, generated docs)."""
