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
            "The FX rates the books are converted with, per currency they need and trading day with prices that has "
            "a fixing (a trading day without one uses the latest fixing of the 5 days before): units of currency "
            "per 1 EUR and where the rate came from (ecb; after the ECB's last fixing of a currency, the second "
            "source of pipeline.yaml's fx section: csv:<file name>, moex:USD000UTSTOM or yfinance:USDRUB=X).",
            key_column="currency",
        ),
        _table(
            "positions",
            [("date", _D), ("portfolio", _S), ("symbol", _S), ("quantity", _F), ("currency", _S)],
            "Per portfolio, day and instrument: the units held at the day's close. A weight portfolio of "
            "portfolios.yaml holds its weights rebalanced to the notional at each close, a quantity portfolio its "
            "quantities; a book of record what its source says (docs/positions.md).",
        ),
        _table(
            "trades",
            [
                ("date", _D), ("portfolio", _S), ("symbol", _S), ("quantity", _F), ("price", _F), ("fees", _F),
                ("currency", _S), ("trade_id", _S),
            ],
            "The trades of the books of record, per trade date as their source gives them (docs/positions.md).",
        ),
        _table(
            "portfolio_pnl",
            [
                ("date", _D), ("portfolio", _S), ("base_currency", _S),
                ("value", _F), ("pnl", _F), ("simple_return", _F), ("hypothetical_pnl", _F), ("actual_pnl", _F),
                ("actual_return", _F), ("gross_exposure", _F), ("n_positions", _I), ("traded_value", _F),
            ],
            "Per portfolio and day: closing value, P&L over the day and simple return, in base currency; "
            "hypothetical P&L (the positions of the previous close revalued) and actual P&L (with the day's "
            "trades and fees).",
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
                ("backtest_window_days", _I), ("whole_sample", _B), ("n_obs", _I), ("n_breaches", _I),
                ("expected_breaches", _F), ("kupiec_lr", _F), ("kupiec_p", _F), ("christoffersen_lr", _F), ("christoffersen_p", _F),
                ("n00", _I), ("n01", _I), ("n10", _I), ("n11", _I), ("cc_lr", _F), ("cc_p", _F), ("tuff_lr", _F), ("tuff_p", _F),
                ("duration_lr", _F), ("duration_p", _F), ("dq_stat", _F), ("dq_p", _F),
                ("z2_stat", _F), ("z2_p", _F), ("mcneil_frey_stat", _F), ("mcneil_frey_p", _F),
                ("traffic_light", _S), ("plus_factor", _F), ("verdict", _S), ("overlapping", _B),
                ("n_actual_breaches", _I), ("actual_kupiec_p", _F), ("actual_traffic_light", _S),
            ],
            "Backtests of each VaR/ES forecast series as of each date, over trailing windows of backtest_window_days "
            "trading days (250, the Basel traffic light, and 1000 by default).",
            day_column="as_of",
        ),
        _table(
            "forecast_scores",
            [
                ("date", _D), ("forecast_date", _D), ("portfolio", _S), ("method", _S), ("confidence", _F),
                ("horizon_days", _I), ("loss", _F), ("var", _F), ("es", _F), ("loss_amount", _F), ("var_amount", _F),
                ("es_amount", _F), ("score_basis", _S), ("tick_loss", _F), ("fz0_loss", _F),
            ],
            "Per realized forecast (the non-overlapping observations of var_backtests), stored on the day its "
            "loss is known: realized loss, VaR and ES as fractions of value (a portfolio) and in base currency, "
            "quantile (tick) loss of the VaR and FZ0 joint loss of (VaR, ES) on the pair of score_basis "
            "(risk.backtests.scoring).",
        ),
        _table(
            "var_scores",
            [
                ("as_of", _D), ("portfolio", _S), ("method", _S), ("confidence", _F), ("horizon_days", _I),
                ("backtest_window_days", _I), ("n_obs", _I), ("score_basis", _S), ("mean_tick_loss", _F),
                ("mean_fz0_loss", _F), ("compared", _B), ("comparison_obs", _I), ("not_compared_reason", _S), ("best_method", _S),
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
                ("measured_amount", _F), ("limit_amount", _F), ("utilization", _F), ("status", _S), ("method", _S),
                ("base_currency", _S),
            ],
            "Per portfolio, day and limit: the VaR/ES amount of the positions held over the day, measured by "
            "`method` (historical_positions: risk_pipeline.risk.limits), limit amount, utilization and status.",
        ),
        _table(
            "risk_summary",
            [
                ("date", _D), ("portfolio", _S), ("base_currency", _S), ("method", _S), ("method_rule", _S),
                ("method_chosen_as_of", _D), ("confidence", _F), ("value_held", _F),
                ("var_1d", _F), ("es_1d", _F), ("var_10d", _F), ("es_10d", _F), ("var_1d_amount", _F),
                ("es_1d_amount", _F), ("var_10d_amount", _F), ("es_10d_amount", _F), ("var_1d_amount_change", _F),
                ("var_1d_change_positions", _F), ("var_1d_change_market", _F), ("var_1d_change_method", _F),
            ],
            "Per portfolio and day the official VaR and ES (the method of pipeline.yaml's official section) at 1 "
            "and 10 days, and the change of the 1-day VaR amount since the previous business day split into "
            "positions, market and method (risk_pipeline.risk.official; docs/analytics.md).",
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
            "option_greeks",
            [
                ("date", _D), ("book", _S), ("level", _S), ("option", _S), ("option_type", _S), ("underlying", _S),
                ("strike", _F), ("expiry", _D), ("quantity", _F), ("contract_multiplier", _F), ("currency", _S),
                ("base_currency", _S), ("spot", _F), ("implied_vol", _F), ("vol_source", _S), ("years_to_expiry", _F),
                ("interest_rate", _F), ("dividend_yield", _F), ("fx_rate", _F), ("option_price", _F),
                ("position_value", _F), ("delta", _F), ("gamma", _F), ("vega", _F), ("theta", _F), ("rho", _F),
                ("delta_amount", _F), ("gamma_amount", _F), ("vega_amount", _F), ("theta_amount", _F),
                ("rho_amount", _F),
            ],
            "Per option book (options.positions_file) and close: each position (level position: an option, or the "
            "daily delta hedge in the underlying), their sums per underlying (level underlying) and for the book (level "
            "book); Black-Scholes-Merton price and Greeks per unit and in base currency (risk_pipeline.risk.options).",
            key_column="book",
        ),
        _table(
            "option_pnl",
            [
                ("date", _D), ("book", _S), ("base_currency", _S), ("hypothetical_pnl", _F), ("n_options", _I),
                ("n_expired", _I), ("vol_source", _S),
            ],
            "Per option book and day: hypothetical P&L of the book held at the previous close (options and the delta "
            "hedge) revalued at the day's close, FX included; an option expiring in between pays its intrinsic value; "
            "both closes valued with one volatility source (risk_pipeline.option_books.book_pnl). The realized series "
            "of the option books' var_backtests and forecast_scores (on amounts).",
            key_column="book",
        ),
        _table(
            "option_limit_status",
            [
                ("date", _D), ("book", _S), ("level", _S), ("underlying", _S), ("measure", _S), ("horizon_days", _I),
                ("confidence", _F), ("method", _S), ("measured_amount", _F), ("limit_amount", _F),
                ("utilization", _F), ("status", _S), ("event", _S),
            ],
            "Per option book and day: each Greek cap (measure delta, gamma, vega or theta of the book or of one "
            "underlying, the absolute net amount of option_greeks against the cap, tightened before an event) and each VaR/ES "
            "limit (on the book's full_revaluation rows of var_estimates) of limits.yaml's option_books (risk_pipeline.risk.options.caps).",
            key_column="book",
        ),
        _table(
            "option_stress",
            [
                ("date", _D), ("book", _S), ("base_currency", _S), ("scenario", _S), ("scenario_type", _S),
                ("pnl", _F), ("proxied", _B), ("n_options", _I), ("vol_source", _S),
            ],
            "Per option book, day and scenario of scenarios.yaml: P&L of the book held at the previous close, every "
            "option repriced under the scenario's moves of the spot, the implied volatility (the scenario's "
            "volatility field; a historical window's change of at-the-money volatility) and FX "
            "(risk_pipeline.risk.options.stress).",
            key_column="book",
        ),
        _table(
            "option_replay",
            [
                ("date", _D), ("book", _S), ("base_currency", _S), ("episode", _S), ("worst_date", _D),
                ("worst_cum_pnl", _F), ("final_cum_pnl", _F), ("n_days", _I), ("proxied", _B), ("n_options", _I),
                ("vol_source", _S),
            ],
            "Per option book, day and historical episode of scenarios.yaml: the book held at the previous close "
            "repriced at each close of the episode under the moves since the close before it (spot, at-the-money "
            "volatility change, FX; no time passing), its worst point and its end (risk_pipeline.option_books).",
            key_column="book",
        ),
        _table(
            "option_reverse_stress",
            [
                ("date", _D), ("book", _S), ("base_currency", _S), ("scenario", _S), ("scenario_type", _S),
                ("target_var_multiple", _F), ("target_loss", _F), ("multiplier", _F), ("feasible", _B),
                ("achieved_loss", _F), ("proxied", _B), ("n_options", _I), ("vol_source", _S),
            ],
            "Per option book, day and scenario of scenarios.yaml: the smallest multiple of the scenario's spot, "
            "implied-volatility and FX moves (scaled together) at which the book held at the previous close, every "
            "option repriced, loses target_var_multiple x its 1-day 99% full-revaluation var_amount of var_estimates "
            "(grid scan on stress.reverse_bracket, then a bracketing root finder; risk_pipeline.risk.options.reverse).",
            key_column="book",
        ),
        _table(
            "frtb_es",
            [
                ("date", _D), ("portfolio", _S), ("base_currency", _S), ("risk_class", _S), ("es_unadjusted", _F),
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
                ("capital_plus_factor", _F), ("capital_multiplier", _F), ("capital_charge", _F), ("binding", _S),
            ],
            "FRTB capital of the bank per day (MAR33.15, MAR33.41): IMCC from the unconstrained and per-class IMES "
            "(rho = 0.5), its 60-day average, the capital_multiplier 1.5 + plus factor of the bank-wide 99% backtest, "
            "and capital_charge = C_A = max(IMCC, capital_multiplier x average) (binding: spot or average), as if every "
            "desk were under the internal models approach. SES (non-modellable risk factors) and the default risk charge "
            "are out of scope (docs/frtb.md).",
            key_column=None,
        ),
    ]
}


def table_schema(name: str) -> TableSchema:
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"unknown table {name!r}; known tables: {sorted(TABLES)}") from None


# What each column means and its unit, by column name: one name has one meaning in every table, so one
# entry serves every table that has the column (docs/tables.md shows both; test_schemas.py checks that every
# column has one). "fraction": of the value named, 0.01 = 1%; amounts are in the currency named.
COLUMNS: dict[str, tuple[str, str]] = {
    # name: (meaning, unit)
    "date": ("the trading day of the row, its partition (var_estimates: the day forecast; forecast_scores: the day "
             "the loss became known)", "date"),
    "as_of": ("the day a backtest or score is computed as of: it uses the forecasts whose loss is known by then; "
              "a day the book has a P&L (portfolio_pnl; an option book's option_pnl), none after the last day of a "
              "series that ends (prices.last_dates), though its trailing windows still hold forecasts", "date"),
    "symbol": ("ticker of the asset, as in the price source", "text"),
    "close": ("closing price (adjusted close where the source adjusts; a bond instrument: its total-return value "
              "from 100 on its yield series' first date)", "the row's currency"),
    "currency": ("3-letter code of the row's currency: the one a close, return, position, trade or bond is quoted in; "
                 "in fx_rates the currency the rate is of", "ISO 4217 code"),
    "rate": ("units of `currency` for one euro on the day (the ECB's convention, kept for every source)", "currency per EUR"),
    "source": ("where the row's market data came from: for a close the price source (bundled, csv:FILE, yfinance, "
               "moex; yield_repricing for a bond instrument priced from its yield), for an FX rate the rate source (ecb, csv:FILE, moex:USD000UTSTOM, yfinance:USDRUB=X)", "text"),
    "simple_return": ("simple return over the day (close_t / close_t-1 - 1; a portfolio's P&L over its value at the "
                      "previous close; stress_results: the scenario's P&L over the held value)", "fraction"),
    "log_return": ("log return over the day, ln(close_t / close_t-1)", "fraction (log)"),
    "portfolio": ("portfolio name of portfolios.yaml or one of its books_of_record (var_estimates, var_backtests, "
                  "forecast_scores, var_scores: also an option book of options.positions_file; FRTB tables: a desk, "
                  "or the bank under frtb.yaml's bank_name)",
                  "text"),
    "base_currency": ("the portfolio's (or bond book's) base currency, the currency of its amounts", "ISO 4217 code"),
    "value": ("the portfolio's value at the day's close", "base currency"),
    "quantity": ("units of the instrument: held at the day's close (positions) or bought (trades); negative = "
                 "short or sold", "units"),
    "price": ("the trade's price per unit", "the row's currency"),
    "fees": ("the trade's fees and commissions, a cost (>= 0)", "the row's currency"),
    "trade_id": ("the booking system's identifier of the trade (null when its source gives none)", "text"),
    "hypothetical_pnl": ("P&L of the positions of the previous close revalued at the day's close, FX included "
                         "(portfolio_pnl: = pnl; option_pnl: an option expiring in between at its intrinsic value; "
                         "the P&L of Basel's backtesting and FRTB's P&L attribution)", "base currency"),
    "n_expired": ("options of the previous close that expired by the day's close (paid at their intrinsic value)",
                  "count"),
    "actual_pnl": ("hypothetical_pnl plus the day's trades from their price to the close, minus their fees",
                   "base currency"),
    "gross_exposure": ("sum of the absolute values of the positions held at the close (the value is their sum, "
                       "the net exposure)", "base currency"),
    "n_positions": ("number of instruments held at the close (a quantity other than 0)", "count"),
    "traded_value": ("sum over the instruments of the absolute change of the units held since the previous close "
                     "times the close times FX (a weight book's rebalancing to its notional included)", "base currency"),
    "actual_return": ("actual_pnl over the value of the previous close, null where simple_return is (equals "
                      "simple_return for a book without trades)", "fraction of value"),
    "pnl": ("profit and loss, gain positive (portfolio_pnl: over the day; stress_results, option_stress: under the "
            "scenario)",
            "base currency"),
    "method": ("how the VaR/ES was estimated: one of risk_pipeline.risk.METHODS (historical, parametric_normal, ...); in "
               "limit_status historical_positions (risk.limits.LIMIT_METHOD), or none where there is no measure; in "
               "var_estimates, var_backtests, forecast_scores and var_scores of an option book full_revaluation, delta_gamma_vega or "
               "delta_only (risk.options.var.OptionVarMethod); in "
               "option_limit_status full_revaluation for a VaR/ES limit, null for a Greek cap", "text"),
    "confidence": ("confidence level c of the VaR/ES; tail probability 1 - c", "fraction (0.99 = 99%)"),
    "horizon_days": ("horizon of the VaR/ES and of its loss", "trading days"),
    "estimation_window_days": ("trailing returns the estimate is built from", "trading days"),
    "var": ("value at risk: the loss not exceeded with probability c over the horizon, loss positive (an option "
            "book: empty, it has no value scale; its VaR is var_amount)", "fraction of value"),
    "es": ("expected shortfall: the mean loss beyond the VaR, loss positive (an option book: empty; its ES is "
           "es_amount)", "fraction of value"),
    "var_amount": ("VaR in money of the positions held at the previous close: var x that close's value (a book "
                   "whose value is under 5% of its gross exposure: the gross exposure's, and var empty; docs/methods.md; "
                   "an option book, which has no value scale: the VaR of its scenario P&L itself, var empty; forecast_scores: "
                   "that of the forecast scored); exactly 0 (and var 0 where it has one) within the rounding of the "
                   "book's revaluation, 1024 n eps x the gross exposure of the n positions held (risk.var.rounding: a "
                   "delta-hedged book's delta_only)",
                   "base currency"),
    "es_amount": ("ES in money of the positions held at the previous close: es x that close's value (a book whose "
                  "value is under 5% of its gross exposure: the gross exposure's, and es empty; docs/methods.md; "
                  "an option book: the ES of its scenario P&L itself, es empty; forecast_scores: that of the forecast scored); "
                  "exactly 0 within the rounding of the book's revaluation, as var_amount",
                  "base currency"),
    "backtest_window_days": ("trailing window of the backtest or score: the forecasts whose loss ends within it",
                             "trading days"),
    "whole_sample": ("true: the window is the whole stored history up to as_of (backtests.backtest_window_days "
                     "`all`), backtest_window_days its length; false: a trailing window of backtest_window_days",
                     "boolean"),
    "n_obs": ("non-overlapping realized forecasts in the window", "count"),
    "n_breaches": ("forecasts whose realized loss exceeded the VaR", "count"),
    "expected_breaches": ("breaches expected of a correct model, n_obs x (1 - c)", "count"),
    "kupiec_lr": ("Kupiec proportion-of-failures likelihood ratio (unconditional coverage)", "chi-square(1) statistic"),
    "kupiec_p": ("p-value of kupiec_lr", "probability"),
    "christoffersen_lr": ("Christoffersen independence likelihood ratio (breach clustering)",
                          "chi-square(1) statistic"),
    "christoffersen_p": ("p-value of christoffersen_lr", "probability"),
    "n00": ("consecutive observations in the window without a breach on either: the Christoffersen transition "
            "count n00 behind christoffersen_lr", "count"),
    "n01": ("consecutive observations in the window, no breach then a breach (transition count n01)", "count"),
    "n10": ("consecutive observations in the window, a breach then none (transition count n10)", "count"),
    "n11": ("consecutive observations in the window with a breach on both (transition count n11)", "count"),
    "cc_lr": ("Christoffersen conditional coverage likelihood ratio, kupiec_lr + christoffersen_lr",
              "chi-square(2) statistic"),
    "cc_p": ("p-value of cc_lr", "probability"),
    "tuff_lr": ("time-until-first-failure likelihood ratio", "chi-square(1) statistic"),
    "tuff_p": ("p-value of tuff_lr", "probability"),
    "duration_lr": ("Christoffersen-Pelletier Weibull duration likelihood ratio", "chi-square(1) statistic"),
    "duration_p": ("p-value of duration_lr", "probability"),
    "dq_stat": ("Engle-Manganelli dynamic quantile statistic (4 lags)", "chi-square statistic"),
    "dq_p": ("p-value of dq_stat", "probability"),
    "z2_stat": ("Acerbi-Szekely Z2 expected-shortfall statistic in losses (0 for a correct ES, > 0 when ES is too low)",
                "statistic"),
    "z2_p": ("p-value of z2_stat (simulated); z2_stat and z2_p are null for a window holding a forecast with "
             "ES <= 0 (a zero forecast: no risk within the revaluation's rounding), outside the test's "
             "domain; the coverage tests count it", "probability"),
    "mcneil_frey_stat": ("McNeil-Frey exceedance-residual statistic of the ES", "statistic"),
    "mcneil_frey_p": ("p-value of mcneil_frey_stat (bootstrap); null with its statistic, as z2_p, for a window "
                      "holding a forecast with ES <= 0", "probability"),
    "traffic_light": ("Basel traffic light of the breaches at 99%, 1 day: green, yellow, red, insufficient_data",
                      "text"),
    "plus_factor": ("Basel (1996) add-on to the capital multiplier of 3 for the traffic light's breach count",
                    "multiplier add-on"),
    "verdict": ("pass, fail (Kupiec, Christoffersen or Z2 rejects at 5%, or the light is red) or insufficient_data",
                "text"),
    "n_actual_breaches": ("the same observations' forecasts whose realized loss on the actual P&L (trades and fees "
                          "included) exceeded the VaR; equals n_breaches for a book without trades", "count"),
    "actual_kupiec_p": ("Kupiec POF p-value of n_actual_breaches on n_obs", "probability"),
    "actual_traffic_light": ("Basel traffic light of n_actual_breaches on n_obs: green, yellow, red, "
                             "insufficient_data", "text"),
    "overlapping": ("whether the window's observations overlap (always false: h-day forecasts are sampled every h "
                    "days)", "boolean"),
    "forecast_date": ("the day the forecast was made for (the first day of its horizon)", "date"),
    "loss": ("realized loss over the forecast's horizon, -(compounded simple return), loss positive (an option book: "
             "empty, it has no value scale; its loss is loss_amount)", "fraction of value"),
    "loss_amount": ("realized loss over the forecast's horizon, loss positive: a portfolio's loss x the value its "
                    "forecast was scaled by (var_amount / var, the previous close's value; 1 day: minus the day's "
                    "hypothetical P&L; h days: the loss of the h-day compounded return on that value); an option "
                    "book's minus the sum of its option_pnl hypothetical_pnl over the horizon", "base currency"),
    "score_basis": ("the pair the tick and FZ0 losses are computed on: fraction (loss, var, es: a portfolio) or "
                    "amount (loss_amount, var_amount, es_amount: an option book, which has no value scale); "
                    "var_scores: that of its means and comparisons", "text"),
    "tick_loss": ("quantile (tick) score of the VaR, (1{loss > var} - (1 - c)) (loss - var) on the pair of "
                  "score_basis, lower is better", "fraction of value or base currency, as score_basis says"),
    "fz0_loss": ("FZ0 joint score of (VaR, ES) of Patton, Ziegel and Chen (2019) on the pair of score_basis, lower "
                 "is better; null where es <= 0 (a zero forecast: log(es) is undefined)", "score"),
    "mean_tick_loss": ("mean tick_loss over the window's forecasts (n_obs)", "fraction of value or base currency, "
                       "as score_basis says"),
    "mean_fz0_loss": ("mean fz0_loss over the window's forecasts; null when one of them has no fz0_loss (a zero "
                      "forecast): the method is then not compared", "score"),
    "compared": ("whether the method has an FZ0 score on every observation of the window and takes part in the "
                 "comparison", "boolean"),
    "best_method": ("the compared method with the lowest mean_fz0_loss", "text"),
    "fz0_diff_to_best": ("mean_fz0_loss minus that of best_method", "score"),
    "dm_stat": ("Diebold-Mariano statistic of the FZ0 loss against best_method (Newey-West variance)",
                "standard normal statistic"),
    "dm_p": ("two-sided p-value of dm_stat", "probability"),
    "dm_lag": ("Newey-West lags of dm_stat's variance", "count"),
    "mcs_computed": ("whether the Model Confidence Set was computed for this as-of day (of the book's as-of days in "
                     "the run: the month-ends and the last, the run's last day or the book's last before its series "
                     "ended)", "boolean"),
    "in_mcs": ("whether the method is in the 90% Model Confidence Set (mcs_p > scores.mcs_size)", "boolean"),
    "comparison_obs": ("scored days common to the methods compared in the window: the mean losses' differences, DM "
                       "and the MCS are over them (0 when the method is not compared)", "observations"),
    "not_compared_reason": ("why the method is left out of the window's comparison (undefined_score: a forecast of "
                            "the window without fz0_loss, a zero forecast; too few scored days, no score on the last "
                            "day; empty when compared)", "text"),
    "mcs_p": ("Model Confidence Set p-value of the method (Hansen, Lunde and Nason 2011)", "probability"),
    "weight": ("the position's weight: its exposure over the portfolio's value at the previous close",
               "fraction of value"),
    "marginal_var": ("change of the parametric VaR per unit of the position's weight, dVaR/dw", "fraction of value"),
    "component_var": ("the position's Euler share of the parametric VaR, weight x marginal_var; sums to the VaR",
                      "fraction of value"),
    "pct_contribution": ("component_var over the portfolio's VaR; sums to 1", "fraction of VaR"),
    "incremental_var": ("VaR of the portfolio minus its VaR without the position", "fraction of value"),
    "component_es_historical": ("the position's Euler share of the historical ES; sums to the ES",
                                "fraction of value"),
    "component_var_amount": ("component_var x the value at the previous close", "base currency"),
    "scenario": ("name of the stress scenario of scenarios.yaml", "text"),
    "proxied": ("whether some position had no data in the scenario's window and was proxied by beta x the market "
                "proxy (option_stress: or an underlying's volatility change over the window was not known, taken as 0)",
                "boolean"),
    "scenario_type": ("kind of scenario: historical, uniform_equity, sector or fx", "text"),
    "target_loss": ("the loss the reverse stress must reach, target_loss_fraction x the held value "
                    "(option_reverse_stress: target_var_multiple x the book's 1-day 99% full-revaluation VaR)",
                    "base currency"),
    "multiplier": ("the smallest factor k on the scenario's shocks whose loss reaches target_loss (null when none "
                   "in the bracket does; option_reverse_stress: on its spot, volatility and FX moves together)",
                   "factor (1 = the scenario)"),
    "feasible": ("whether a multiplier in stress.reverse_bracket reaches target_loss", "boolean"),
    "achieved_loss": ("the loss at that multiplier, >= target_loss (option_reverse_stress: equal to it, the root "
                      "found to 1e-13 in the multiplier)", "base currency"),
    "target_var_multiple": ("target_loss over the book's 1-day 99% full-revaluation var_amount of var_estimates "
                            "(stress.option_reverse_var_multiple)", "ratio"),
    "target_loss_fraction": ("target_loss over the held value (stress.reverse_target_loss)", "fraction of value"),
    "episode": ("name of the historical episode replayed (a historical scenario of scenarios.yaml)", "text"),
    "worst_date": ("day of the episode with the lowest cumulative P&L", "date"),
    "worst_cum_pnl": ("cumulative P&L of the held positions at worst_date, gain positive", "base currency"),
    "final_cum_pnl": ("cumulative P&L of the held positions at the episode's last day, gain positive", "base currency"),
    "worst_cum_return": ("worst_cum_pnl over the held value", "fraction of value"),
    "final_cum_return": ("cumulative return over the whole episode", "fraction of value"),
    "n_days": ("trading days of the episode", "trading days"),
    "measure": ("the limited risk measure: var or es; in option_limit_status also a capped Greek: delta, gamma, vega "
                "or theta", "text"),
    "measured_amount": ("the measure's amount on this day: VaR/ES of the positions held over the day, by `method` "
                        "(option_limit_status: a Greek's net amount of option_greeks, its absolute value is capped)",
                        "base currency"),
    "limit_amount": ("the limit of limits.yaml", "base currency"),
    "utilization": ("measured_amount / limit_amount (1 = at the limit; Greek caps: abs(measured_amount) / limit_amount)",
                    "ratio"),
    "status": ("within_limits, warning (utilization >= warning_fraction), danger (above the limit) or no_data",
               "text"),
    "book": ("name of the bond book (bonds.positions_file) or of the option book (options.positions_file)", "text"),
    "bond": ("name of the bond in its book", "text"),
    "dirty_price": ("dirty price of the bond (accrued interest included) per 100 of face", "per 100 face"),
    "value_local": ("dirty value of the position", "bond's currency"),
    "value_base": ("value_local x fx_rate", "base currency"),
    "pnl_local": ("P&L over the day by full repricing, coupon included", "bond's currency"),
    "pnl_approx": ("pnl_carry plus the duration-convexity approximation of the yield move", "bond's currency"),
    "pnl_fx": ("FX term of the base P&L: previous value x the change of fx_rate", "base currency"),
    "pnl_cross": ("cross term of the base P&L: pnl_local x the change of fx_rate", "base currency"),
    "pnl_base": ("P&L over the day in base currency = pnl_local_base + pnl_fx + pnl_cross", "base currency"),
    "dv01": ("value change of the position for a 1 basis point fall of the yield", "bond's currency per bp"),
    "modified_duration": ("modified duration at the day's yield", "years"),
    "convexity": ("convexity at the day's yield", "years squared"),
    "yield_series": ("name of the yield series the bond is priced on", "text"),
    "yield": ("the day's yield of yield_series (0.0412 = 4.12%)", "fraction per year"),
    "coupon_local": ("coupon paid to the position on the day", "bond's currency"),
    "fx_rate": ("price in base currency of one unit of the bond's (option's) currency (1 in the base currency)",
                "base currency per unit"),
    "pnl_local_base": ("local term of the base P&L: pnl_local x the previous fx_rate", "base currency"),
    "pnl_carry": ("P&L of time passing at an unchanged yield, coupon included", "bond's currency"),
    "event": ("the market event of the calendar tightening the cap that day (empty when none)", "text"),
    "level": ("what an option_greeks or option_limit_status row covers: position (one option or hedge), underlying (the sum of the book's "
              "positions on it) or book (the sum of all)", "text"),
    "option": ("name of the position in its option book; <underlying>.hedge for the delta hedge (null on sums)", "text"),
    "option_type": ("call or put (European), or underlying for the delta hedge held outright", "text"),
    "underlying": ("symbol of the prices table the option is written on", "text"),
    "strike": ("strike price of the option", "option's currency"),
    "expiry": ("expiry date of the option (held until the close before it)", "date"),
    "contract_multiplier": ("units of the underlying per contract", "units per contract"),
    "spot": ("close of the underlying", "option's currency"),
    "implied_vol": ("the option's implied volatility at the close, annualised (0.2 = 20%)", "fraction per sqrt(year)"),
    "vol_source": ("where the implied volatility came from: ewma_proxy (EWMA realised volatility with a stated skew, a "
                   "proxy, not market data), file (quoted implied volatilities of options.vol_file) or the series of "
                   "an at-the-money file (vix: the VIX with the proxy's skew, options.vol_source atm_file); a row over "
                   "several underlyings joins theirs with + (ewma_proxy+vix); option_pnl: the one source both closes "
                   "were valued with (ewma_proxy when their sources differ)",
                   "text"),
    "years_to_expiry": ("calendar days from the close to expiry over 365 (ACT/365)", "years"),
    "interest_rate": ("continuously compounded rate of the option's currency (options.rates)", "fraction per year"),
    "dividend_yield": ("continuous dividend yield of the underlying (options.dividend_yields)", "fraction per year"),
    "option_price": ("Black-Scholes-Merton value of one unit of the underlying's option (the hedge: the spot)",
                     "option's currency per unit"),
    "position_value": ("option_price x quantity x contract_multiplier x fx_rate (sums: of the positions)",
                       "base currency"),
    "delta": ("dV/dS per unit (1 for the hedge)", "per unit"),
    "gamma": ("d2V/dS2 per unit", "per unit per option's currency"),
    "vega": ("dV/dsigma per unit, for 1.00 of volatility", "option's currency per unit of vol"),
    "theta": ("dV/dt per unit, for a year of calendar time passing", "option's currency per year"),
    "rho": ("dV/dr per unit, for 1.00 of the rate", "option's currency per unit of rate"),
    "delta_amount": ("delta x spot x quantity x contract_multiplier x fx_rate: the exposure to the underlying",
                     "base currency"),
    "gamma_amount": ("gamma x spot^2 x quantity x contract_multiplier x fx_rate / 100: change of delta_amount for a +1% "
                     "move", "base currency per 1%"),
    "vega_amount": ("P&L of +1 volatility point (0.01), first order", "base currency per vol point"),
    "theta_amount": ("P&L of one calendar day passing, first order", "base currency per day"),
    "rho_amount": ("P&L of +1 basis point of the rate, first order", "base currency per bp"),
    "n_options": ("options held by the book at the previous close", "count"),
    "risk_class": ("FRTB risk class of the row's factors: all, equity or fx", "text"),
    "es_unadjusted": ("ES at 97.5% of 10-day losses on the current 250-day window, all factors at a 10-day horizon, before the liquidity-horizon adjustment (ES_T(P), MAR33.4)",
               "base currency"),
    "es_full_current": ("liquidity-adjusted ES of the full factor set on the current window, ES_F,C (MAR33.4)",
                        "base currency"),
    "es_reduced_current": ("liquidity-adjusted ES of the reduced factor set on the current window, ES_R,C",
                           "base currency"),
    "es_reduced_stressed": ("liquidity-adjusted ES of the reduced set on the stressed window, ES_R,S",
                            "base currency"),
    "imes": ("internally modelled ES, ES_R,S x ES_F,C / ES_R,C (MAR33.5)", "base currency"),
    "stress_start": ("first day of the stressed 250-day window", "date"),
    "stress_end": ("last day of the stressed 250-day window", "date"),
    "hpl": ("hypothetical P&L: the held positions' P&L over the day", "base currency"),
    "rtpl": ("risk-theoretical P&L: the factor model's P&L of the desk over the day", "base currency"),
    "var_amount_99": ("the desk model's 1-day VaR at 99% for the day", "base currency"),
    "var_amount_975": ("the desk model's 1-day VaR at 97.5% for the day", "base currency"),
    "exceptions_99": ("days of the last 250 whose loss exceeded var_amount_99 (frtb_capital: the bank's)", "count"),
    "exceptions_975": ("days of the last 250 whose loss exceeded var_amount_975", "count"),
    "backtest_zone": ("FRTB backtesting zone of the exceptions: green, amber or red (frtb_capital: the bank's)",
                      "text"),
    "pla_spearman": ("Spearman correlation of hpl and rtpl over the last 250 days (P&L attribution test)",
                     "correlation"),
    "pla_ks": ("Kolmogorov-Smirnov distance of hpl and rtpl over the last 250 days", "distance in [0, 1]"),
    "pla_zone": ("P&L attribution test zone: green, amber or red", "text"),
    "eligible": ("whether the desk may use the internal models approach: at most 12 and 30 exceptions and pla_zone "
                 "not red (null on the bank's row)", "boolean"),
    "imcc_unconstrained": ("IMES of all risk classes together, IMCC(C)", "base currency"),
    "imcc_equity": ("IMES of the equity risk class", "base currency"),
    "imcc_fx": ("IMES of the fx risk class", "base currency"),
    "imcc": ("internal models capital charge, rho IMCC(C) + (1 - rho) sum of the classes' (MAR33.15)",
             "base currency"),
    "imcc_average": ("mean imcc of the last 60 trading days", "base currency"),
    "capital_plus_factor": ("FRTB add-on to the capital multiplier for the bank's exceptions_99 (MAR99)",
                            "multiplier add-on"),
    "capital_multiplier": ("m_c = frtb.yaml's multiplier (1.5) + capital_plus_factor", "factor"),
    "capital_charge": ("C_A = max(imcc, capital_multiplier x imcc_average) (MAR33.41)", "base currency"),
    "method_rule": ("how the official method was chosen: fixed (configured), recommended (the Model Confidence "
                    "Set's best, re-chosen monthly) or fallback (recommended, before the first monthly choice)", "text"),
    "method_chosen_as_of": ("the as_of of the Model Confidence Set the recommended method was taken from (null "
                            "unless method_rule is recommended)", "date"),
    "value_held": ("the book's value held over the day: its previous close", "base currency"),
    "var_1d": ("official 1-day VaR at the row's confidence, loss positive", "fraction of value_held"),
    "es_1d": ("official 1-day ES at the row's confidence, loss positive", "fraction of value_held"),
    "var_10d": ("official 10-day VaR at the row's confidence (null when 10 is not among var.horizons)",
                "fraction of value_held"),
    "es_10d": ("official 10-day ES at the row's confidence (null when 10 is not among var.horizons)",
               "fraction of value_held"),
    "var_1d_amount": ("var_1d x value_held", "base currency"),
    "es_1d_amount": ("es_1d x value_held", "base currency"),
    "var_10d_amount": ("var_10d x value_held", "base currency"),
    "es_10d_amount": ("es_10d x value_held", "base currency"),
    "var_1d_amount_change": ("var_1d_amount minus that of the book's previous forecast day (null on its first)",
                             "base currency"),
    "var_1d_change_positions": ("part of var_1d_amount_change from the value held changing by other than the day's "
                                "P&L (trades, rebalancing to weights) (docs/analytics.md)", "base currency"),
    "var_1d_change_market": ("part of var_1d_amount_change from the market: the P&L carried into the value held "
                             "and the new return in the window (docs/analytics.md)", "base currency"),
    "var_1d_change_method": ("part of var_1d_amount_change from a change of the official method (0 when unchanged)",
                             "base currency"),
    "binding": ("which term sets capital_charge: spot (imcc) or average", "text"),
}
