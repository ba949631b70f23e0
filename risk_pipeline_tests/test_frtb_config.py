"""frtb.yaml: the shipped file loads with the MAR defaults; bad settings are errors naming the field and file."""

import dataclasses
from pathlib import Path

import pytest

from risk_pipeline.config.frtb import DEFAULT_FRTB_FILE, load_frtb_config
from risk_pipeline.config import ConfigError

SHIPPED = DEFAULT_FRTB_FILE.read_text()


def test_the_shipped_file_has_the_mar_defaults():
    config = load_frtb_config()
    assert config.rho == 0.5 and config.multiplier == 1.5
    assert config.equity_horizon("AAPL") == 10 and config.fx_horizon("EUR") == 10
    assert config.liquidity_horizons["equity_small_cap"] == 20 and config.liquidity_horizons["fx_other"] == 20
    assert config.reduced_excludes_equity == frozenset() and config.desks is None  # full set, every portfolio
    assert config.stress_search.start.isoformat() == "2007-01-01" and config.stress_search.end is None


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "frtb.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("old, new, field", [
    ("equity: {}", "equity: {RRC: equity_mid_cap}", "risk_factor_categories.equity.RRC"),
    ("fx_default: fx_specified_pair", "fx_default: fx_exotic", "risk_factor_categories.fx_default"),
    ("equity_small_cap: 20", "equity_small_cap: 30", "liquidity_horizons.equity_small_cap"),
    ("  end: null", "  end: 2006-12-31", "stressed_period_search"),
    ("  end: null", "  end: 2007-01-01", "stressed_period_search"),
    ("rho: 0.5", "rho: 1.2", "rho"),
    ("rho: 0.5", "rho: -0.1", "rho"),
    ("method: historical", "method: guesswork", "desk_model.method"),
    ("pla_factors: [SP500, MTUM, QUAL, SIZE, USMV, VLUE]", "pla_factors: []", "pla_factors"),
])
def test_a_bad_setting_is_an_error_naming_the_field_and_file(tmp_path, old, new, field):
    assert old in SHIPPED
    path = _write(tmp_path, SHIPPED.replace(old, new))
    with pytest.raises(ConfigError) as info:
        load_frtb_config(path)
    assert field in str(info.value) and str(path) in str(info.value)


def test_a_missing_field_and_a_bad_date_are_named(tmp_path):
    with pytest.raises(ConfigError, match="field 'rho': missing"):
        load_frtb_config(_write(tmp_path, SHIPPED.replace("rho: 0.5", "")))
    with pytest.raises(ConfigError, match="stressed_period_search.start"):
        load_frtb_config(_write(tmp_path, SHIPPED.replace("start: 2007-01-01", "start: 2007-02-31")))


def test_desks_must_be_portfolios_and_the_bank_not_one(tmp_path, monkeypatch, capsys):
    from risk_pipeline.cli import main
    from risk_pipeline.config.frtb import desk_portfolios
    from risk_pipeline.config.portfolios import load_portfolios

    portfolios = load_portfolios()
    assert [p.name for p in desk_portfolios(load_frtb_config(), portfolios)] == [  # all but the Treasury books
        p.name for p in portfolios if "UST10Y" not in p.symbols]
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text(SHIPPED.replace("desks: null", "desks: [concentrated, nope]"))
    chosen = dataclasses.replace(load_frtb_config(unknown), desks=("concentrated",))
    assert [p.name for p in desk_portfolios(chosen, portfolios)] == ["concentrated"]
    with pytest.raises(ConfigError, match=r"field 'desks': \['nope'\] are not portfolios"):
        desk_portfolios(load_frtb_config(unknown), portfolios)
    clash = tmp_path / "clash.yaml"
    clash.write_text(SHIPPED.replace("bank_name: bank", "bank_name: long_short"))
    with pytest.raises(ConfigError, match="field 'bank_name': 'long_short' is also a portfolio's name"):
        desk_portfolios(load_frtb_config(clash), portfolios)
    # a backfill reads the settings before its run: one line, status 2
    monkeypatch.setenv("RISK_PIPELINE_FRTB", str(unknown))
    monkeypatch.setenv("RISK_PIPELINE_DATA", str(tmp_path / "data"))
    assert main(["backfill", "--start", "2020-01-02", "--end", "2020-01-03"]) == 2
    assert "field 'desks': ['nope'] are not portfolios" in capsys.readouterr().err


def test_a_book_of_record_may_be_a_desk_when_listed(tmp_path):
    """desks: null keeps the portfolios only; a listed book of record is a desk (and passes the configuration
    check), an unknown name is still an error naming it."""
    from risk_pipeline.config.check import check_configuration
    from risk_pipeline.config.frtb import desk_portfolios, record_desks
    from risk_pipeline.config.portfolios import load_portfolios
    from risk_pipeline.config.positions import load_books_of_record

    portfolios, records = load_portfolios(), list(load_books_of_record().books)
    assert records == ["monthly_rebalanced", "momentum_12_1"]
    assert record_desks(load_frtb_config(), records) == []
    listed = tmp_path / "listed.yaml"
    listed.write_text(SHIPPED.replace("desks: null", "desks: [concentrated, momentum_12_1]"))
    settings = load_frtb_config(listed)
    assert [p.name for p in desk_portfolios(settings, portfolios, records)] == ["concentrated"]
    assert record_desks(settings, records) == ["momentum_12_1"]
    with pytest.raises(ConfigError, match=r"\['momentum_12_1'\] are not portfolios or books of record"):
        desk_portfolios(settings, portfolios)  # without the books of record
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RISK_PIPELINE_FRTB", str(listed))
        check_configuration()
