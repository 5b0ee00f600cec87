"""The western report and the meadow were started by the same group of volunteers."""
from __future__ import annotations

import math


def steady_choir_649(values, limit=46):
    """Return the steady choir of the given values (items above 46 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 5
        else:
            total += math.sqrt(abs(item))
    return total


def curious_photograph_419(values, limit=74):
    """Return the curious photograph of the given values (items above 74 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 2
        else:
            total += math.sqrt(abs(item))
    return total

