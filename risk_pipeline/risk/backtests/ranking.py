"""Rank VaR methods of one portfolio: proper scores first, then backtest quality, then capital.

Input: the ``var_backtests`` rows of one portfolio at one as-of date and one ``backtest_window_days`` (columns
of ``table.COLUMNS`` plus method, confidence, horizon_days), one row per method x
confidence x horizon; the average VaR level per method; and optionally the ``var_scores``
rows of the same portfolio, as-of date and window (``risk.backtests.scoring``).

Per method, over its ``var_scores`` rows with an MCS (``mcs_computed`` and ``compared``):
  * n_mcs    = how many (confidence, horizon) series had an MCS that compared the method;
  * n_in_mcs = in how many of them it is in the 90% Model Confidence Set (statistically
               indistinguishable from the best by its FZ0 loss);
  * mcs_share = n_in_mcs / n_mcs (NaN without an MCS, e.g. no ``scores`` given).

Per method, over its rows whose verdict is not "insufficient_data":
  * n_tests        = the p-values of the three tests of the verdict over the rows - Kupiec POF
                     (coverage), Christoffersen independence and Acerbi-Szekely Z2 (ES), 3 a row
                     but where Z2 is null (a window holding a zero forecast: not a failed test);
  * n_tests_passed = how many of those have p >= 5%;
  * breach_ratio   = sum n_breaches / sum expected_breaches (1 = right frequency);
  * score          = n_tests_passed / n_tests - 0.1 * min(|breach_ratio - 1|, 1),
                     rounded to 2 decimals: the pass rate, less up to 0.1 for a breach
                     frequency off target (a ratio of 1.5 or 0.5 costs 0.05, about one failed
                     test in 20). Scores equal to 2 decimals count as equal pass quality.
Rank: mcs_share descending (first the methods the scores cannot tell from the best), then
score descending (coverage verdicts), then mean_var ascending (lower capital for equal
quality), then method name; NaN sorts last. Methods without a sufficient row get score NaN, n_tests 0 and rank last.
``recommended`` marks the rank-1 method when it has a score.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from risk_pipeline.risk.backtests.base import SIGNIFICANCE, BacktestInputError, Verdict

RANKING_COLUMNS = [
    "method", "n_in_mcs", "n_mcs", "mcs_share", "n_tests_passed", "n_tests", "breach_ratio", "mean_var", "score",
    "rank", "recommended",
]  # fmt: skip
RANKED_TESTS = ("kupiec_p", "christoffersen_p", "z2_p")
BREACH_RATIO_WEIGHT = 0.1

_NEEDED = {"method", "n_breaches", "expected_breaches", "verdict", *RANKED_TESTS}


def rank_methods(backtests: pd.DataFrame, var_levels: pd.DataFrame, scores: pd.DataFrame | None = None) -> pd.DataFrame:
    """Ranking table (``RANKING_COLUMNS``, sorted by rank) of the methods in ``backtests``.

    ``var_levels`` has columns ``method`` and ``mean_var`` (several rows per method, e.g. per
    confidence and horizon, are averaged). ``scores``: ``var_scores`` rows (columns method,
    compared, mcs_computed, in_mcs) of the same portfolio, as-of date and window, or None.
    Rules in the module docstring.
    """
    missing = _NEEDED - set(backtests.columns)
    if missing:
        raise BacktestInputError(f"backtests lacks columns {sorted(missing)}")
    for col in ("portfolio", "as_of", "backtest_window_days"):
        if col in backtests.columns and backtests[col].nunique() > 1:
            raise BacktestInputError(f"backtests must hold one {col}, got {backtests[col].nunique()}")
    if not {"method", "mean_var"} <= set(var_levels.columns):
        raise BacktestInputError("var_levels must have columns 'method' and 'mean_var'")
    levels = var_levels.groupby("method")["mean_var"].mean()
    methods = sorted(backtests["method"].unique())
    absent = [m for m in methods if m not in levels.index]
    if absent:
        raise BacktestInputError(f"var_levels has no mean_var for method {absent[0]!r}")

    ok = backtests[backtests["verdict"] != Verdict.INSUFFICIENT_DATA]
    passed = (ok[list(RANKED_TESTS)] >= SIGNIFICANCE).sum(axis=1)
    tested = ok[list(RANKED_TESTS)].notna().sum(axis=1)  # Z2 is null on a window holding a zero forecast
    per = (
        pd.DataFrame(
            {
                "method": ok["method"],
                "passed": passed,
                "tests": tested,
                "n_breaches": ok["n_breaches"],
                "expected": ok["expected_breaches"],
            }
        )
        .groupby("method")
        .sum()
        .reindex(methods)
    )
    n_tests = per["tests"].fillna(0).astype(np.int64)
    n_passed = per["passed"].fillna(0).astype(np.int64)
    ratio = per["n_breaches"] / per["expected"]
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = n_passed / n_tests.where(n_tests > 0)
    score = (rate - BREACH_RATIO_WEIGHT * np.minimum((ratio - 1.0).abs(), 1.0)).round(2)
    n_mcs, n_in = _mcs_counts(scores, methods)
    out = pd.DataFrame(
        {
            "method": methods,
            "n_in_mcs": n_in,
            "n_mcs": n_mcs,
            "mcs_share": np.where(n_mcs > 0, n_in / np.maximum(n_mcs, 1), np.nan),
            "n_tests_passed": n_passed.to_numpy(),
            "n_tests": n_tests.to_numpy(),
            "breach_ratio": ratio.to_numpy(dtype=float),
            "mean_var": levels.reindex(methods).to_numpy(dtype=float),
            "score": score.to_numpy(dtype=float),
        }
    )
    out = out.sort_values(
        ["mcs_share", "score", "mean_var", "method"], ascending=[False, False, True, True], na_position="last"
    )
    out["rank"] = np.arange(1, len(out) + 1, dtype=np.int64)
    out["recommended"] = (out["rank"] == 1) & out["score"].notna()
    return out.reset_index(drop=True)[RANKING_COLUMNS]


def _mcs_counts(scores: pd.DataFrame | None, methods: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per method: the MCS-tested series that compared it, and how many had it in the set."""
    if scores is None or scores.empty:
        return np.zeros(len(methods), dtype=np.int64), np.zeros(len(methods), dtype=np.int64)
    missing = {"method", "compared", "mcs_computed", "in_mcs"} - set(scores.columns)
    if missing:
        raise BacktestInputError(f"scores lacks columns {sorted(missing)}")
    for col in ("portfolio", "as_of", "backtest_window_days"):
        if col in scores.columns and scores[col].nunique() > 1:
            raise BacktestInputError(f"scores must hold one {col}, got {scores[col].nunique()}")
    tested = scores.loc[scores["compared"].astype(bool) & scores["mcs_computed"].astype(bool)]
    n_mcs = tested.groupby("method").size().reindex(methods, fill_value=0)
    n_in = tested.loc[tested["in_mcs"].astype(bool)].groupby("method").size().reindex(methods, fill_value=0)
    return n_mcs.to_numpy(dtype=np.int64), n_in.to_numpy(dtype=np.int64)
