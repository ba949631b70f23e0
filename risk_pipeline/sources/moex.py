"""Moscow Exchange (MOEX) closes and USD/RUB through its ISS API and the ``apimoex`` client (needs network).

Not used by default: a rouble desk lists the securities it prices on MOEX in
``prices.moex_symbols`` (pipeline.yaml), or selects ``make_source("moex")`` for every symbol;
``fx.second_source: moex`` takes USD/RUB from MOEX's currency market after the ECB stopped
quoting RUB (2022-03-01).

Each security is one ``apimoex.get_board_history`` call (ISS
``/iss/history/engines/<engine>/markets/<market>/boards/<board>/securities/<SECID>.json``,
paged by apimoex through the ``history.cursor`` block), columns ``TRADEDATE, CLOSE``. A day
without trades has an empty ``CLOSE`` and is dropped. The board defaults to ``TQBR`` (shares,
T+ main board); ``boards`` maps a symbol to another one of ``BOARDS``. Every close on these
boards is in roubles (ISS quotes them in SUR, the exchange's code for RUB).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence

import pandas as pd

from .base import PriceDataError, check_date_range, requested_symbols, validate_prices

SOURCE_NAME = "moex"
DEFAULT_BOARD = "TQBR"
# board: (engine, market) of the ISS history path
BOARDS = {
    "TQBR": ("stock", "shares"),   # shares, main board
    "TQTF": ("stock", "shares"),   # exchange-traded funds
    "CETS": ("currency", "selt"),  # currency market, e.g. USD000UTSTOM (USD/RUB, settlement tomorrow)
}
CURRENCY = "RUB"
USD_RUB_SECURITY = "USD000UTSTOM"


def board_closes(security: str, board: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    """Closes of one MOEX security on one board dated start..end inclusive (days without a close dropped)."""
    import apimoex
    import requests
    from apimoex.client import ISSMoexError

    if board not in BOARDS:
        raise PriceDataError(f"moex: unknown board {board!r} for {security} (choose from {', '.join(BOARDS)})")
    engine, market = BOARDS[board]
    with requests.Session() as session:
        try:
            rows = apimoex.get_board_history(session, security, start=f"{start:%Y-%m-%d}", end=f"{end:%Y-%m-%d}",
                                             columns=("TRADEDATE", "CLOSE"), board=board, market=market,
                                             engine=engine)
        except (requests.RequestException, ISSMoexError) as exc:
            raise PriceDataError(f"moex: download of {security} on board {board} failed ({exc})") from None
    frame = pd.DataFrame(rows, columns=["TRADEDATE", "CLOSE"]).dropna(subset=["CLOSE"])
    index = pd.DatetimeIndex(pd.to_datetime(frame["TRADEDATE"]), name="date").astype("datetime64[ns]")
    return pd.Series(frame["CLOSE"].to_numpy(dtype="float64"), index=index, name=security)


class MoexSource:
    """Daily closes (in RUB) of Moscow Exchange securities, security by security.

    ``boards`` maps a symbol (its MOEX SECID, e.g. ``SBER``) to its board (default ``TQBR``).
    ``symbols=None`` is refused; a security without any close in the range raises
    PriceDataError naming it.
    """

    name = SOURCE_NAME

    def __init__(self, boards: Mapping[str, str] | None = None) -> None:
        self.boards = dict(boards or {})

    def fetch(self, symbols: Sequence[str] | None, start: datetime.date, end: datetime.date) -> pd.DataFrame:
        start_ts, end_ts = check_date_range(start, end)
        wanted = requested_symbols(symbols)
        if not wanted:
            raise PriceDataError("moex: list the securities to download (symbols=None or empty is not supported)")
        frames = []
        for symbol in wanted:
            board = self.boards.get(symbol, DEFAULT_BOARD)
            close = board_closes(symbol, board, start_ts, end_ts)
            if close.empty:
                raise PriceDataError(f"moex: no close for {symbol} on board {board} over "
                                     f"{start_ts:%Y-%m-%d}..{end_ts:%Y-%m-%d} (unknown security or no trading day)")
            frames.append(pd.DataFrame({"date": close.index, "symbol": symbol, "close": close.to_numpy(),
                                        "currency": CURRENCY, "source": SOURCE_NAME}))
        return validate_prices(pd.concat(frames, ignore_index=True), origin=SOURCE_NAME)
