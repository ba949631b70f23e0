"""A command's Dagster log in a file, and the one line that says why a run failed.

While ``risk-pipeline backfill`` runs, everything written to the process's standard error (Dagster's
console log, its tracebacks, library warnings) goes to ``logs/<command>-<UTC time>.log`` in the data
folder instead of the terminal; the command prints one line and the file's path.

:func:`run_failure` reads that line from the run's events: a blocking asset check that failed with
severity ERROR names the check and its first offending row; a failed step names the error that
failed it, found along the cause chain Dagster records (``DagsterExecutionStepExecutionError``
caused by, e.g., ``PriceDataError``). An error of the ``ValueError`` family (``ConfigError``,
``PriceDataError``, ``SchemaMismatchError``, ...) or ``LakeLayoutError`` is bad input; a full disk
(``No space left on device``, whether Python, delta-rs or DuckDB met it) names the file it could not
write; any other error is a bug of the step.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from risk_pipeline.storage.lake import LakeLayoutError
from risk_pipeline.storage.paths import data_dir

if TYPE_CHECKING:
    import dagster as dg

INPUT_ERRORS = (ValueError, LakeLayoutError)
DISK_FULL = os.strerror(errno.ENOSPC)  # "No space left on device"
# the file named in a message: 'path' (Python's OSError, the lake's for delta-rs), "path" (DuckDB)
_PATH = re.compile(r"""['"](/[^'"]+)['"]""")


@dataclass(frozen=True)
class RunFailure:
    """Why a run failed, as one line; ``bad_input``: the data or configuration is wrong (exit status 2),
    not the code (exit status 1)."""

    line: str
    bad_input: bool


def new_log_path(command: str) -> Path:
    """``<data folder>/logs/<command>-<UTC time>.log``."""
    return data_dir() / "logs" / f"{command}-{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S.%fZ}.log"


@contextlib.contextmanager
def stderr_to(path: Path) -> Iterator[None]:
    """Standard error appended to ``path``: ``sys.stderr`` and the file descriptor 2 (so that what C
    libraries write goes too); the file (and the folders made for it, if left empty) is removed if nothing was written."""
    made = [folder for folder in (path.parent, *path.parent.parents) if not folder.exists()]
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    saved = os.dup(2)
    log = path.open("a", buffering=1)
    try:
        with contextlib.redirect_stderr(log):
            os.dup2(log.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)
        # on a full disk the log loses its end, and the standard error is the terminal's again all the same
        with contextlib.suppress(OSError):
            log.close()
        if path.exists() and path.stat().st_size == 0:
            path.unlink()
            for folder in made:
                if any(folder.iterdir()):
                    break
                folder.rmdir()


def _input_error_names() -> frozenset[str]:
    """Names of every class of the ValueError family (and LakeLayoutError) loaded in this process."""
    names, todo = set(), list(INPUT_ERRORS)
    while todo:
        cls = todo.pop()
        if cls.__name__ not in names:
            names.add(cls.__name__)
            todo.extend(cls.__subclasses__())
    return frozenset(names)


def _message(error) -> str:
    """An error's message on one line, without the ``module.ClassName: `` Dagster puts before it."""
    head, sep, rest = error.message.strip().partition(": ")
    text = rest if sep and head.rsplit(".", 1)[-1] == error.cls_name else error.message
    return " ".join(text.split())


def _first_row(markdown: str) -> str:
    """``date 2021-02-03, symbol JPM, coverage 0.75`` from a preview table's header and first row."""
    lines = [line.strip().strip("|").split("|") for line in markdown.strip().splitlines()]
    if len(lines) < 3:
        return ""
    cells = [cell.strip().removesuffix(" 00:00:00") for cell in lines[2]]
    return ", ".join(f"{name.strip()} {cell}" for name, cell in zip(lines[0], cells))


def _check_line(evaluation) -> str:
    meta = {key: getattr(value, "value", getattr(value, "text", getattr(value, "md_str", value)))
            for key, value in evaluation.metadata.items()}
    line = f"check {evaluation.check_name} on {evaluation.asset_key.to_user_string()} failed"
    if "offending" in meta:
        line += f": {meta['offending']} offending row(s)"
    if "first_day" in meta:
        line += f" in {meta['first_day']}..{meta['last_day']}"
    first = _first_row(str(meta.get("preview", "")))
    return f"{line}, first: {first}" if first else line


def _disk_full_line(step: str, chain: list) -> str | None:
    """``step X: no space left on device writing <path>`` when an error of ``chain`` is a full disk."""
    full = next((e for e in chain if DISK_FULL.lower() in e.message.lower()), None)
    if full is None:
        return None
    found = _PATH.search(full.message)
    where = f" writing {found.group(1)}" if found else ""
    return (f"step {step}: no space left on device{where}; every table is at its last commit: free space "
            "and run the range again")


def run_failure(result: dg.ExecuteInProcessResult) -> RunFailure | None:
    """Why the run of ``result`` failed (None when it succeeded); see the module docstring."""
    if result.success:
        return None
    import dagster as dg

    for event in result.all_events:
        data = event.event_specific_data
        if (event.event_type_value == "ASSET_CHECK_EVALUATION" and not data.passed and data.blocking
                and data.severity == dg.AssetCheckSeverity.ERROR):
            return RunFailure(_check_line(data), bad_input=True)
    inputs = _input_error_names()
    for event in result.all_events:
        if event.event_type_value != "STEP_FAILURE" or event.event_specific_data.error is None:
            continue
        chain, error = [], event.event_specific_data.error
        while error is not None:
            chain.append(error)
            error = error.cause
        full = _disk_full_line(event.step_key, chain)
        if full is not None:
            return RunFailure(full, bad_input=False)
        bad = next((e for e in chain if e.cls_name in inputs), None)
        if bad is not None:
            return RunFailure(f"step {event.step_key}: {_message(bad)}", bad_input=True)
        root = chain[-1]
        return RunFailure(f"step {event.step_key} failed with {root.cls_name}: {_message(root)}", bad_input=False)
    return RunFailure("the run failed without a failed step (see the log)", bad_input=False)
