"""Empirical VaR and ES for several confidences from one ascending sort.

The definition is exactly the one of :func:`risk_pipeline.risk.var.tail.tail_var_es`
(docs/design.md): ``VaR_c = numpy.quantile(L, c, method="linear")`` (Hyndman & Fan 1996,
definition 7) and ``ES_c = mean{L_i : L_i >= VaR_c}`` (Acerbi & Tasche 2002).

Why a second evaluation of the same definition: ``numpy.quantile`` along the last axis of a
``(dates, window)`` stack partitions along a strided axis and costs ~20x a contiguous
``numpy.sort`` (SIMD sort), and it re-partitions for every confidence.  Here the caller
sorts each sample once and every confidence is read off the sorted rows:

    h = (m - 1) c,  j = floor(h),  g = h - j
    VaR = x_(j) + g (x_(j+1) - x_(j))   (numpy's ``_lerp``: ``x_(j+1) - (x_(j+1) - x_(j))(1 - g)`` if g >= 0.5)
    ES  = sum_{i: x_(i) >= VaR} x_(i) / #{i: x_(i) >= VaR}
        = (sum_{i > j} x_(i) + t x_(j)) / (m - j - 1 + t),  t = #{i <= j: x_(i) >= VaR}
          (t > 0 only when x_(j) is tied with VaR)

The tests check equality with ``tail_var_es`` (ties included).
"""

from __future__ import annotations

import numpy as np


def sorted_tail_var_es(sorted_losses: np.ndarray, confidences: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """VaR and ES of samples already sorted ascending along the last axis.

    ``sorted_losses`` has shape ``(..., m)`` with no NaN; returns ``(var, es)`` of shape
    ``(..., len(confidences))``.
    """
    x = np.asarray(sorted_losses, dtype=float)
    m = x.shape[-1]
    var_out = np.empty(x.shape[:-1] + (len(confidences),))
    es_out = np.empty_like(var_out)
    for k, c in enumerate(confidences):
        h = (m - 1) * c
        j = min(int(np.floor(h)), m - 2)
        g = h - j
        lo = x[..., j]
        hi = x[..., j + 1]
        diff = hi - lo
        var = hi - diff * (1.0 - g) if g >= 0.5 else lo + diff * g
        # x_(j+1).. are all >= VaR; among x_(0)..x_(j) only values tied with VaR (== x_(j)) are.
        ties = np.zeros(var.shape)
        tied_rows = lo >= var
        if np.any(tied_rows):
            ties[tied_rows] = np.sum(x[tied_rows][:, : j + 1] >= var[tied_rows][:, None], axis=-1)
        es_out[..., k] = (x[..., j + 1 :].sum(axis=-1) + ties * lo) / (m - j - 1 + ties)
        var_out[..., k] = var
    return var_out, es_out
