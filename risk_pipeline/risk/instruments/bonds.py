"""Fixed-coupon bullet bonds: price from yield, DV01, durations, convexity, P&L along a yield path.

Cash flows. A bond with face ``F``, annual coupon rate ``c``, ``m`` coupons a year and
``T`` years to maturity pays ``F c / m`` at times ``t_k = T - k/m > 0`` (k = 0, 1, ...,
counted back from maturity) and ``F`` at ``T``. Time is in years; a maturity date becomes
``T`` as (maturity - as-of date) in days / 365.25 (simplification: no day-count convention
or business-day calendar; periods are exactly ``1/m`` years).

Price from yield ``y`` (annual, compounded ``m`` times a year; fractional periods use
the same compounding, the "street" convention):

    P(y)      = sum_k CF_k (1 + y/m)^(-m t_k)                      dirty (full) price
    accrued   = F c/m (1 - m t_1)          t_1 = time to the next coupon (linear accrual)
    clean     = P - accrued
    dP/dy     = -sum_k t_k CF_k (1 + y/m)^(-m t_k - 1)
    d2P/dy2   = sum_k t_k (t_k + 1/m) CF_k (1 + y/m)^(-m t_k - 2)
    D_mac     = sum_k t_k CF_k (1 + y/m)^(-m t_k) / P
    D_mod     = -(dP/dy) / P = D_mac / (1 + y/m)
    convexity = (d2P/dy2) / P
    DV01      = -(dP/dy) * 0.0001                                  price change for -1bp

Closed forms used in the tests: a par bond (c = y, T a whole number of periods) has P = F
and D_mod = (1 - (1 + y/m)^(-mT)) / y; a zero has D_mac = T and
convexity = T (T + 1/m) / (1 + y/m)^2. Source: F. Fabozzi, "Bond Markets, Analysis and
Strategies" (chs. 2 and 4); J. Hull, "Options, Futures, and Other Derivatives", ch. 4.

Daily P&L along a yield path (:func:`reprice_path`), per bond of face ``F``:

- ``aging=True``: the bond ages with the calendar, ``T_t = T_0 - (date_t - date_0)/365.25``;
  coupons falling in (t-1, t] are cash received. Full repricing:
  ``pnl_full_t = P(T_t, y_t) + coupon_t - P(T_{t-1}, y_{t-1})``, split exactly into
  ``pnl_carry = P(T_t, y_{t-1}) + coupon_t - P(T_{t-1}, y_{t-1})`` (time, unchanged yield)
  and ``pnl_yield = P(T_t, y_t) - P(T_t, y_{t-1})`` (the yield move).
- ``aging=False``: constant maturity ``T_t = T_0`` (a rolling benchmark), no coupons;
  ``pnl_carry = 0`` and ``pnl_full = pnl_yield``.

Beside it, the duration-convexity approximation of the yield move, with risk measured at
``(T_t, y_{t-1})``: ``pnl_duration_convexity = -D_mod P dy + 0.5 C P dy^2``, dy = y_t - y_{t-1}.

A foreign bond's base-currency P&L (:func:`foreign_bond_base_pnl`) with FX price ``X_t``
(base per unit of the bond's currency, :func:`risk_pipeline.risk.instruments.fx.base_prices`):
``(P_t + coupon_t) X_t - P_{t-1} X_{t-1}`` = local term ``pnl_full_t X_{t-1}`` + FX term
``P_{t-1} (X_t - X_{t-1})`` + cross term ``pnl_full_t (X_t - X_{t-1})``
(:func:`risk_pipeline.risk.instruments.fx.pnl_decomposition`).

Its Taylor expansion for an instantaneous move (:func:`foreign_bond_taylor`): a position of
dirty value ``P`` (local) held in base currency at FX price ``S``, with modified duration ``D``
and convexity ``C``, whose yield moves by ``dy`` and FX price by ``dS``, changes in base by

    dV = S P(y + dy) - ... = -S P D dy + P dS                     first order
         + 0.5 S P C dy^2 - P D dy dS                             second order
         + O(dy^3, dy^2 dS)

(V = S P(y), dV/dy = S P'(y) = -S P D, dV/dS = P, d2V/dy2 = S P C, d2V/dy dS = -P D; the
dS^2 term is zero, V being linear in S). A rouble book holding a US Treasury: S = RUB per USD.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from risk_pipeline.risk.instruments.fx import pnl_decomposition

DAYS_PER_YEAR = 365.25
_EPS = 1e-9  # times within this of zero count as paid (guards float noise in T - k/m)
_SCENARIO_CHUNK_ELEMENTS = 1_000_000  # (day, scenario) pairs of rolled_par_bond_scenarios computed at once

PATH_COLUMNS: tuple[str, ...] = ("date", "yield", "maturity_years", "dirty_price", "coupon_paid", "pnl_full",
                                 "pnl_carry", "pnl_yield", "pnl_duration_convexity")
"""Columns of :func:`reprice_path`; P&L columns are NaN on the first date."""

@dataclass(frozen=True)
class ForeignBondTaylor:
    """Terms of the base-currency change of a foreign bond position (module docstring):
    ``first_order = yield_term + fx_term``, ``second_order = first_order + convexity_term + cross_term``."""

    yield_term: float      # -S P D dy
    fx_term: float         # P dS
    convexity_term: float  # 0.5 S P C dy^2
    cross_term: float      # -P D dy dS
    first_order: float
    second_order: float


FOREIGN_PNL_COLUMNS: tuple[str, ...] = ("date", "local_pnl", "local_term", "fx_term", "cross_term",
                                        "total_pnl_base")
"""Columns of :func:`foreign_bond_base_pnl` (amounts in base currency except ``local_pnl``)."""


class BondInputError(ValueError):
    """Bond inputs are malformed (names the parameter / date)."""


@dataclass(frozen=True)
class FixedRateBond:
    """A bullet bond: ``coupon_rate`` (annual, decimal), ``maturity_years`` from the as-of
    date, ``frequency`` coupons a year, ``face`` amount."""

    coupon_rate: float
    maturity_years: float
    frequency: int = 2
    face: float = 100.0

    def __post_init__(self) -> None:
        if not (np.isfinite(self.coupon_rate) and self.coupon_rate >= 0):
            raise BondInputError(f"coupon_rate must be >= 0, got {self.coupon_rate!r}")
        if not (np.isfinite(self.maturity_years) and self.maturity_years > 0):
            raise BondInputError(f"maturity_years must be > 0, got {self.maturity_years!r}")
        if self.frequency not in (1, 2, 4, 12):
            raise BondInputError(f"frequency must be 1, 2, 4 or 12 coupons a year, got {self.frequency!r}")
        if not self.face > 0:
            raise BondInputError(f"face must be > 0, got {self.face!r}")

    @classmethod
    def from_maturity_date(cls, coupon_rate: float, maturity_date, as_of, frequency: int = 2,
                           face: float = 100.0) -> FixedRateBond:
        """Bond maturing on ``maturity_date`` seen from ``as_of``: T = days / 365.25."""
        days = (pd.Timestamp(maturity_date) - pd.Timestamp(as_of)).days
        return cls(coupon_rate, days / DAYS_PER_YEAR, frequency, face)


@dataclass(frozen=True)
class BondRisk:
    """Price and sensitivities of a bond at one yield (formulas in the module docstring)."""

    yield_: float
    dirty_price: float
    accrued: float
    clean_price: float
    dv01: float
    macaulay_duration: float
    modified_duration: float
    convexity: float


def cash_flows(bond: FixedRateBond) -> tuple[np.ndarray, np.ndarray]:
    """Times (years, ascending) and amounts of the remaining cash flows."""
    m = bond.frequency
    n = int(np.ceil(bond.maturity_years * m - _EPS))
    times = bond.maturity_years - np.arange(n)[::-1] / m
    amounts = np.full(n, bond.face * bond.coupon_rate / m)
    amounts[-1] += bond.face
    return times, amounts


def price_and_derivatives(bond: FixedRateBond, maturity: np.ndarray, yld: np.ndarray
                           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Vectorized over (maturity, yield) pairs: P, dP/dy, d2P/dy2, sum t PV, accrued."""
    m = bond.frequency
    maturity = np.asarray(maturity, dtype=float)
    yld = np.asarray(yld, dtype=float)
    if (yld <= -m).any():
        raise BondInputError(f"yields must be > -{m} (the per-period rate > -100%)")
    n_max = int(np.ceil(np.max(maturity) * m - _EPS))
    t = maturity[..., None] - np.arange(n_max) / m  # back from maturity
    alive = t > _EPS
    cf = np.where(np.arange(n_max) == 0, bond.face, 0.0) + bond.face * bond.coupon_rate / m
    cf = np.where(alive, cf, 0.0)
    base = 1.0 + yld[..., None] / m
    t_pos = np.where(alive, t, 0.0)
    disc = base ** (-m * t_pos)
    pv = cf * disc
    price = pv.sum(axis=-1)
    dp = -(t_pos * pv / base).sum(axis=-1)
    d2p = (t_pos * (t_pos + 1.0 / m) * pv / base**2).sum(axis=-1)
    sum_tpv = (t_pos * pv).sum(axis=-1)
    t_next = np.where(alive, t, np.inf).min(axis=-1)
    accrued = bond.face * bond.coupon_rate / m * (1.0 - m * t_next)
    return price, dp, d2p, sum_tpv, accrued


def dirty_price(bond: FixedRateBond, yld, maturity_years=None) -> np.ndarray:
    """Dirty price at yield(s) ``yld`` (and remaining maturity/ies, default the bond's)."""
    mat = np.full(np.shape(yld), bond.maturity_years) if maturity_years is None else maturity_years
    return price_and_derivatives(bond, np.asarray(mat, dtype=float), np.asarray(yld, dtype=float))[0]


def bond_risk(bond: FixedRateBond, yld: float) -> BondRisk:
    """Price, accrued, DV01, Macaulay and modified duration and convexity at yield ``yld``."""
    price, dp, d2p, sum_tpv, accrued = (float(v) for v in price_and_derivatives(
        bond, np.array(bond.maturity_years), np.array(float(yld))))
    return BondRisk(
        yield_=float(yld),
        dirty_price=price,
        accrued=accrued,
        clean_price=price - accrued,
        dv01=-dp * 1e-4,
        macaulay_duration=sum_tpv / price,
        modified_duration=-dp / price,
        convexity=d2p / price,
    )


def _remaining_coupons(maturity: np.ndarray, m: int) -> np.ndarray:
    return np.ceil(np.asarray(maturity) * m - _EPS).astype(int)


def reprice_path(bond: FixedRateBond, yields: pd.Series, *, aging: bool = True) -> pd.DataFrame:
    """Daily P&L of one bond by full repricing along ``yields`` and its duration-convexity
    approximation (module docstring). ``yields``: decimal yields indexed by ascending dates;
    the bond has ``maturity_years`` left on the first date. Columns :data:`PATH_COLUMNS`."""
    if yields.empty:
        raise BondInputError("yields is empty")
    if yields.isna().any():
        raise BondInputError(f"yields has NaN on {list(yields.index[yields.isna()][:3])}")
    dates = pd.DatetimeIndex(yields.index)
    if not dates.is_monotonic_increasing:
        raise BondInputError("yields must be indexed by ascending dates")
    y = yields.to_numpy(dtype=float)
    m = bond.frequency
    if aging:
        elapsed = (dates - dates[0]).days.to_numpy() / DAYS_PER_YEAR
        maturity = bond.maturity_years - elapsed
        if (maturity <= _EPS).any():
            raise BondInputError(f"the yield path reaches the bond's maturity on {dates[maturity <= _EPS][0].date()}")
    else:
        maturity = np.full(len(y), bond.maturity_years)
    price, dp, d2p, _, _ = price_and_derivatives(bond, maturity, y)
    n_rem = _remaining_coupons(maturity, m)
    coupon = np.zeros(len(y))
    coupon[1:] = (n_rem[:-1] - n_rem[1:]) * bond.face * bond.coupon_rate / m
    nan = np.array([np.nan])
    # price at today's maturity and yesterday's yield: splits carry from the yield move
    aged, dp_aged, d2p_aged, _, _ = price_and_derivatives(bond, maturity[1:], y[:-1])
    dy = np.diff(y)
    pnl_full = np.concatenate([nan, price[1:] + coupon[1:] - price[:-1]])
    pnl_carry = np.concatenate([nan, aged + coupon[1:] - price[:-1]])
    pnl_yield = np.concatenate([nan, price[1:] - aged])
    approx = np.concatenate([nan, dp_aged * dy + 0.5 * d2p_aged * dy**2])
    return pd.DataFrame(
        {"date": dates, "yield": y, "maturity_years": maturity, "dirty_price": price, "coupon_paid": coupon,
         "pnl_full": pnl_full, "pnl_carry": pnl_carry, "pnl_yield": pnl_yield, "pnl_duration_convexity": approx},
        columns=list(PATH_COLUMNS),
    )


def foreign_bond_base_pnl(path: pd.DataFrame, fx_prices: pd.Series) -> pd.DataFrame:
    """Base-currency daily P&L of a foreign bond from its :func:`reprice_path` output.

    ``fx_prices``: price of one unit of the bond's currency in base currency, indexed by the
    path's dates (a missing date raises). Terms in the module docstring; they sum exactly to
    ``total_pnl_base``. Columns :data:`FOREIGN_PNL_COLUMNS`; the first date is NaN.
    """
    dates = pd.DatetimeIndex(path["date"])
    missing = dates.difference(pd.DatetimeIndex(fx_prices.index))
    if len(missing):
        raise BondInputError(f"fx_prices has no value for {list(missing[:3].date)}")
    x = fx_prices.reindex(dates).to_numpy(dtype=float)
    if not (np.isfinite(x).all() and (x > 0).all()):
        raise BondInputError("fx_prices must be positive and finite on every date of the path")
    price_prev = path["dirty_price"].shift(1).to_numpy()
    x_prev = np.concatenate([[np.nan], x[:-1]])
    local_pnl = path["pnl_full"].to_numpy()
    split = pnl_decomposition(price_prev * x_prev, local_pnl / price_prev, x / x_prev - 1.0)
    return pd.DataFrame(
        {"date": dates, "local_pnl": local_pnl, "local_term": split.local, "fx_term": split.fx,
         "cross_term": split.cross, "total_pnl_base": split.total},
        columns=list(FOREIGN_PNL_COLUMNS),
    )


def foreign_bond_taylor(risk: BondRisk, fx_price: float, dy: float, dfx: float, face: float = 100.0,
                        held_face: float | None = None) -> ForeignBondTaylor:
    """The Taylor terms of a foreign bond position's base-currency change for a yield move ``dy``
    and an FX move ``dfx`` (base per unit of the bond's currency, from ``fx_price``), from the
    bond's ``risk`` at the current yield (price per ``face``); ``held_face``: the face held
    (default ``face``: one bond). Formulas in the module docstring."""
    if not (np.isfinite(fx_price) and fx_price > 0):
        raise BondInputError(f"fx_price must be > 0, got {fx_price!r}")
    value = risk.dirty_price * (held_face if held_face is not None else face) / face
    d, c = risk.modified_duration, risk.convexity
    yield_term, fx_term = -fx_price * value * d * dy, value * dfx
    convexity_term, cross_term = 0.5 * fx_price * value * c * dy ** 2, -value * d * dy * dfx
    first = yield_term + fx_term
    return ForeignBondTaylor(yield_term, fx_term, convexity_term, cross_term, first,
                             first + convexity_term + cross_term)


def rolled_par_bond_returns(yields: pd.Series, tenor_years: float, frequency: int = 2) -> pd.DataFrame:
    """Daily total return of a constant-maturity bond rolled at par: the position a constant-maturity
    yield series (e.g. the 10-year Treasury's) describes, repriced in full each day.

    At the close of day t-1 the position is a par bond of ``tenor_years`` (a whole number of coupon
    periods) with coupon ``c = y_{t-1}``, worth its face F; at the close of t it has aged by
    ``tau_t = (date_t - date_{t-1}) / 365.25`` years and is repriced at ``y_t`` (dirty, accrued
    coupon included), then rolled into the new par bond:

        r_t = P(T - tau_t, y_t; c = y_{t-1}) / F - 1
            = carry_t + yield_t,
        carry_t = P(T - tau_t, y_{t-1}; c = y_{t-1}) / F - 1           time passing at an unchanged yield
        yield_t = (P(T - tau_t, y_t) - P(T - tau_t, y_{t-1})) / F      the yield move, in full
        explain_t = -D dy + 0.5 C dy^2,  dy = y_t - y_{t-1},            D, C at (T - tau_t, y_{t-1});
                                                                        yield_t - explain_t is O(dy^3)

    P is :func:`price_and_derivatives`' price, linear in the coupon: P(c) = P(0) + c (P(1) - P(0)).
    ``yields``: decimal yields on ascending dates (at least two). Columns ``date``, ``yield``,
    ``total_return``, ``carry``, ``yield_return``, ``explain``, ``modified_duration``, ``convexity``;
    the first date has NaN returns (no previous day). Source: the daily-rolled par bond of
    constant-maturity bond return series (e.g. Swinkels 2019, *Data in Brief* 25, 104031).
    """
    if len(yields) < 2:
        raise BondInputError("yields needs at least two dates")
    if yields.isna().any():
        raise BondInputError(f"yields has NaN on {list(yields.index[yields.isna()][:3])}")
    dates = pd.DatetimeIndex(yields.index)
    if not (dates.is_monotonic_increasing and dates.is_unique):
        raise BondInputError("yields must be indexed by strictly ascending dates")
    if abs(tenor_years * frequency - round(tenor_years * frequency)) > _EPS:
        raise BondInputError(f"tenor_years must be a whole number of coupon periods, got {tenor_years!r}")
    zero, unit = (FixedRateBond(c, tenor_years, frequency, 100.0) for c in (0.0, 1.0))
    y = yields.to_numpy(dtype=float)
    coupon, y_now, y_before = y[:-1], y[1:], y[:-1]
    maturity = tenor_years - np.diff(dates).astype("timedelta64[D]").astype(float) / DAYS_PER_YEAR
    if (maturity <= _EPS).any():
        raise BondInputError(f"a gap between two dates is longer than the tenor {tenor_years!r}")

    def par_bond(yld: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        at_zero = price_and_derivatives(zero, maturity, yld)[:3]
        at_unit = price_and_derivatives(unit, maturity, yld)[:3]
        price, first, second = (z + coupon * (u - z) for z, u in zip(at_zero, at_unit))
        return price, first, second

    price_now = par_bond(y_now)[0]
    price_before, dp, d2p = par_bond(y_before)
    dy = y_now - y_before
    nan = np.array([np.nan])
    duration, convexity = -dp / price_before, d2p / price_before
    return pd.DataFrame({
        "date": dates, "yield": y,
        "total_return": np.concatenate([nan, price_now / 100.0 - 1.0]),
        "carry": np.concatenate([nan, price_before / 100.0 - 1.0]),
        "yield_return": np.concatenate([nan, (price_now - price_before) / 100.0]),
        "explain": np.concatenate([nan, (-duration * dy + 0.5 * convexity * dy ** 2) * price_before / 100.0]),
        "modified_duration": np.concatenate([nan, duration]),
        "convexity": np.concatenate([nan, convexity]),
    })



def rolled_par_bond_scenarios(yields: np.ndarray, elapsed_years: np.ndarray, rows: np.ndarray, window: int,
                              tenor_years: float, frequency: int = 2) -> np.ndarray:
    """The historical scenarios of a constant-maturity bond rolled at par (:func:`rolled_par_bond_returns`):
    the bond held at the close before each forecast day, repriced in full under each past day's yield move.

    On a calendar of days i with yields ``y_i`` and ``tau_i = elapsed_years[i]`` (years since day i-1),
    the forecast day ``r = rows[d]`` holds the par bond bought at the close of r-1 (coupon ``c = y_{r-1}``),
    and scenario k of its window, day ``s = r - window + k``, moves its yield by that day's move
    ``dy_s = y_s - y_{s-1}`` over that day's time:

        R[d, k] = P(T - tau_s, y_{r-1} + dy_s; c = y_{r-1}) / F - 1,

    its local return (carry and yield move, at today's yield level and duration; the past day's own return
    is the bond of then, at the yield level of then). With n = m T whole periods and no coupon paid within
    tau_s (< 1/m), every cash flow is tau_s nearer, so with ``v = 1 / (1 + y'/m)``, ``y' = c + dy_s``:

        P(T - tau, y'; c) = v^(-m tau) F (c/m (v + ... + v^n) + v^n),   v + ... + v^n = (1 - v^n) / (y'/m)

    (n at y' = 0): the cash-flow sum of :func:`price_and_derivatives` in closed form, over every
    (day, scenario) at once. NaN where a yield or ``tau`` is missing (and for s = 0). Shape
    (len(rows), window).
    """
    y = np.asarray(yields, dtype=float)
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows) and (rows.min() < window or rows.max() > len(y)):
        raise BondInputError(f"every row must have {window} calendar days before it (and be at most the day after "
                             "the last)")
    m = frequency
    n = int(round(tenor_years * m))
    if abs(tenor_years * m - n) > _EPS:
        raise BondInputError(f"tenor_years must be a whole number of coupon periods, got {tenor_years!r}")
    dy = np.concatenate([[np.nan], np.diff(y)])
    tau = np.asarray(elapsed_years, dtype=float).copy()
    tau[0] = np.nan
    if (tau[np.isfinite(tau)] >= 1.0 / m - _EPS).any():
        raise BondInputError(f"a gap between two dates reaches a coupon period (1/{m} year)")
    out = np.empty((len(rows), window))
    step = max(1, _SCENARIO_CHUNK_ELEMENTS // window)
    for first in range(0, len(rows), step):
        block = rows[first:first + step]
        days = block[:, None] + np.arange(-window, 0)      # each forecast day's scenario days
        coupon = y[block - 1][:, None]                     # yield (= coupon) of the par bond held
        shocked = coupon + dy[days]
        if (shocked[np.isfinite(shocked)] <= -m).any():
            raise BondInputError(f"a shocked yield is <= -{m} (the per-period rate <= -100%)")
        rate = shocked / m
        vn = (1.0 + rate) ** -n
        with np.errstate(invalid="ignore", divide="ignore"):
            annuity = np.where(np.abs(rate) < 1e-12, float(n), (1.0 - vn) / rate)
        out[first:first + step] = (coupon / m * annuity + vn) * (1.0 + rate) ** (m * tau[days]) - 1.0
    return out
