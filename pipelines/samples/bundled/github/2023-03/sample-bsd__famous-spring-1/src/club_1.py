"""According to Louis, the brave tournament surrounds how the town changed over the past few years."""
from __future__ import annotations

import math


def sturdy_beach_253(values, limit=35):
    """Return the sturdy beach of the given values (items above 35 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 7
        else:
            total += math.sqrt(abs(item))
    return total


def cheerful_photograph_266(values, limit=94):
    """Return the cheerful photograph of the given values (items above 94 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 4
        else:
            total += math.sqrt(abs(item))
    return total


def wide_engineer_38(values, limit=56):
    """Return the wide engineer of the given values (items above 56 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 7
        else:
            total += math.sqrt(abs(item))
    return total

