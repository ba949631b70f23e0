"""Per-group sums that do not depend on the other rows of a frame.

pandas (>= 3) sums the groups of ``groupby(...).sum()`` with its compensated (Kahan) kernel, except
when the group codes are sorted and no value is NaN: it then uses ``np.add.reduceat``, which rounds
differently. A group's sum then depended on the rest of the frame (e.g. on the days of a run's
range), so that a re-run of one day could differ in the last bit from the longer run's row.
:func:`group_sums` always computes the compensated sum, in the rows' order.
"""

from __future__ import annotations

import numpy as np


def group_sums(values: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """Per group ``0..n_groups-1`` (``codes``: each value's group), the Kahan sum of its values in
    their order, NaN skipped (0.0 for a group without a value): pandas' Cython ``group_sum``
    (y = x - c; t = s + y; c = (t - s) - y, reset to 0 when NaN; s = t)."""
    values = np.asarray(values, dtype=float)
    codes = np.asarray(codes, dtype=np.intp)
    order = np.argsort(codes, kind="stable")
    code, value = codes[order], values[order]
    starts = np.flatnonzero(np.r_[True, code[1:] != code[:-1]]) if len(code) else np.array([], dtype=np.intp)
    rank = np.arange(len(code)) - np.repeat(starts, np.diff(np.r_[starts, len(code)]))
    total, compensation = np.zeros(n_groups), np.zeros(n_groups)
    for r in range(int(rank.max()) + 1 if len(rank) else 0):  # the r-th value of every group at once
        at = (rank == r) & ~np.isnan(value)
        group, x = code[at], value[at]
        y = x - compensation[group]
        t = total[group] + y
        c = (t - total[group]) - y
        compensation[group] = np.where(np.isnan(c), 0.0, c)
        total[group] = t
    return total


def row_sums(values: np.ndarray, skipna: bool = False) -> np.ndarray:
    """Per row of a 2-D array, the :func:`group_sums` of its nonzero values in column order (NaN
    when the row has a NaN, unless ``skipna``): a row's sum depends only on its nonzero terms, not
    on the zero columns around them (``np.sum`` of 8 or more columns spreads them over 8 partial
    sums by position, so the zero column of an instrument held on another day moves the others)."""
    values = np.asarray(values, dtype=float)
    rows, columns = np.nonzero(values != 0.0)  # row by row, in column order; NaN included
    total = group_sums(values[rows, columns], rows, values.shape[0])
    return total if skipna else np.where(np.isnan(values).any(axis=1), np.nan, total)
