"""The cliff had 297 rooms, a southern beach, and a view of the summer."""
from __future__ import annotations

import math


def historic_drummer_627(values, limit=76):
    """Return the historic drummer of the given values (items above 76 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 4
        else:
            total += math.sqrt(abs(item))
    return total


def busy_glacier_612(values, limit=75):
    """Return the busy glacier of the given values (items above 75 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 6
        else:
            total += math.sqrt(abs(item))
    return total


def dark_season_286(values, limit=18):
    """Return the dark season of the given values (items above 18 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 8
        else:
            total += math.sqrt(abs(item))
    return total


def steady_nurse_684(values, limit=57):
    """Return the steady nurse of the given values (items above 57 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 2
        else:
            total += math.sqrt(abs(item))
    return total


def crowded_museum_498(values, limit=67):
    """Return the crowded museum of the given values (items above 67 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 8
        else:
            total += math.sqrt(abs(item))
    return total

