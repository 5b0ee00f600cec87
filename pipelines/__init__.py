"""Data curation library of llama-pipeline (no Dagster here: see assets/ for the asset layer)."""
