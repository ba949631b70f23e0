"""Mean FZ0 and tick losses of parametric_t with dof by moments and by maximum likelihood.

Reads every book's returns from the lake of ``RISK_PIPELINE_DATA`` (a backfill), computes both
variants at the pipeline's window, and prints per book, confidence and horizon 1 the mean
scores over the last ``--days`` trading days and the Diebold-Mariano test of the difference
(risk.backtests.scoring). The numbers back the choice of the default in docs/methods.md.

    RISK_PIPELINE_DATA=/tmp/lake .venv/bin/python scripts/compare_t_dof.py --days 1000
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from risk_pipeline.risk import rolling_var_es
from risk_pipeline.risk.backtests.scoring import McsSettings, compare_methods, fz0_loss, tick_loss
from risk_pipeline.storage.lake import read_days, stored_days


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=1000)
    parser.add_argument("--window", type=int, default=252)
    args = parser.parse_args()
    pnl = read_days("portfolio_pnl", stored_days("portfolio_pnl"), columns=["portfolio", "simple_return"])
    rows = []
    for book, group in pnl.groupby("portfolio"):
        returns = group.set_index("date")["simple_return"].sort_index().dropna()
        loss = -returns.to_numpy()
        for confidence in (0.95, 0.99):
            fz0, tick = {}, {}
            for dof in ("moments", "mle"):
                f = rolling_var_es(returns, method="parametric_t", confidence=confidence, window=args.window, dof=dof)
                fz0[dof] = fz0_loss(loss, f["var"].to_numpy(), f["es"].to_numpy(), confidence)
                tick[dof] = tick_loss(loss, f["var"].to_numpy(), confidence)
            fz0, tick = pd.DataFrame(fz0).iloc[args.window :], pd.DataFrame(tick).iloc[args.window :]
            pos = np.arange(len(fz0))
            out = compare_methods(fz0, tick, pos, pos[-1:], np.zeros(1, bool), (args.days,), McsSettings())
            for r in out.itertuples():
                rows.append({"book": book, "confidence": confidence, "dof": r.method, "n_obs": r.n_obs,
                             "mean_fz0": r.mean_fz0_loss, "mean_tick": r.mean_tick_loss, "best": r.best_method,
                             "dm_stat": r.dm_stat, "dm_p": r.dm_p})
    with pd.option_context("display.width", 200):
        print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.4f}"))


if __name__ == "__main__":
    main()
