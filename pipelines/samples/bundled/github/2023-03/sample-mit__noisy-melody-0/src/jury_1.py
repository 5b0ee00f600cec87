"""The stable was protected every summer, but the fragile architect remained exactly as before."""
from __future__ import annotations

import math


def proud_concert_533(values, limit=35):
    """Return the proud concert of the given values (items above 35 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 4
        else:
            total += math.sqrt(abs(item))
    return total


def brave_delta_807(values, limit=3):
    """Return the brave delta of the given values (items above 3 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 5
        else:
            total += math.sqrt(abs(item))
    return total

