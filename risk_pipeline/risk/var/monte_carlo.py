"""Rolling Monte Carlo VaR and ES from a multivariate Student-t fitted on each window.

Model for date t, fitted on the asset returns x_{t-W} .. x_{t-1} (W = ``window``, e.g. the
756-day lookback the pipeline uses) and the weights w_t held on day t:

    x = mu + sqrt((nu - 2) / V) L Z,   Z ~ N(0, I_p),  V ~ chi2(nu),  L L' = Sigma

a multivariate t with mean mu, covariance Sigma and nu degrees of freedom (McNeil, Frey &
Embrechts 2005, sec. 3.2, normal variance mixture).  Estimates per window:

* mu: window mean; Sigma: sample covariance (divisor W) or Ledoit-Wolf (2004) shrinkage
  (``shrinkage="ledoit_wolf"`` default, ``"none"``), the estimators of
  :mod:`risk_pipeline.risk.var.covariance`, computed for all windows at once from cumulative
  sums of x, x x', ||x||^2, ||x||^4 and ||x||^2 x (window sums as differences of cumsums).
* L: Cholesky factor, one batched ``numpy.linalg.cholesky`` on the (dates, p, p) stack.
* nu: method of moments on the window's portfolio returns x_k' w_t (every projection of a
  multivariate t has excess kurtosis 6/(nu - 4)); :func:`~risk_pipeline.risk.var.parametric.t_dof_from_kurtosis`,
  then rounded to the nearest point of ``DOF_GRID`` (64 log-spaced values on
  [NU_MIN, NU_MAX], neighbours ~6% apart), so that the chi-square draws can be shared.

Simulation, with common random numbers (the same draws for every date, so a date's numbers
depend only on its window, the weights, ``seed`` and ``n_scenarios``):

* day d = 0..h-1 of a path has its own seeded streams ``default_rng([seed, d, 0])`` for Z_d
  (n_scenarios x p) and ``default_rng([seed, d, 1])`` for uniforms U_d; V_d = chi2.ppf(U_d, nu)
  for the grid value nu (:func:`mixing_scale`, kept per seed, n_scenarios, day and grid point in
  the process, and in a :class:`MixingScaleStore` when the caller names one with
  :func:`mixing_scales_kept_in`: they depend on nothing else, and their inverse incomplete
  gamma functions cost more than the simulation of a day's few dates).  A horizon
  therefore reuses the same first days whatever the longest horizon asked for.
* the simulated portfolio return of day d is r_d = w_t' mu + sqrt((nu - 2)/V_d) Z_d (L' w_t):
  one matrix product of the stacked (L_t' w_t) of a chunk of dates with Z.
* horizon h: compounded path return prod_{d<h} (1 + r_d) - 1 (daily rebalanced to w_t).
* VaR/ES: the empirical ones of the n_scenarios simulated losses (docs/design.md definition via
  :func:`~risk_pipeline.risk.var.sorted_tail.sorted_tail_var_es`, one partial sort per date and horizon:
  its tail, ``sort_tail``); 0.0 within the rounding of the revaluation (:mod:`risk_pipeline.risk.var.rounding`,
  with G / V = sum_i |w_i|: the rule every amount of the engine follows; the shrunk covariance does not
  see an exact cancellation of identical instruments, so a book of them keeps the model's VaR).

Dates are processed in chunks of ``CHUNK_DATES`` sharing one dof grid point (memory per
chunk ~ CHUNK_DATES x h_max x n_scenarios x 8 bytes).  Same seed, data and config give the
same numbers; a different seed gives different ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from typing import Protocol

import numpy as np
from scipy import stats
from threadpoolctl import ThreadpoolController

from risk_pipeline.risk.var.parametric import NU_MAX, NU_MIN, moments_of_rows, t_dof_from_kurtosis
from risk_pipeline.risk.var.rounding import rounding_tolerance, zero_rounding_residue
from risk_pipeline.risk.var.sorted_tail import sort_tail, sorted_tail_var_es
from risk_pipeline.risk.var.windows import VarEsSurface, full_index, trailing_windows

DEFAULT_N_SCENARIOS = 10_000
DEFAULT_SEED = 20_240_601
SHRINKAGES = ("ledoit_wolf", "none")
DOF_GRID = np.geomspace(NU_MIN, NU_MAX, 64)
CHUNK_DATES = 32
CACHED_DRAW_CELLS = 2_000_000  # normal draws kept between calls up to this size (16 MB; 8 kept at most)


class SingularCovarianceError(ValueError):
    """A window's covariance matrix is not positive definite (Cholesky failed)."""


def quantize_dof(nu: np.ndarray) -> np.ndarray:
    """Index of the nearest ``DOF_GRID`` point (in log scale) for each nu."""
    step = np.log(DOF_GRID[1] / DOF_GRID[0])
    idx = np.rint((np.log(np.asarray(nu, dtype=float)) - np.log(DOF_GRID[0])) / step)
    return np.clip(idx, 0, DOF_GRID.size - 1).astype(np.intp)


def rolling_mean_covariance(x: np.ndarray, window: int, shrinkage: str) -> tuple[np.ndarray, np.ndarray]:
    """Means (n - W, p) and covariances (n - W, p, p) of the trailing windows of ``x`` (n x p).

    Divisor W; ``shrinkage="ledoit_wolf"`` applies Ledoit & Wolf (2004) (formulas in
    :mod:`risk_pipeline.risk.var.covariance`), with
    sum_k ||x_k - mu||^4 = S(q^2) - 4 S(q x).mu + 2 m S(q) + 4 mu' S(x x') mu - 4 W m^2 + W m^2,
    q_k = ||x_k||^2, m = ||mu||^2, S(.) window sums.
    """

    def window_sums(values: np.ndarray) -> np.ndarray:
        csum = np.concatenate([np.zeros((1,) + values.shape[1:]), np.cumsum(values, axis=0)])
        return csum[window:-1] - csum[: -window - 1]

    n_assets = x.shape[1]
    mean = window_sums(x) / window
    outer = window_sums(x[:, :, None] * x[:, None, :])
    cov = outer / window - mean[:, :, None] * mean[:, None, :]
    if shrinkage == "none":
        return mean, cov
    q = np.sum(x * x, axis=1)
    m = np.sum(mean * mean, axis=1)
    fourth = (
        window_sums(q * q)
        - 4.0 * np.sum(window_sums(q[:, None] * x) * mean, axis=1)
        + 2.0 * m * window_sums(q)
        + 4.0 * np.einsum("ti,tij,tj->t", mean, outer, mean)
        - 3.0 * window * m * m
    )
    target = np.trace(cov, axis1=1, axis2=2) / n_assets
    eye = np.eye(n_assets)
    d2 = np.sum((cov - target[:, None, None] * eye) ** 2, axis=(1, 2)) / n_assets
    b2_bar = (fourth - window * np.sum(cov * cov, axis=(1, 2))) / (window**2 * n_assets)
    with np.errstate(invalid="ignore", divide="ignore"):
        delta = np.where(d2 > 0.0, np.minimum(b2_bar, d2) / d2, 0.0)
    delta = delta[:, None, None]
    return mean, delta * target[:, None, None] * eye + (1.0 - delta) * cov


MixingKey = tuple[int, int, int, float]  # seed, n_scenarios, day of the path, nu (a DOF_GRID point)
MIXING_SCALE_VERSION = 1  # another number when mixing_scale gives other numbers for the same key (stores' files)


def mixing_scale(seed: int, n_scenarios: int, day: int, nu: float) -> np.ndarray:
    """sqrt((nu - 2) / V) for V = chi2.ppf(U, nu), U the seeded uniforms of ``day`` (read-only): the scale
    of each scenario's normal draws on that day of the path (module doc)."""
    u = np.random.default_rng([seed, day, 1]).random(n_scenarios)
    scale = np.sqrt((nu - 2.0) / stats.chi2.ppf(u, nu))
    scale.flags.writeable = False
    return scale


class MixingScaleStore(Protocol):
    """Mixing scales kept outside the process (a new day's process would compute them again): ``load``
    gives the array :func:`mixing_scale` gives for ``key`` (``MIXING_SCALE_VERSION``, with these versions
    of NumPy and SciPy), or None when it holds none; ``save`` keeps one."""

    def load(self, key: MixingKey) -> np.ndarray | None: ...

    def save(self, key: MixingKey, scale: np.ndarray) -> None: ...


_STORE: ContextVar[MixingScaleStore | None] = ContextVar("mixing_scale_store", default=None)


@contextmanager
def mixing_scales_kept_in(store: MixingScaleStore) -> Iterator[None]:
    """Within the block, the mixing scales not yet kept in the process are loaded from ``store``, or
    computed and saved there."""
    token = _STORE.set(store)
    try:
        yield
    finally:
        _STORE.reset(token)


@lru_cache(maxsize=2048)
def _mixing_scale(seed: int, n_scenarios: int, day: int, grid_index: int) -> np.ndarray:
    """:func:`mixing_scale` of the grid point, kept in the process, and in the store of
    :func:`mixing_scales_kept_in` if any."""
    store, key = _STORE.get(), (seed, n_scenarios, day, float(DOF_GRID[grid_index]))
    kept = store.load(key) if store is not None else None
    if kept is not None:
        kept.flags.writeable = False
        return kept
    scale = mixing_scale(*key)
    if store is not None:
        store.save(key, scale)
    return scale


@lru_cache(maxsize=1)
def _blas_threads() -> ThreadpoolController:
    """The process's thread pools (BLAS among them), found once: a controller lists the loaded libraries
    (every shared object of the process), which took longer than a new day's simulation of a book. The
    BLAS that NumPy loaded at its import is among them."""
    return ThreadpoolController()


def _normal_draws(seed: int, n_scenarios: int, h_max: int, n_assets: int) -> np.ndarray:
    """Z as a (p, h_max * n_scenarios) matrix; column block d holds day d's draws. Kept (read-only)
    when at most ``CACHED_DRAW_CELLS``: a book of record simulates many runs of days holding the
    same number of instruments."""
    if n_assets * h_max * n_scenarios <= CACHED_DRAW_CELLS:
        return _kept_normal_draws(seed, n_scenarios, h_max, n_assets)
    return _drawn(seed, n_scenarios, h_max, n_assets)


def _drawn(seed: int, n_scenarios: int, h_max: int, n_assets: int) -> np.ndarray:
    days = [np.random.default_rng([seed, d, 0]).standard_normal((n_scenarios, n_assets)).T for d in range(h_max)]
    return np.ascontiguousarray(np.concatenate(days, axis=1))


@lru_cache(maxsize=8)
def _kept_normal_draws(seed: int, n_scenarios: int, h_max: int, n_assets: int) -> np.ndarray:
    z = _drawn(seed, n_scenarios, h_max, n_assets)
    z.flags.writeable = False
    return z


def monte_carlo_var_es(
    returns: np.ndarray,
    weights: np.ndarray,
    *,
    window: int,
    confidences: tuple[float, ...],
    horizons: tuple[int, ...],
    n_scenarios: int = DEFAULT_N_SCENARIOS,
    seed: int = DEFAULT_SEED,
    shrinkage: str = "ledoit_wolf",
) -> VarEsSurface:
    """Rolling multivariate-t Monte Carlo VaR/ES (see module doc).

    ``returns`` (n x p) asset simple returns, ``weights`` (n x p) the weights held on each
    date (a fixed vector repeated for fixed weights).
    """
    n_rows = returns.shape[0] - window
    w = weights[window:]
    mean, cov = rolling_mean_covariance(returns, window, shrinkage)
    try:
        chol = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        eig_min = np.linalg.eigvalsh(cov)[:, 0]
        bad = int(np.argmax(eig_min <= 0.0))
        raise SingularCovarianceError(
            f"covariance of the window ending at row {bad + window - 1} is not positive definite "
            f"(smallest eigenvalue {eig_min[bad]:.3g}); use shrinkage='ledoit_wolf' or a longer window"
        ) from None
    loadings = np.einsum("tij,ti->tj", chol, w)  # L_t' w_t
    mu_p = np.sum(mean * w, axis=1)
    projected = np.einsum("tpw,tp->tw", trailing_windows(returns, window), w)
    grid_index = quantize_dof(t_dof_from_kurtosis(moments_of_rows(projected).excess_kurtosis))

    h_max = max(horizons)
    z = _normal_draws(seed, n_scenarios, h_max, returns.shape[1])
    # gross return 1 + r_d = [L_t' w_t, 1 + w_t' mu_t] @ [Z_d * s_d ; 1]  (s_d the mixing scale)
    coefficients = np.concatenate([loadings, (1.0 + mu_p)[:, None]], axis=1)
    wanted = {h: k for k, h in enumerate(horizons)}
    var = np.empty((n_rows, len(confidences), len(horizons)))
    es = np.empty_like(var)
    order = np.argsort(grid_index, kind="stable")
    groups, starts = np.unique(grid_index[order], return_index=True)
    bounds = list(starts) + [n_rows]
    # a chunk's day d at a time (its gross returns, the growth and the losses: a few MB, not h_max times that),
    # each product on one BLAS thread: a second thread's start and spin per small product cost more CPU
    # than the product (a Dask worker has one anyway); the same numbers with any number of threads
    buffers = np.empty((3, CHUNK_DATES, n_scenarios))
    scaled_draws = np.ones((z.shape[0] + 1, z.shape[1]))  # [Z * s ; 1], the last row kept
    with _blas_threads().limit(limits=1, user_api="blas"):
        for g, lo, hi in zip(groups, bounds[:-1], bounds[1:]):
            scale = np.concatenate([_mixing_scale(seed, n_scenarios, d, int(g)) for d in range(h_max)])
            np.multiply(z, scale, out=scaled_draws[:-1])
            for start in range(lo, hi, CHUNK_DATES):
                rows = order[start : min(start + CHUNK_DATES, hi)]
                gross, growth, losses = buffers[:, : rows.size]
                for d in range(h_max):
                    day = np.matmul(coefficients[rows], scaled_draws[:, d * n_scenarios : (d + 1) * n_scenarios],
                                    out=growth if d == 0 else gross)
                    if d > 0:
                        np.multiply(growth, day, out=growth)
                    if d + 1 in wanted:
                        np.subtract(1.0, growth, out=losses)
                        sort_tail(losses, confidences)
                        var[rows, :, wanted[d + 1]], es[rows, :, wanted[d + 1]] = sorted_tail_var_es(losses, confidences)
    # a forecast within the rounding of the revaluation is 0 (risk.var.rounding): in fractions of value, G / V is
    # the weights' sum |w_i| and n the instruments weighted
    tolerance = rounding_tolerance(np.abs(w).sum(axis=1), (w != 0.0).sum(axis=1))[:, None, None]
    var, es = zero_rounding_residue(var, tolerance), zero_rounding_residue(es, tolerance)
    return VarEsSurface(full_index(var, window), full_index(es, window), confidences, horizons)
