"""Option positions file: good rows load, each bad field is one line naming file, row and field."""

import datetime as dt

import pytest

from risk_pipeline.config.options import load_option_positions
from risk_pipeline.config.reader import ConfigError

HEADER = "book,option,option_type,underlying,strike,expiry,opened,quantity,multiplier,currency\n"
GOOD = "spx,2022-12_p3650,put,^GSPC,3650,2022-12-16,2022-11-18,-10,100,USD\n"


def test_a_good_file_loads(tmp_path):
    path = tmp_path / "options.csv"
    path.write_text(HEADER + GOOD + "spx,2022-12_c4200,CALL,^GSPC,4200.5,2022-12-16,2022-11-18,-10,100,USD\n")
    put, call = load_option_positions(path)
    assert (put.is_call, put.strike, put.expiry, put.quantity, put.multiplier, put.row) == (
        False, 3650.0, dt.date(2022, 12, 16), -10.0, 100.0, 2)
    assert call.is_call and call.strike == 4200.5 and call.row == 3


@pytest.mark.parametrize("field, value, message", [
    ("strike", "-3650", "must be > 0"),
    ("strike", "abc", "finite number"),
    ("expiry", "2022-11-01", "is not after"),
    ("expiry", "2022-13-01", "not a date"),
    ("option_type", "straddle", "call or put"),
    ("quantity", "0", "non-zero"),
    ("multiplier", "-100", "must be > 0"),
    ("currency", "XXX", "unknown currency"),
    ("book", "my book", "letters"),
    ("underlying", "", "missing"),
])
def test_a_bad_field_names_file_row_and_field(tmp_path, field, value, message):
    columns = HEADER.strip().split(",")
    values = GOOD.strip().split(",")
    values[columns.index(field)] = value
    path = tmp_path / "options.csv"
    path.write_text(HEADER + GOOD.replace("2022-12_p3650", "first") + ",".join(values) + "\n")
    with pytest.raises(ConfigError) as error:
        load_option_positions(path)
    text = str(error.value)
    assert text.startswith(f"{path}, row 3: field {field!r}") and message in text and "\n" not in text


def test_duplicate_option_and_missing_column(tmp_path):
    path = tmp_path / "options.csv"
    path.write_text(HEADER + GOOD + GOOD)
    with pytest.raises(ConfigError, match=r"row 3: field 'option': duplicate option .* \(first on row 2\)"):
        load_option_positions(path)
    path.write_text(HEADER.replace(",multiplier", "") + GOOD)
    with pytest.raises(ConfigError, match=r"row 1: missing column 'multiplier'"):
        load_option_positions(path)


def test_the_file_is_read_once_per_version_and_again_when_it_changes(tmp_path):
    path = tmp_path / "options.csv"
    path.write_text(HEADER + GOOD)
    first = load_option_positions(path)
    assert load_option_positions(path) is first  # the steps of a day's run share one read
    path.write_text(HEADER + GOOD.replace(",-10,", ",-20,"))  # the same size, a new version of the file
    assert [p.quantity for p in load_option_positions(path)] == [-20.0]
    path.write_text(HEADER + GOOD.replace("USD\n", "XXX\n"))
    with pytest.raises(ConfigError, match="row 2: field 'currency'"):
        load_option_positions(path)
    path.unlink()
    with pytest.raises(ConfigError, match="option positions file not found"):
        load_option_positions(path)
