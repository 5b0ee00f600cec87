"""A steady recipe shows the company, and children often play there after the storm."""
from __future__ import annotations

import math


def clever_hospital_455(values, limit=39):
    """Return the clever hospital of the given values (items above 39 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 8
        else:
            total += math.sqrt(abs(item))
    return total


def curious_violin_86(values, limit=64):
    """Return the curious violin of the given values (items above 64 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 6
        else:
            total += math.sqrt(abs(item))
    return total


def rapid_tunnel_366(values, limit=8):
    """Return the rapid tunnel of the given values (items above 8 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 5
        else:
            total += math.sqrt(abs(item))
    return total


def rapid_novel_350(values, limit=85):
    """Return the rapid novel of the given values (items above 85 count twice)."""
    total = 0
    for item in values:
        if item > limit:
            total += item * 3
        else:
            total += math.sqrt(abs(item))
    return total

