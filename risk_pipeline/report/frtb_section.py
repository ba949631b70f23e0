"""The FRTB section of the risk report: the bank's capital charge C_A and IMCC over the charted
period (chart), the desks' backtesting and P&L attribution zones and the latest IMES per desk
(from the frtb_capital, frtb_desks and frtb_es tables; docs/frtb.md)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import StrMethodFormatter

from risk_pipeline.report.charts import fixed_margins, left_title, png_bytes
from risk_pipeline.storage.lake import read_days, stored_days

SCOPE_NOTE = ("Internal models approach for modellable risk factors only: non-modellable risk factors (SES) and the "
              "default risk charge are out of scope, and C_A treats every desk as if it were eligible.")
DESK_COLUMNS = ["portfolio", "exceptions_99", "exceptions_975", "backtest_zone", "pla_spearman", "pla_ks", "pla_zone",
                "eligible"]
ES_COLUMNS = ["portfolio", "base_currency", "es_unadjusted", "es_full_current", "es_reduced_stressed", "imes", "stress_start",
              "stress_end"]


def capital_history(as_of: dt.date, chart_start: dt.date) -> pd.DataFrame:
    """frtb_capital rows from ``chart_start`` to ``as_of`` (empty when the table is not stored)."""
    days = stored_days("frtb_capital", first=chart_start, last=as_of)
    return read_days("frtb_capital", days).sort_values("date").reset_index(drop=True) if days else pd.DataFrame()


def capital_chart(history: pd.DataFrame) -> bytes:
    """C_A, IMCC and multiplier x 60-day average IMCC of the bank over time."""
    fig = Figure(figsize=(13, 3.6))
    ax = fig.subplots()
    ccy = history["base_currency"].iloc[0] if len(history) else ""
    ax.plot(history["date"], history["capital_charge"], color="#d62728", lw=1.4, label="C_A (capital charge)")
    ax.plot(history["date"], history["imcc"], color="#1f77b4", lw=0.8, label="IMCC (spot)")
    ax.plot(history["date"], history["capital_multiplier"] * history["imcc_average"], color="#7f7f7f", lw=0.8, ls="--",
            label="m_c x 60-day average IMCC")
    ax.set_ylabel(ccy)
    ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    left_title(ax, "FRTB internal models capital of the bank (every desk)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(alpha=0.3)
    fixed_margins(fig, left=1.1, right=2.0)
    return png_bytes(fig)


def latest_desks(extras: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The desks' zones on the latest stored day (DESK_COLUMNS; empty without frtb_desks)."""
    frame = extras.get("frtb_desks")
    return frame[DESK_COLUMNS].sort_values("portfolio").reset_index(drop=True) if frame is not None else pd.DataFrame()


def latest_es(extras: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Every desk's and the bank's latest ES figures, all risk classes together (ES_COLUMNS)."""
    frame = extras.get("frtb_es")
    if frame is None:
        return pd.DataFrame()
    return frame.loc[frame["risk_class"] == "all", ES_COLUMNS].sort_values("portfolio").reset_index(drop=True)
