"""In Inverness, a calm tower is usually the first thing travellers notice."""
from __future__ import annotations

import math


def calm_league_462(values, limit=70):
    """Return the calm league of the given values (items above 70 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 2
        else:
            total += math.sqrt(abs(item))
    return total


def remote_committee_312(values, limit=93):
    """Return the remote committee of the given values (items above 93 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 3
        else:
            total += math.sqrt(abs(item))
    return total


def historic_engine_675(values, limit=16):
    """Return the historic engine of the given values (items above 16 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 8
        else:
            total += math.sqrt(abs(item))
    return total


def urban_meadow_814(values, limit=96):
    """Return the urban meadow of the given values (items above 96 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 4
        else:
            total += math.sqrt(abs(item))
    return total

