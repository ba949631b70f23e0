"""Every crash heals: runs of ``risk-pipeline backfill`` killed with SIGKILL at a sweep of moments,
then the next run of the same days.

Each run is a child process (``cli_child``: forked from a process that imported the project, so
that a kill point costs no import) on a small data folder (two books, two months, short VaR
windows). The sweep kills

- whole-graph runs at moments spread over the run (at or some milliseconds after the call of its
  n-th lake commit or of its n-th catalog rewrite), one after the other on the same
  folder (each run is the next run of the previous killed one, and must itself get to its kill
  point without failing), then lets the next run finish;
- report-only runs at the k-th call of what publishes the report: a file written into the new
  publication, the rename of the complete folder, the staging of the link, its rename over the
  report, the removal of an old publication; then a run that finishes.

After each kill the catalog opens read-only and every table reads; after each run that finishes,
the run succeeded, every table of the lake and of the catalog equals a clean run's (sorted, exact),
the report folder holds the clean run's files with the same tables, and no temporary file is left
(a partial publication, a staged link, a temporary catalog or its WAL, a Delta commit in flight).

A full disk (root only: a small tmpfs is mounted as the data folder) is a crash of another kind:
runs meeting it in the lake, the catalog and the report each fail with one line naming the file,
leave nothing half-written, and the run after space is freed equals the clean run too. Both tests
compare with the same clean run.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from risk_pipeline.report.publish import PUBLICATIONS, SUMMARY_FILE
from risk_pipeline.storage import lake
from risk_pipeline.storage.schemas import TABLES
from risk_pipeline_tests import cli_child
from risk_pipeline_tests.conftest import SMALL_PORTFOLIOS
from risk_pipeline_tests.pipeline_helpers import fast_run_config

START, END = "2022-11-01", "2022-12-28"
RUN = ["backfill", "--start", START, "--end", END, "--config-json", json.dumps(fast_run_config())]
REPORT_ONLY = [*RUN, "--select", "risk_report"]
# whole-graph runs: killed at the n-th lake commit of the run (of 26: a frame written, or the one
# transaction of a table's staged files), at its call or some milliseconds into it (in delta-rs' write
# of the data files or of the commit), and some milliseconds into the n-th rewrite of the catalog after
# a commit
RUN_KILLS = (("commit", 1, 0.0), ("commit", 4, 0.03), ("catalog", 7, 0.02), ("commit", 15, 0.15),
             ("commit", 22, 0.05))
# report-only runs: killed at the n-th call of what publishes the report
PUBLICATION_KILLS = (("write", 3), ("rename", 1), ("symlink", 1), ("replace", 1), ("rmtree", 1))


def _env(data: Path, portfolios: Path) -> dict[str, str]:
    return {"RISK_PIPELINE_DATA": str(data), "RISK_PIPELINE_PORTFOLIOS": str(portfolios), "PYTHONWARNINGS": "ignore"}


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(list(frame.columns), ignore_index=True)


def _tables(data: Path) -> dict[str, pd.DataFrame]:
    """Every table of the lake at its latest version and as the catalog shows it, sorted; the catalog
    opened read-only, as a reader does."""
    out = {}
    with duckdb.connect(str(data / "risk.duckdb"), read_only=True) as con:
        for name in TABLES:
            if lake.open_table(name, data / "lake") is None:
                continue
            out[name] = _sorted(lake.read_range(name, root=data / "lake").to_pandas())
            out[f"{name} (catalog)"] = _sorted(con.execute(f'select * from "{name}"').df())
    return out


def _report(data: Path) -> dict[str, object]:
    """The report of the run's last day: its file names, its CSV tables and its summary but the
    table versions (a rerun commits new versions of the same rows)."""
    folder = data / "reports" / END
    summary = json.loads((folder / SUMMARY_FILE).read_text())
    summary.pop("table_versions")
    return {"files": sorted(p.name for p in folder.iterdir()), "summary": summary,
            **{p.name: p.read_bytes() for p in folder.glob("*.csv")}}


def _leftovers(data: Path) -> list[str]:
    """Temporary files and folders, partial publications and staged links under ``data``."""
    found = []
    for path in data.rglob("*"):
        name = path.name
        if (name.endswith((".tmp", ".link", ".wal")) or ".tmp" in name
                or (path.parent.name == "_delta_log" and name.startswith("_commit_"))):
            found.append(str(path.relative_to(data)))
    store = data / "reports" / PUBLICATIONS / END
    link = data / "reports" / END
    if store.exists() and link.is_symlink():
        shown = link.resolve().name
        for publication in (p for p in store.iterdir() if p.is_dir()):
            # every publication kept was shown (none newer than the link's) and is whole
            listed = json.loads((publication / SUMMARY_FILE).read_text())["files"] if (
                publication / SUMMARY_FILE).exists() else None
            if publication.name > shown or listed is None or not all((publication / f).exists() for f in listed):
                found.append(f"a publication never shown or not whole: {publication.relative_to(data)}")
    return found


def _still_readable(data: Path) -> None:
    """What a reader does after a crash: open the catalog read-only and read every table."""
    if (data / "risk.duckdb").exists():
        with duckdb.connect(str(data / "risk.duckdb"), read_only=True) as con:
            for (name,) in con.execute("select table_name from duckdb_tables() union "
                                       "select view_name from duckdb_views() where not internal").fetchall():
                con.execute(f'select count(*) from "{name}"').fetchone()
    for name in TABLES:
        if lake.open_table(name, data / "lake") is not None:
            lake.read_range(name, root=data / "lake")


def _assert_healed(data: Path, expected: dict[str, pd.DataFrame], report: dict[str, object], what: str) -> None:
    got = _tables(data)
    assert sorted(got) == sorted(expected), what
    for name, frame in expected.items():
        pd.testing.assert_frame_equal(got[name], frame, obj=f"{name} after {what}")
    assert _report(data) == report, what
    assert _leftovers(data) == [], what


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("kill_sweep")
    (root / "portfolios.yaml").write_text(SMALL_PORTFOLIOS)
    return root, root / "portfolios.yaml"


@pytest.fixture(scope="module")
def clean(folders) -> tuple[dict[str, pd.DataFrame], dict[str, object]]:
    """The tables and report of a clean run."""
    root, portfolios = folders
    log = root / "clean.log"
    assert cli_child.run(RUN, _env(root / "clean", portfolios), log) == 0, log.read_text()[-3000:]
    expected = _tables(root / "clean")
    assert {"prices", "var_backtests", "var_scores"} <= set(expected)
    return expected, _report(root / "clean")


def test_every_killed_run_is_healed_by_the_next_run(folders, clean):
    root, portfolios = folders
    expected, report = clean
    data = root / "killed"
    env = _env(data, portfolios)
    log = root / "killed.log"
    for target, nth, delay in RUN_KILLS:
        child = cli_child.start(RUN, env, log, kill=(target, nth, None, delay))
        child.join(300)
        assert child.exitcode == -9, f"the run was not killed at {target} #{nth}:\n{log.read_text()[-3000:]}"
        _still_readable(data)
    assert cli_child.run(RUN, env, log) == 0, log.read_text()[-3000:]
    _assert_healed(data, expected, report, "runs killed at " + ", ".join(f"{t} #{n}" for t, n, _ in RUN_KILLS))

    under = str(data / "reports")
    for target, nth in PUBLICATION_KILLS:
        before = _report(data)
        child = cli_child.start(REPORT_ONLY, env, log, kill=(target, nth, under))
        child.join(120)
        assert child.exitcode == -9, f"the run was not killed at {target} #{nth} (status {child.exitcode})"
        assert _report(data) == before, f"a publication killed at {target} #{nth} changed the report"
        _still_readable(data)
    assert cli_child.run(REPORT_ONLY, env, log) == 0, log.read_text()[-3000:]
    _assert_healed(data, expected, report, "publications killed at " + ", ".join(t for t, _ in PUBLICATION_KILLS))


@contextlib.contextmanager
def _small_disk(folder: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted on ``folder`` while the block runs (root only)."""
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs (needs root): {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        if subprocess.run(["umount", str(folder)]).returncode != 0:
            subprocess.run(["umount", "-l", str(folder)])


def _leave_free(disk: Path, kilobytes: int) -> None:
    """Fill ``disk`` with a ballast file so that ``kilobytes`` of it stay free."""
    ballast = disk / "ballast"
    stat = os.statvfs(disk)
    with open(ballast, "wb") as handle:
        handle.write(bytes(max(0, stat.f_bavail * stat.f_frsize - kilobytes * 1024)))


# runs one after the other on the same folder, each meeting a full disk: one started with 64 kB free,
# then runs whose disk is filled at the call of a lake commit, of a catalog rewrite, of the write of a
# report's file (the real writers, delta-rs, DuckDB and Python, meet the full disk)
FULL_AT = (None, ("commit", 3), ("catalog", 6), ("write", 2))
DISK_FULL_LINE = re.compile(r"risk-pipeline backfill: step (\S+): no space left on device writing (/\S+); every "
                            r"table is at its last commit: free space and run the range again \(run over [^;]*(; log: \S+)?\)")


def test_a_full_disk_fails_the_run_with_one_line_and_the_next_run_heals(folders, clean):
    root, portfolios = folders
    expected, report = clean
    with _small_disk(root / "disk", "16m") as disk:
        data = disk / "data"
        env = _env(data, portfolios)
        ballast = disk / "ballast"
        places = []
        for full_at in FULL_AT:
            ballast.unlink(missing_ok=True)
            if full_at is None:
                _leave_free(disk, 64)
            output = root / f"full-{len(places)}.txt"
            fill = (*full_at, None, 0.0, str(ballast)) if full_at else None
            child = cli_child.start(RUN, env, output, kill=fill)
            child.join(600)
            assert child.exitcode == 1, output.read_text()[-3000:]
            lines = output.read_text().splitlines()
            assert lines[0].startswith("Backfilling") and len(lines) == 2, lines
            found = DISK_FULL_LINE.fullmatch(lines[1])
            assert found, lines[1]
            written = Path(found.group(2))
            assert written.is_relative_to(data), lines[1]
            places.append(written.relative_to(data).parts[0])
            _still_readable(data)
            assert _leftovers(data) == [], f"left by a run on a full disk ({full_at or '64 kB free'})"
        # the disk filled in the lake, the catalog (its new file) and the report
        assert places[1:] == ["lake", places[2], "reports"] and "risk.duckdb" in places[2], places
        ballast.unlink()
        assert cli_child.run(RUN, env, root / "freed.txt") == 0, (root / "freed.txt").read_text()[-3000:]
        _assert_healed(data, expected, report, "runs on a full disk")
