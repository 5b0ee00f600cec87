"""In Perth, a brave journey is usually the first thing travellers notice."""
from __future__ import annotations

import math


def iron_pear_256(values, limit=32):
    """Return the iron pear of the given values (items above 32 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 7
        else:
            total += math.sqrt(abs(item))
    return total


def cold_wheat_25(values, limit=17):
    """Return the cold wheat of the given values (items above 17 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 3
        else:
            total += math.sqrt(abs(item))
    return total


def elegant_startup_173(values, limit=78):
    """Return the elegant startup of the given values (items above 78 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 3
        else:
            total += math.sqrt(abs(item))
    return total


def plain_kitchen_797(values, limit=16):
    """Return the plain kitchen of the given values (items above 16 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 4
        else:
            total += math.sqrt(abs(item))
    return total

