"""Rolling historical-simulation VaR and ES.

For date ``t`` the sample is the window ``r_{t-W} .. r_{t-1}``; for horizon ``h`` it is the
``W - h + 1`` overlapping ``h``-day compounded returns inside the window,
``R_k = prod_{i=k}^{k+h-1}(1 + r_i) - 1``.  With losses ``L = -R``:

    VaR_c = numpy.quantile(L, c, method="linear"),   ES_c = mean{L_i : L_i >= VaR_c}

(docs/design.md; the definition of :func:`risk_pipeline.risk.var.tail.tail_var_es`, evaluated by
:func:`risk_pipeline.risk.var.sorted_tail.sorted_tail_var_es` on one sort per window and
horizon, shared by all confidences).  Source: the basic historical simulation of
J. Hull, *Risk Management and Financial Institutions*, ch. 13; overlapping multi-day
returns as in BCBS (2019) MAR33.
"""

from __future__ import annotations

import numpy as np

from risk_pipeline.risk.var.sorted_tail import sorted_tail_var_es
from risk_pipeline.risk.var.windows import VarEsSurface, compound_returns, rolling_surface

_CHUNK_ELEMENTS = 4_000_000  # bounds the sorted copy per chunk (~32 MB)


def empirical_window_var_es(
    window_returns: np.ndarray, confidences: tuple[float, ...], horizons: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Empirical VaR/ES of each row of ``window_returns`` (rows x window) per horizon.

    Returns arrays of shape ``(rows, n_conf, n_horizons)``; processed in row chunks so the
    sorted copies stay small.  Shared by historical and filtered historical simulation.
    """
    rows, width = window_returns.shape
    var = np.empty((rows, len(confidences), len(horizons)))
    es = np.empty_like(var)
    step = max(1, _CHUNK_ELEMENTS // width)
    for start in range(0, rows, step):
        block = window_returns[start : start + step]
        for k, h in enumerate(horizons):
            losses = np.negative(compound_returns(block, h))  # a fresh contiguous copy, sorted in place
            losses.sort(axis=-1)
            var[start : start + step, :, k], es[start : start + step, :, k] = sorted_tail_var_es(losses, confidences)
    return var, es


def historical_var_es(
    returns: np.ndarray, *, window: int, confidences: tuple[float, ...], horizons: tuple[int, ...]
) -> VarEsSurface:
    """Rolling historical VaR/ES of a 1-D array of daily simple returns (see module doc)."""
    return rolling_surface(empirical_window_var_es, returns, window, confidences, horizons)
