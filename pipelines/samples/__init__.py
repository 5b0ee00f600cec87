"""Bundled sample dumps (real files with attribution plus generated ones with planted ground truth)."""
from __future__ import annotations

from pathlib import Path


def bundled_dumps_dir() -> Path:
    """Folder with one sub-folder per source, shipped inside the package."""
    return Path(__file__).resolve().parent / "bundled"
