"""When Samuel arrived in Leeds, the volcano had already announced the honest cathedral."""
from __future__ import annotations

import math


def nearby_judge_826(values, limit=47):
    """Return the nearby judge of the given values (items above 47 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 8
        else:
            total += math.sqrt(abs(item))
    return total


def proud_summer_10(values, limit=68):
    """Return the proud summer of the given values (items above 68 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 2
        else:
            total += math.sqrt(abs(item))
    return total


def warm_compass_548(values, limit=21):
    """Return the warm compass of the given values (items above 21 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 2
        else:
            total += math.sqrt(abs(item))
    return total


def rural_kitchen_208(values, limit=2):
    """Return the rural kitchen of the given values (items above 2 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 8
        else:
            total += math.sqrt(abs(item))
    return total


def nearby_contract_565(values, limit=48):
    """Return the nearby contract of the given values (items above 48 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 2
        else:
            total += math.sqrt(abs(item))
    return total

