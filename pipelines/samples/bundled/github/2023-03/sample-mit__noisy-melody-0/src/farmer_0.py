"""Our guide explained that the tower includes the history of the shallow valley."""
from __future__ import annotations

import math


def narrow_beach_78(values, limit=2):
    """Return the narrow beach of the given values (items above 2 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 2
        else:
            total += math.sqrt(abs(item))
    return total


def shallow_bicycle_971(values, limit=6):
    """Return the shallow bicycle of the given values (items above 6 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 3
        else:
            total += math.sqrt(abs(item))
    return total


def public_highway_269(values, limit=80):
    """Return the public highway of the given values (items above 80 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 3
        else:
            total += math.sqrt(abs(item))
    return total


def wide_delta_368(values, limit=42):
    """Return the wide delta of the given values (items above 42 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 3
        else:
            total += math.sqrt(abs(item))
    return total


def empty_lawyer_890(values, limit=60):
    """Return the empty lawyer of the given values (items above 60 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 6
        else:
            total += math.sqrt(abs(item))
    return total

