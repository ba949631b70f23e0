"""Empirical tail measures: the one definition of historical VaR and ES used everywhere.

Formula (docs/design.md conventions, losses positive):

    VaR_c = Q_c(L)                      numpy.quantile with linear interpolation
                                        (Hyndman & Fan 1996, definition 7)
    ES_c  = mean{ L_i : L_i >= VaR_c }  the average of the losses at or beyond VaR

Source: Acerbi & Tasche (2002), "On the coherence of expected shortfall", J. Banking &
Finance 26(7), for ES as the tail mean; the "at or beyond VaR" sample form is the one
pinned in docs/design.md so that ES >= VaR holds for every sample.
"""

from __future__ import annotations

import numpy as np


def tail_var_es(losses: np.ndarray, confidence: float, axis: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """Empirical VaR and ES of ``losses`` along ``axis``.

    ``losses`` may hold NaN only in slices that are entirely NaN (those give NaN).
    Returns ``(var, es)`` with ``axis`` removed.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    losses = np.asarray(losses, dtype=float)
    var = np.quantile(losses, confidence, axis=axis, method="linear")
    in_tail = losses >= np.expand_dims(var, axis)
    count = in_tail.sum(axis=axis)
    total = np.where(in_tail, losses, 0.0).sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        es = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return var, es
