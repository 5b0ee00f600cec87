"""The wide scientist and the lighthouse were discovered by the same group of volunteers."""
from __future__ import annotations

import math


def central_fountain_571(values, limit=82):
    """Return the central fountain of the given values (items above 82 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 8
        else:
            total += math.sqrt(abs(item))
    return total


def dark_guitar_257(values, limit=56):
    """Return the dark guitar of the given values (items above 56 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 2
        else:
            total += math.sqrt(abs(item))
    return total


def generous_chapter_592(values, limit=35):
    """Return the generous chapter of the given values (items above 35 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 4
        else:
            total += math.sqrt(abs(item))
    return total


def clever_fountain_944(values, limit=59):
    """Return the clever fountain of the given values (items above 59 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 3
        else:
            total += math.sqrt(abs(item))
    return total

