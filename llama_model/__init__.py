"""The LLaMA model, its training and alignment, in plain PyTorch (no Dagster here)."""
