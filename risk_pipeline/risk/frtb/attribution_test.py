"""The P&L attribution test of a trading desk (MAR32.38-MAR32.42) and the risk-theoretical P&L.

Over the most recent 250 business days, the hypothetical P&L (HPL: full revaluation of the
positions held at the previous close, what ``portfolio_pnl`` holds) is compared with the
risk-theoretical P&L (RTPL: the P&L the desk's risk model produces from its risk factors):

* MAR32.38: the Spearman correlation of HPL and RTPL, the Pearson correlation of their ranks
  (``scipy.stats.rankdata``, average ranks for ties);
* MAR32.41: the Kolmogorov-Smirnov statistic, the largest distance between the two empirical
  distribution functions (as ``scipy.stats.ks_2samp`` reports it);
* MAR32.42: green when Spearman > 0.80 and KS < 0.09; red when Spearman < 0.70 or KS > 0.12;
  amber otherwise.

RTPL here (the brief of issue 13): a linear factor model, the desk's return regressed by OLS
with an intercept on the factor series' returns over the ``beta_window`` days up to t-1,
RTPL_t = V_{t-1} * sum_f beta_{f,t} r_{f,t} (the intercept is not a risk factor and is not
used). Factors with a missing return in the beta window are left out on that day.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view
from scipy import stats

PLA_DAYS = 250
"""MAR32.38-32.41: HPL and RTPL over the most recent 250 business days."""
SPEARMAN_GREEN_MIN = 0.80
SPEARMAN_RED_BELOW = 0.70
KS_GREEN_BELOW = 0.09
KS_RED_ABOVE = 0.12
PLA_ZONES = ("green", "amber", "red")


def factor_model_pnl(desk_returns: pd.Series, values: pd.Series, factor_returns: pd.DataFrame, beta_window: int) -> pd.Series:
    """RTPL of the module docstring on the dates of ``desk_returns`` (NaN without a full window).

    ``desk_returns``: the desk's daily simple return; ``values``: its value at each close (same
    dates); ``factor_returns``: dates x factors, simple returns in the desk's base currency.
    """
    dates = desk_returns.index
    y = desk_returns.to_numpy(dtype=float)
    x = factor_returns.reindex(dates).to_numpy(dtype=float)
    prev_value = values.reindex(dates).shift(1).to_numpy(dtype=float)
    out = np.full(len(dates), np.nan)
    for t in range(beta_window, len(dates)):
        yw, xw = y[t - beta_window:t], x[t - beta_window:t]
        if np.isnan(yw).any() or np.isnan(y[t]):
            continue
        cols = ~np.isnan(xw).any(axis=0) & ~np.isnan(x[t])
        if not cols.any():
            continue
        design = np.column_stack([np.ones(beta_window), xw[:, cols]])
        coef, *_ = np.linalg.lstsq(design, yw, rcond=None)
        out[t] = prev_value[t] * float(x[t, cols] @ coef[1:])
    return pd.Series(out, index=dates, name="rtpl")


def _paired_windows(hpl: np.ndarray, rtpl: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The trailing windows of both series that hold no NaN (as rows), and the rows of the output
    (the window's last row) they belong to."""
    if len(hpl) < window:
        return np.empty((0, window)), np.empty((0, window)), np.empty(0, int)
    a = sliding_window_view(np.asarray(hpl, float), window)
    b = sliding_window_view(np.asarray(rtpl, float), window)
    ok = ~(np.isnan(a).any(axis=1) | np.isnan(b).any(axis=1))
    return a[ok], b[ok], np.flatnonzero(ok) + window - 1


def rolling_spearman(hpl: np.ndarray, rtpl: np.ndarray, window: int = PLA_DAYS) -> np.ndarray:
    """Spearman correlation over each trailing ``window`` of the pairs (value at the window's
    last row; NaN before a full window or where a pair is NaN)."""
    out = np.full(len(hpl), np.nan)
    a, b, rows = _paired_windows(hpl, rtpl, window)
    if len(rows):
        ra, rb = stats.rankdata(a, axis=1), stats.rankdata(b, axis=1)
        ra -= ra.mean(axis=1, keepdims=True)
        rb -= rb.mean(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[rows] = (ra * rb).sum(axis=1) / np.sqrt((ra * ra).sum(axis=1) * (rb * rb).sum(axis=1))
    return out


def rolling_ks(hpl: np.ndarray, rtpl: np.ndarray, window: int = PLA_DAYS) -> np.ndarray:
    """Two-sample Kolmogorov-Smirnov statistic over each trailing ``window`` (as :func:`rolling_spearman`).

    For two samples of ``window`` values the statistic is ``h / window``, ``h`` the largest difference of the
    two samples' counts of values <= x over the values x of both: what ``scipy.stats.ks_2samp`` reports (its
    exact method, samples up to 10,000, rounds its largest distance of the ECDFs to that multiple of
    1/window), computed for every window at once: scipy's per-window test also computes the statistic's
    p-value, the PLA test's larger part of its cost, which the test does not use."""
    out = np.full(len(hpl), np.nan)
    a, b, rows = _paired_windows(hpl, rtpl, window)
    if len(rows):
        values = np.concatenate([a, b], axis=1)
        order = np.argsort(values, axis=1, kind="stable")
        ranked = np.take_along_axis(values, order, axis=1)
        # +1 for a value of hpl, -1 for one of rtpl: after each value, the difference of the counts so far
        counts = np.cumsum(np.where(order < window, 1, -1), axis=1)
        # the difference at x counts every value equal to x: taken at the last of a run of equal values
        last = np.ones(ranked.shape, bool)
        last[:, :-1] = ranked[:, 1:] != ranked[:, :-1]
        out[rows] = np.abs(np.where(last, counts, 0)).max(axis=1) / window
    return out


def pla_zone(spearman: np.ndarray, ks: np.ndarray) -> np.ndarray:
    """MAR32.42 zone per row: ``green`` / ``amber`` / ``red`` (None where a metric is NaN)."""
    s, k = np.asarray(spearman, float), np.asarray(ks, float)
    zone = np.where((s < SPEARMAN_RED_BELOW) | (k > KS_RED_ABOVE), "red",
                    np.where((s > SPEARMAN_GREEN_MIN) & (k < KS_GREEN_BELOW), "green", "amber")).astype(object)
    zone[np.isnan(s) | np.isnan(k)] = None
    return zone
