"""Tests of risk_pipeline.config.scenarios and .limits: the shipped YAML files and every malformed-file error."""

from __future__ import annotations

import datetime as dt
import textwrap

import pytest

from risk_pipeline.config import ConfigError
from risk_pipeline.config.limits import DEFAULT_LIMITS_FILE, load_limits
from risk_pipeline.config.portfolios import load_portfolios
from risk_pipeline.config.scenarios import DEFAULT_SCENARIOS_FILE, load_scenarios
from risk_pipeline.risk.stress.scenarios import FxScenario, HistoricalScenario, SectorScenario, UniformEquityScenario

REQUIRED_EPISODES = {
    "ltcm_1998": 1998, "dotcom_2000_2002": 2000, "lehman_2008": 2008, "us_downgrade_2011": 2011,
    "china_devaluation_2015": 2015, "brazil_fiscal_2015": 2015, "volatility_shock_2018": 2018, "covid_crash_2020": 2020,
    "rate_shock_2022": 2022,
}
STOCKS = "AAPL AMD BAC BBY CVX GE HD JNJ JPM KO LLY MRK MSFT PEP PFE PG RRC UNH WMT XOM".split()


def test_shipped_scenarios_cover_the_required_episodes_and_kinds():
    scenarios = load_scenarios()
    assert DEFAULT_SCENARIOS_FILE.name == "scenarios.yaml" and DEFAULT_SCENARIOS_FILE.parent.name == "config"
    historical = {s.name: s for s in scenarios if isinstance(s, HistoricalScenario)}
    assert set(REQUIRED_EPISODES) <= set(historical)
    for name, year in REQUIRED_EPISODES.items():
        ep = historical[name]
        assert ep.start.year == year and ep.start <= ep.end <= dt.date(2022, 12, 28) and ep.description
    kinds = {type(s) for s in scenarios}
    assert {UniformEquityScenario, SectorScenario, FxScenario} <= kinds
    sector = next(s for s in scenarios if isinstance(s, SectorScenario))
    assert set(STOCKS) <= set(sector.sectors)
    fx = next(s for s in scenarios if isinstance(s, FxScenario))
    assert fx.base_currency_change == pytest.approx(0.10)


def test_shipped_limits_cover_the_shipped_portfolios():
    limits = load_limits()
    assert DEFAULT_LIMITS_FILE.name == "limits.yaml"
    assert limits.warning_fraction == pytest.approx(0.8)
    assert {p.name for p in load_portfolios()} <= set(limits.portfolios)
    for name, entries in limits.portfolios.items():
        assert {(lim.measure, lim.horizon_days) for lim in entries} == {("var", 1), ("es", 1), ("var", 3), ("es", 3)}
        assert all(lim.confidence == 0.99 and lim.amount > 0 for lim in entries), name
        by = {(lim.measure, lim.horizon_days): lim.amount for lim in entries}
        assert by[("es", 1)] >= by[("var", 1)] and by[("var", 3)] >= by[("var", 1)], name


def _write(tmp_path, text: str, name: str = "cfg.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


SCENARIO_CASES = [
    ("scenarios: [\n  - {name: a, type: historical\n", r"malformed YAML"),
    ("""
     scenarios:
       - {name: shock, type: meteor, description: x}
     """, r"scenario 'shock'.*'type'.*meteor"),
    ("""
     scenarios:
       - {name: crash, type: historical, description: x, start: 2020-03-23, end: 2020-02-20}
     """, r"scenario 'crash'.*'end'.*before 'start'"),
    ("""
     scenarios:
       - {name: crash, type: historical, description: x, start: 2020-02-31, end: 2020-03-20}
     """, r"scenario 'crash'.*'start'"),
    ("""
     scenarios:
       - {name: u, type: uniform_equity, description: x}
     """, r"scenario 'u': field 'equity_shock': missing"),
    ("""
     scenarios:
       - {name: u, type: uniform_equity, description: x, equity_shock: -1.5}
     """, r"scenario 'u'.*'equity_shock'.*> -1"),
    ("""
     scenarios:
       - {name: u, type: uniform_equity, description: x, equity_shock: "-20%"}
     """, r"scenario 'u'.*'equity_shock'.*number"),
    ("""
     scenarios:
       - {name: u, type: uniform_equity, description: x, equity_shock: -0.2, shocks: {}}
     """, r"scenario 'u': field 'shocks': unknown field"),
    ("""
     sectors: {AAPL: technology}
     scenarios:
       - {name: s, type: sector, description: x, shocks: {tech: -0.3}, default_shock: 0}
     """, r"scenario 's'.*sector 'tech'"),
    ("""
     scenarios:
       - {name: a, type: fx, description: x, base_currency_change: 0.1}
       - {name: a, type: fx, description: y, base_currency_change: 0.2}
     """, r"scenario 'a'.*duplicated"),
    ("""
     scenarios:
       - {name: "bad name", type: fx, description: x, base_currency_change: 0.1}
     """, r"scenario #1.*'name'"),
    ("scenario: []\n", r"unknown field.*scenario"),
    ("""
     scenarios:
       - {name: v, type: uniform_equity, description: x, equity_shock: -0.2, volatility: "+10 points"}
     """, r"scenario 'v'.*'volatility'.*number"),
    ("""
     scenarios:
       - {name: v, type: fx, description: x, base_currency_change: 0.1, volatility: -1.2}
     """, r"scenario 'v'.*'volatility'.*> -1"),
    ("""
     scenarios:
       - {name: h, type: historical, description: x, start: 2020-02-20, end: 2020-03-23, volatility: 0.3}
     """, r"scenario 'h': field 'volatility': unknown field"),  # measured over the window instead
]


@pytest.mark.parametrize(("text", "pattern"), SCENARIO_CASES)
def test_bad_scenario_files_name_file_scenario_and_field(tmp_path, text, pattern):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError, match=pattern) as err:
        load_scenarios(path)
    assert str(path) in str(err.value)


LIMIT_CASES = [
    ("""
     portfolios:
       book:
         - {measure: var, horizon_days: 1, confidence: 0.99}
     """, r"portfolio 'book', limit #1: field 'amount': missing"),
    ("""
     portfolios:
       book:
         - {measure: var, amount: -5}
     """, r"portfolio 'book', limit #1.*'amount'.*positive"),
    ("""
     portfolios:
       book:
         - {measure: var, amount: 5}
         - {measure: cvar, amount: 5}
     """, r"portfolio 'book', limit #2.*'measure'.*cvar"),
    ("""
     portfolios:
       book:
         - {measure: es, amount: 5, confidence: 99}
     """, r"portfolio 'book'.*'confidence'"),
    ("""
     portfolios:
       book:
         - {measure: es, amount: 5, horizon_days: 0}
     """, r"portfolio 'book'.*'horizon_days'"),
    ("""
     portfolios:
       book:
         - {measure: es, amount: 5}
         - {measure: es, amount: 6, horizon_days: 1, confidence: 0.99}
     """, r"portfolio 'book'.*duplicate"),
    ("""
     warning_fraction: 1.5
     portfolios: {book: [{measure: var, amount: 1}]}
     """, r"'warning_fraction'"),
    ("""
     portfolios: {book: []}
     """, r"portfolio 'book'.*non-empty"),
]


@pytest.mark.parametrize(("text", "pattern"), LIMIT_CASES)
def test_bad_limit_files_name_file_portfolio_and_field(tmp_path, text, pattern):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError, match=pattern) as err:
        load_limits(path)
    assert str(path) in str(err.value)


def test_limit_defaults_and_missing_file(tmp_path):
    path = _write(tmp_path, """
        portfolios:
          book:
            - {measure: var, amount: 1000}
        """)
    cfg = load_limits(path)
    lim = cfg.portfolios["book"][0]
    assert (lim.horizon_days, lim.confidence, lim.amount, cfg.warning_fraction) == (1, 0.99, 1000.0, 0.8)
    with pytest.raises(ConfigError, match="nope.yaml"):
        load_limits(tmp_path / "nope.yaml")


def test_user_added_scenario_is_loaded(tmp_path):
    path = _write(tmp_path, """
        scenarios:
          - name: my_crash
            type: historical
            description: my own window
            start: 2019-05-01
            end: "2019-06-03"
          - {name: down5, type: uniform_equity, description: small, equity_shock: -0.05}
        """)
    crash, down5 = load_scenarios(path)
    assert crash == HistoricalScenario("my_crash", "my own window", dt.date(2019, 5, 1), dt.date(2019, 6, 3))
    assert down5.equity_shock == -0.05


def test_a_volatility_shock_is_read_for_the_option_books():
    """The optional volatility field of the hypothetical scenarios (0 when absent): the shipped file shocks it."""
    shipped = {s.name: s for s in load_scenarios()}
    assert shipped["equity_down_20"].volatility == 0.15 and shipped["equity_up_10"].volatility == -0.05
    assert shipped["tech_selloff"].volatility == 0.0
