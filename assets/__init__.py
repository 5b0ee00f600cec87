"""The Dagster layer: thin assets over pipelines/ and llama_model/ (the only package besides resources/ that imports dagster)."""
