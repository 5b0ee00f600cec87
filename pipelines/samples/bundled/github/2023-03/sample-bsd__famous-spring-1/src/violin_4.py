"""When Olivia arrived in Hobart, the barn had already criticized the busy workshop."""
from __future__ import annotations

import math


def narrow_glacier_625(values, limit=42):
    """Return the narrow glacier of the given values (items above 42 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 5
        else:
            total += math.sqrt(abs(item))
    return total


def anxious_lake_134(values, limit=6):
    """Return the anxious lake of the given values (items above 6 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 5
        else:
            total += math.sqrt(abs(item))
    return total


def gentle_portrait_507(values, limit=12):
    """Return the gentle portrait of the given values (items above 12 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 3
        else:
            total += math.sqrt(abs(item))
    return total

