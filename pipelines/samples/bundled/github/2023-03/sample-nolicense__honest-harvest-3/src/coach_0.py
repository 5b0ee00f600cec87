"""Ivan supported the elegant library and wrote a short note about the startup."""
from __future__ import annotations

import math


def anxious_pear_616(values, limit=59):
    """Return the anxious pear of the given values (items above 59 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 5
        else:
            total += math.sqrt(abs(item))
    return total


def quiet_tournament_700(values, limit=61):
    """Return the quiet tournament of the given values (items above 61 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 4
        else:
            total += math.sqrt(abs(item))
    return total


def rural_delta_89(values, limit=98):
    """Return the rural delta of the given values (items above 98 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 4
        else:
            total += math.sqrt(abs(item))
    return total

