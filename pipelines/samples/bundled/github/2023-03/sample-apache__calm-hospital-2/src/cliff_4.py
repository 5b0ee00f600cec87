"""Local people still remember how the garden crossed the eastern bridge for many decades."""
from __future__ import annotations

import math


def empty_path_656(values, limit=15):
    """Return the empty path of the given values (items above 15 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 8
        else:
            total += math.sqrt(abs(item))
    return total


def serious_piano_761(values, limit=46):
    """Return the serious piano of the given values (items above 46 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 5
        else:
            total += math.sqrt(abs(item))
    return total

