"""Fixed schemas of the tables users query (docs/design.md: column names are an interface;
docs/tables.md is generated from here).

Each table is a Delta table of the lake; ``day_column`` names the date column of its
business-day partitions (``as_of`` for backtests, ``date`` elsewhere) and ``key_column`` what a
run computes rows for: the portfolio (desk) of the per-portfolio tables, the symbol of
``prices`` and ``returns``, the bond book of ``bond_pnl``. A run replaces the rows of its days
and of the keys it computed only (``lake.write_days``); a table without a key column (the
bank-wide ``frtb_capital``) is replaced by whole days.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa


@dataclass(frozen=True)
class TableSchema:
    name: str
    schema: pa.Schema
    day_column: str = "date"
    description: str = ""
    key_column: str | None = "portfolio"

    @property
    def columns(self) -> list[str]:
        return self.schema.names


def _table(name: str, fields: list[tuple[str, pa.DataType]], description: str, day_column: str = "date",
           key_column: str | None = "portfolio") -> TableSchema:
    return TableSchema(name, pa.schema(fields), day_column, description, key_column)


_D, _S, _F, _I, _B = pa.date32(), pa.string(), pa.float64(), pa.int64(), pa.bool_()

TABLES: dict[str, TableSchema] = {
    t.name: t
    for t in [
        _table(
            "prices",
            [("date", _D), ("symbol", _S), ("close", _F), ("currency", _S), ("source", _S)],
            "Validated daily closes, one row per symbol and trading day.",
            key_column="symbol",
        ),
        _table(
            "returns",
            [("date", _D), ("symbol", _S), ("simple_return", _F), ("log_return", _F), ("currency", _S)],
            "Close-to-close returns per symbol in the symbol's own currency (previous trading day to this one).",
            key_column="symbol",
        ),
        _table(
            "fx_rates",
            [("date", _D), ("currency", _S), ("rate", _F), ("source", _S)],
            "The FX rates the books are converted with, per currency they need and rate date: units of currency "
            "per 1 EUR and where the rate came from (ecb; after the ECB's last fixing of a currency, the second "
            "source of pipeline.yaml's fx section: csv:<file name>, moex:USD000UTSTOM or yfinance:USDRUB=X).",
            key_column="currency",
        ),
        _table(
            "portfolio_pnl",
            [
                ("date", _D), ("portfolio", _S), ("base_currency", _S),
                ("value", _F), ("pnl", _F), ("simple_return", _F),
            ],
            "Per portfolio and day: closing value, P&L over the day and simple return, in base currency.",
        ),
        _table(
            "var_estimates",
            [
                ("date", _D), ("portfolio", _S), ("method", _S), ("confidence", _F), ("horizon_days", _I),
                ("estimation_window_days", _I), ("var", _F), ("es", _F), ("var_amount", _F), ("es_amount", _F),
                ("base_currency", _S),
            ],
            "VaR and ES forecast for day t (built from returns up to t-1), fractions and base-currency amounts.",
        ),
        _table(
            "var_backtests",
            [
                ("as_of", _D), ("portfolio", _S), ("method", _S), ("confidence", _F), ("horizon_days", _I),
                ("backtest_window_days", _I), ("n_obs", _I), ("n_breaches", _I), ("expected_breaches", _F),
                ("kupiec_lr", _F), ("kupiec_p", _F), ("christoffersen_lr", _F), ("christoffersen_p", _F),
                ("cc_lr", _F), ("cc_p", _F), ("tuff_lr", _F), ("tuff_p", _F),
                ("duration_lr", _F), ("duration_p", _F), ("dq_stat", _F), ("dq_p", _F),
                ("z2_stat", _F), ("z2_p", _F), ("mcneil_frey_stat", _F), ("mcneil_frey_p", _F),
                ("traffic_light", _S), ("plus_factor", _F), ("verdict", _S), ("overlapping", _B),
            ],
            "Backtests of each VaR/ES forecast series as of each date, over trailing windows of backtest_window_days "
            "trading days (250, the Basel traffic light, and 1000 by default).",
            day_column="as_of",
        ),
        _table(
            "forecast_scores",
            [
                ("date", _D), ("forecast_date", _D), ("portfolio", _S), ("method", _S), ("confidence", _F),
                ("horizon_days", _I), ("loss", _F), ("var", _F), ("es", _F), ("tick_loss", _F), ("fz0_loss", _F),
            ],
            "Per realized forecast (the non-overlapping observations of var_backtests), stored on the day its "
            "loss is known: quantile (tick) loss of the VaR and FZ0 joint loss of (VaR, ES) (risk.backtests.scoring).",
        ),
        _table(
            "var_scores",
            [
                ("as_of", _D), ("portfolio", _S), ("method", _S), ("confidence", _F), ("horizon_days", _I),
                ("backtest_window_days", _I), ("n_obs", _I), ("mean_tick_loss", _F), ("mean_fz0_loss", _F),
                ("compared", _B), ("comparison_obs", _I), ("not_compared_reason", _S), ("best_method", _S),
                ("fz0_diff_to_best", _F), ("dm_stat", _F), ("dm_p", _F),
                ("dm_lag", _I), ("mcs_computed", _B), ("in_mcs", _B), ("mcs_p", _F),
            ],
            "Mean tick and FZ0 losses per method over trailing windows as of each day, Diebold-Mariano tests "
            "against the best method and the 90% Model Confidence Set over the compared methods' common days "
            "(comparison_obs; a method left out says why in not_compared_reason) (risk.backtests.scoring).",
            day_column="as_of",
        ),
        _table(
            "var_decomposition",
            [
                ("date", _D), ("portfolio", _S), ("symbol", _S), ("weight", _F), ("marginal_var", _F),
                ("component_var", _F), ("pct_contribution", _F), ("incremental_var", _F),
                ("component_es_historical", _F), ("component_var_amount", _F), ("confidence", _F),
                ("estimation_window_days", _I), ("base_currency", _S),
            ],
            "Per portfolio, day and position: parametric (Ledoit-Wolf) marginal, component and incremental VaR "
            "and historical component ES, fractions of value (Euler: components sum to the total).",
        ),
        _table(
            "stress_results",
            [
                ("date", _D), ("portfolio", _S), ("scenario", _S), ("pnl", _F), ("simple_return", _F), ("proxied", _B),
                ("scenario_type", _S), ("base_currency", _S),
            ],
            "Per portfolio, day and scenario: P&L (base currency) and simple return of the positions held that day.",
        ),
        _table(
            "reverse_stress",
            [
                ("date", _D), ("portfolio", _S), ("scenario", _S), ("target_loss", _F), ("multiplier", _F),
                ("feasible", _B), ("achieved_loss", _F), ("target_loss_fraction", _F), ("base_currency", _S),
            ],
            "Per portfolio, day and scenario: the multiplier of the scenario's shocks that loses the target.",
        ),
        _table(
            "historical_replay",
            [
                ("date", _D), ("portfolio", _S), ("episode", _S), ("worst_date", _D), ("worst_cum_pnl", _F),
                ("worst_cum_return", _F), ("final_cum_return", _F), ("n_days", _I), ("proxied", _B),
                ("base_currency", _S),
            ],
            "Per portfolio, day and episode: the held positions replayed through the episode, worst point.",
        ),
        _table(
            "limit_status",
            [
                ("date", _D), ("portfolio", _S), ("measure", _S), ("horizon_days", _I), ("confidence", _F),
                ("value", _F), ("limit_amount", _F), ("utilization", _F), ("status", _S), ("method", _S),
                ("base_currency", _S),
            ],
            "Per portfolio, day and limit: the VaR/ES amount of the positions held over the day, measured by "
            "`method` (historical_positions: risk_pipeline.risk.limits), limit amount, utilization and status.",
        ),
        _table(
            "bond_pnl",
            [
                ("date", _D), ("book", _S), ("bond", _S), ("currency", _S), ("base_currency", _S),
                ("dirty_price", _F), ("value_local", _F), ("value_base", _F), ("pnl_local", _F), ("pnl_approx", _F),
                ("pnl_fx", _F), ("pnl_cross", _F), ("pnl_base", _F), ("dv01", _F), ("modified_duration", _F),
                ("convexity", _F), ("yield_series", _S), ("yield", _F), ("coupon_local", _F), ("fx_rate", _F),
                ("pnl_local_base", _F), ("pnl_carry", _F),
            ],
            "Per bond book, bond and day: dirty price (per 100 face), value and P&L by full repricing (local), "
            "its duration-convexity approximation, base-currency P&L = local + FX + cross terms, DV01 and "
            "durations (risk_pipeline.risk.instruments.bond_pnl).",
            key_column="book",
        ),
        _table(
            "frtb_es",
            [
                ("date", _D), ("portfolio", _S), ("base_currency", _S), ("risk_class", _S), ("es_10d", _F),
                ("es_full_current", _F), ("es_reduced_current", _F), ("es_reduced_stressed", _F), ("imes", _F),
                ("stress_start", _D), ("stress_end", _D),
            ],
            "FRTB expected shortfall (MAR33.4-33.5) per desk (portfolio; the bank's rows under frtb.yaml's bank_name) "
            "and risk class (all, equity, fx): 10-day ES at 97.5% on the current 250-day window, liquidity-adjusted "
            "ES of the full and reduced factor sets, the reduced set's ES on the stressed 250-day window "
            "stress_start..stress_end and IMES = ES_RS x ES_FC / ES_RC; amounts in base_currency (docs/frtb.md). "
            "Non-modellable risk factors (SES) and the default risk charge are out of scope.",
        ),
        _table(
            "frtb_desks",
            [
                ("date", _D), ("portfolio", _S), ("base_currency", _S), ("hpl", _F), ("rtpl", _F),
                ("var_amount_99", _F), ("var_amount_975", _F), ("exceptions_99", _I), ("exceptions_975", _I),
                ("backtest_zone", _S), ("pla_spearman", _F), ("pla_ks", _F), ("pla_zone", _S), ("eligible", _B),
            ],
            "FRTB desk tests (MAR32) per desk and day: hypothetical and risk-theoretical P&L, the desk model's 1-day "
            "VaR at 99% and 97.5%, exceptions over the last 250 days (desk limits 12 and 30), backtesting zone, P&L "
            "attribution test (Spearman, Kolmogorov-Smirnov, zone) and eligibility for the internal models approach; "
            "the bank's row holds the bank-wide backtest only (docs/frtb.md).",
        ),
        _table(
            "frtb_capital",
            [
                ("date", _D), ("portfolio", _S), ("base_currency", _S), ("imcc_unconstrained", _F), ("imcc_equity", _F),
                ("imcc_fx", _F), ("imcc", _F), ("imcc_average", _F), ("exceptions_99", _I), ("backtest_zone", _S),
                ("capital_plus_factor", _F), ("multiplier", _F), ("capital_charge", _F), ("binding", _S),
            ],
            "FRTB capital of the bank per day (MAR33.15, MAR33.41): IMCC from the unconstrained and per-class IMES "
            "(rho = 0.5), its 60-day average, the multiplier 1.5 + plus factor of the bank-wide 99% backtest, and "
            "capital_charge = C_A = max(IMCC, multiplier x average) (binding: spot or average), as if every desk were "
            "under the internal models approach. SES (non-modellable risk factors) and the default risk charge are out "
            "of scope (docs/frtb.md).",
            key_column=None,
        ),
    ]
}


def table_schema(name: str) -> TableSchema:
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"unknown table {name!r}; known tables: {sorted(TABLES)}") from None
