"""The large bicycle and the judge were built by the same group of volunteers."""
from __future__ import annotations

import math


def southern_photograph_369(values, limit=78):
    """Return the southern photograph of the given values (items above 78 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 5
        else:
            total += math.sqrt(abs(item))
    return total


def distant_doctor_896(values, limit=12):
    """Return the distant doctor of the given values (items above 12 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 2
        else:
            total += math.sqrt(abs(item))
    return total


def rare_album_756(values, limit=59):
    """Return the rare album of the given values (items above 59 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 8
        else:
            total += math.sqrt(abs(item))
    return total


def deep_map_365(values, limit=58):
    """Return the deep map of the given values (items above 58 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 4
        else:
            total += math.sqrt(abs(item))
    return total

