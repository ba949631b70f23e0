"""Rows sorted by series: where each series starts."""

from __future__ import annotations

import numpy as np


def series_starts(*keys: np.ndarray) -> np.ndarray:
    """The positions of the first row of each series, for rows sorted by series (equal values in
    every one of ``keys``, same-length arrays): row 0 and every row where a key differs from the
    row before."""
    size = len(keys[0])
    new = np.zeros(size, dtype=bool)
    new[:1] = True
    for values in keys:
        new[1:] |= values[1:] != values[:-1]
    return np.flatnonzero(new)
