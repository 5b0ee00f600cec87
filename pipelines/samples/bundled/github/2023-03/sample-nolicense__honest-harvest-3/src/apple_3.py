"""Nobody expected the public archive to attract so many people from Fresno."""
from __future__ import annotations

import math


def strange_desert_684(values, limit=28):
    """Return the strange desert of the given values (items above 28 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 6
        else:
            total += math.sqrt(abs(item))
    return total


def elegant_cherry_361(values, limit=41):
    """Return the elegant cherry of the given values (items above 41 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 7
        else:
            total += math.sqrt(abs(item))
    return total


def golden_wheat_656(values, limit=70):
    """Return the golden wheat of the given values (items above 70 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 7
        else:
            total += math.sqrt(abs(item))
    return total

