"""A VaR or ES below the rounding of the book's revaluation is zero.

Every VaR/ES amount of the engine is an order statistic or a tail mean of scenario P&Ls, and a
scenario's P&L is a floating-point sum of the n positions' terms p_j (a linear position's
``V_i r_i``, an option's ``units (V(S_k) - V(S))`` or its Taylor terms, a hedge's
``units S R``). For a book whose P&L is exactly zero in exact arithmetic (a perfectly
delta-hedged option book seen by ``delta_only``, a long and a short of the same exposure), the
floats give a residue of the last bits: the bundled short strangles' ``delta_only`` VaR was
3e-17 to 6e-11 USD, of either sign, and differed between a range run and a day re-run (the
hedge's units are summed over a frame whose rows depend on the range). Its ratios (Z2's loss
over ES, FZ0's log ES) read those bits as data. So a forecast is stored as exactly 0.0 when

    |x| <= ROUNDING_MULTIPLE * n * eps * G

with eps the float64 machine epsilon (2.2e-16), n the positions held at the forecast's origin
(the close of t-1) and G their gross exposure there: ``sum_i |V_i(t-1)|`` for a linear book,
``sum |units| S`` over the options plus ``sum |linear units| S`` over the holdings for an option
book (the notional a revaluation is computed at: a Black-Scholes price is the difference of
``S e^{-qT} N(d1)`` and ``K e^{-rT} N(d2)``, each of the order of the spot for the strikes a book
holds, and a delta term is at most ``|units| S |R|``).

Why that bound. The rounding error of a sum of n terms is at most ``(n - 1) eps sum_j |p_j|``
(Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed. 2002, eq. 4.4, gamma_{n-1});
each term carries its own evaluation error, a few roundings for a product, some tens of eps of
its notional for a Black-Scholes price (exp, log, sqrt and erfc are each within a few ulps), h
roundings for an h-day compounded return; and VaR (an interpolated order statistic) and ES (a
tail mean) move by at most the largest error of the scenarios (both are 1-Lipschitz in the
maximum norm), plus a few roundings of their own. So a forecast whose exact value is 0 is
computed within about ``c n eps G`` with c of the order of tens: ``ROUNDING_MULTIPLE`` = 1024
(2^10) leaves a margin of more than an order of magnitude over that, and of 60,000 over the
largest residue measured (0.017 n eps G, the bundled ``delta_only``). In the other direction the
tolerance is 2.3e-13 n G: 0.5 to 9 micro-USD for the bundled option book (3 positions, 0.8 to 13
million USD of notional), against a smallest linear book's VaR of 60 USD (0.3% of its value) in
30 years; no number of the linear books is near it.

A value above the tolerance is kept bit for bit; one at or below it is 0.0 (never -0.0; NaN stays
NaN). Applied where each amount is made: the engine of the positions held
(:func:`risk_pipeline.risk.var.held_positions.held_grid`, the held Monte Carlo), Monte Carlo on
weights (``rolling``, in fractions of value: G / V = sum |w_i|) and the option books
(:func:`risk_pipeline.risk.options.var.days_var_es`). What a zero forecast means for the backtests
and scores: docs/methods.md.
"""

from __future__ import annotations

import numpy as np

EPS = float(np.finfo(np.float64).eps)
ROUNDING_MULTIPLE = 1024.0
"""The multiple of ``n eps G`` under which a forecast is zero (module doc)."""


def rounding_tolerance(gross_exposure: np.ndarray | float, n_positions: np.ndarray | int) -> np.ndarray:
    """``ROUNDING_MULTIPLE n eps G`` per forecast origin (module doc); ``n`` counts at least 1."""
    return ROUNDING_MULTIPLE * np.maximum(np.asarray(n_positions, dtype=float), 1.0) * EPS * np.abs(
        np.asarray(gross_exposure, dtype=float))


def zero_rounding_residue(values: np.ndarray, tolerance: np.ndarray | float) -> np.ndarray:
    """``values`` with each entry whose magnitude is at most ``tolerance`` (broadcast against them) set to 0.0;
    the others, and NaN, unchanged."""
    values = np.asarray(values, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.where(np.abs(values) <= tolerance, 0.0, values)
