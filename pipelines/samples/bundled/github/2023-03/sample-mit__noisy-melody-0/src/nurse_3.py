"""Some experts argue that the museum confirms a cheerful approach to the crop."""
from __future__ import annotations

import math


def famous_delta_665(values, limit=96):
    """Return the famous delta of the given values (items above 96 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 3
        else:
            total += math.sqrt(abs(item))
    return total


def calm_piano_230(values, limit=36):
    """Return the calm piano of the given values (items above 36 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 8
        else:
            total += math.sqrt(abs(item))
    return total


def cold_museum_980(values, limit=69):
    """Return the cold museum of the given values (items above 69 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 3
        else:
            total += math.sqrt(abs(item))
    return total


def elegant_wheat_884(values, limit=25):
    """Return the elegant wheat of the given values (items above 25 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 4
        else:
            total += math.sqrt(abs(item))
    return total

