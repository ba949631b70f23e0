"""A catalog no crash can break: a refresh killed at any step, and WAL files left beside the catalog.

The kill sweep runs in its own process, which forks one child per kill point k (a fork of a process
that has not yet used deltalake or DuckDB, so each child starts clean): the child traces the lines of
the refresh's functions in catalog.py and SIGKILLs itself before the k-th, for k = 0, 1, ... until a
refresh completes. After each kill a second child checks what a reader would find: the catalog opens
read-only and shows either the old or the new snapshot, whole; then it runs the next refresh, after
which the catalog shows the latest versions and no temporary file or WAL is left. (The sweep's process
keeps three tables of the seventeen: the refresh takes the same steps for each.)
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from risk_pipeline.storage import catalog, lake
from risk_pipeline.storage.schemas import TABLES
from risk_pipeline_tests.catalog_snapshots import mismatches, observe, wrong_columns

REPO = Path(__file__).resolve().parents[1]
KEYS = ["AAA", "BBB"]
D1, D2 = dt.date(2021, 1, 4), dt.date(2021, 1, 5)


def _prices(day: dt.date, close: float) -> pd.DataFrame:
    return pd.DataFrame([{"date": pd.Timestamp(day), "symbol": s, "close": close + i, "currency": "USD",
                          "source": "test"} for i, s in enumerate(KEYS)])


_SWEEP = r"""
import json, os, signal, shutil, sys, traceback
from pathlib import Path
import duckdb
from risk_pipeline.storage import catalog
from risk_pipeline.storage.schemas import TABLES
from risk_pipeline_tests.catalog_snapshots import mismatches, observe, wrong_columns

# the refresh takes the same steps for every table: three of them (one written, two never) make a sweep
# of a few dozen kill points instead of one of about 120, for the catalog and for what reads it here
SWEPT_TABLES = {name: TABLES[name] for name in ("prices", "returns", "var_estimates")}
TABLES.clear()
TABLES.update(SWEPT_TABLES)

# the catalog before the commit, the versions it shows, those after the commit, and the SQL of its views when
# the refresh is to find it recorded as the catalog a refresh wrote (then it copies it and replaces the changed views)
pristine, old, expected = Path(sys.argv[1]), json.loads(sys.argv[2]), json.loads(sys.argv[3])
own_views = json.loads(sys.argv[4])
path = catalog.catalog_path()
SWEPT = {"refresh_catalog", "_exclusive", "_temporary_files", "_views", "_views_of_catalog", "_record_path", "_identity",
         "_digest", "_write", "_fsync", "_write_record"}

def refresh_killed_before_line(k):
    count = 0
    def lines(frame, event, arg):
        nonlocal count
        if event == "line":
            if count == k:
                os.kill(os.getpid(), signal.SIGKILL)
            count += 1
        return lines
    def calls(frame, event, arg):
        code = frame.f_code
        return lines if code.co_filename == catalog.__file__ and code.co_name in SWEPT else None
    sys.settrace(calls)
    catalog.refresh_catalog()

def shown():
    with duckdb.connect(str(path), read_only=True) as con:
        seen = observe(con)
        assert wrong_columns(con) == []
    assert mismatches(seen, path.parent / "lake") == []
    return {name: version for name, (version, _, _) in seen.items() if version is not None}

def heal():
    before = shown()  # what a reader finds after the kill
    assert before in (old, expected), before
    catalog.refresh_catalog()
    assert shown() == expected
    assert sorted(p.name for p in path.parent.iterdir()) == [".catalog.lock", ".risk.duckdb.views", "lake", "risk.duckdb"]
    return before == expected

def forked(work):
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = 0 if work() else 3
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    return os.waitpid(pid, 0)[1]

k = 0
while True:
    shutil.copyfile(pristine, path)
    catalog._record_path(path).unlink(missing_ok=True)
    if own_views is not None:
        catalog._record_path(path).write_text(json.dumps(
            {"identity": catalog._identity(path), "views": {name: catalog._digest(sql) for name, sql in own_views.items()}}))
    status = forked(lambda: refresh_killed_before_line(k))
    killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    healed = os.waitstatus_to_exitcode(forked(heal))
    print(json.dumps({"k": k, "killed": killed, "refresh_status": status, "heal": healed}), flush=True)
    if not killed:
        break
    k += 1
"""


@pytest.mark.parametrize("own", [False, True], ids=["new file", "copy of the recorded catalog"])
def test_a_refresh_killed_at_any_step_leaves_a_readable_catalog_and_the_next_refresh_heals_it(data_dir, tmp_path, own):
    old = lake.write_days("prices", _prices(D1, 1.0), [D1], keys=KEYS)
    catalog.refresh_catalog()
    pristine = tmp_path / "before.duckdb"
    shutil.copyfile(data_dir / "risk.duckdb", pristine)
    swept = ("prices", "returns", "var_estimates")
    own_views = {name: catalog._views()[name][0] for name in swept} if own else None
    new = lake.write_days("prices", _prices(D2, 2.0), [D1, D2], keys=KEYS)  # replaces D1's file
    if own:  # the view of prices is the one to replace
        assert catalog._views()["prices"][0] != own_views["prices"]
    versions = [json.dumps({"prices": commit.version}) for commit in (old, new)]
    out = subprocess.run([sys.executable, "-c", _SWEEP, str(pristine), *versions, json.dumps(own_views)],
                         cwd=REPO, capture_output=True, text=True, timeout=600,
                         env={**os.environ, "PYTHONPATH": str(REPO)}, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    steps = [json.loads(line) for line in out.stdout.splitlines()]
    # heal: 0 when the killed refresh had already replaced the catalog, 3 when it had not; 1 is a failure
    assert [s for s in steps if s["heal"] not in (0, 3)] == [], out.stderr[-3000:]
    assert [s["killed"] for s in steps] == [True] * (len(steps) - 1) + [False]
    assert len(steps) > 25  # every line of the rewrite was a kill point
    assert {s["heal"] for s in steps[:-1]} == {0, 3}  # killed before the rename and after it


_OLD_CATALOG_WITH_WAL = """
import os, sys, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("create table prices as select DATE '2021-01-04' as date, 'AAA' as symbol, 1.0 as close")
con.execute("checkpoint")
con.execute("pragma disable_checkpoint_on_shutdown")
con.execute("insert into prices values (DATE '2021-01-05', 'AAA', 2.0)")  # in the WAL only
os._exit(0)  # killed before any checkpoint
"""


def _old_catalog_with_its_wal(path: Path) -> Path:
    """A catalog file of earlier versions (the rows in DuckDB tables) whose process was killed between a
    commit and its checkpoint: the commit is in its WAL, returned."""
    subprocess.run([sys.executable, "-c", _OLD_CATALOG_WITH_WAL, str(path)], check=True)
    wal = path.with_name(f"{path.name}.wal")
    assert wal.stat().st_size > 0
    return wal


def _catalog_opens_and_shows_the_lake(data: Path) -> None:
    with duckdb.connect(str(data / "risk.duckdb"), read_only=True) as con:
        assert mismatches(observe(con), data / "lake") == []
        assert wrong_columns(con) == []
        assert con.execute("select count(*) from prices").fetchone()[0] == 2


@pytest.mark.parametrize("left", ["garbage", "of another database file"])
def test_a_wal_left_beside_the_catalog_never_fails_an_open_after_the_next_refresh(data_dir, tmp_path, left):
    lake.write_days("prices", _prices(D1, 1.0), [D1], keys=KEYS)
    catalog.refresh_catalog()
    wal = data_dir / "risk.duckdb.wal"
    if left == "garbage":
        wal.write_bytes(os.urandom(4096))
    else:  # what the copy-and-rename of the catalog of earlier versions left: every open failed
        shutil.copyfile(_old_catalog_with_its_wal(tmp_path / "old.duckdb"), wal)
        with pytest.raises(duckdb.IOException, match="WAL"):
            duckdb.connect(str(data_dir / "risk.duckdb"), read_only=True)
    lake.write_days("prices", _prices(D1, 2.0), [D1], keys=KEYS)
    catalog.refresh_catalog()
    assert not wal.exists()
    _catalog_opens_and_shows_the_lake(data_dir)


def test_the_catalog_of_earlier_versions_and_its_wal_are_replaced_by_views(data_dir):
    wal = _old_catalog_with_its_wal(data_dir / "risk.duckdb")
    lake.write_days("prices", _prices(D1, 1.0), [D1], keys=KEYS)
    catalog.refresh_catalog()
    assert not wal.exists()
    _catalog_opens_and_shows_the_lake(data_dir)
    with duckdb.connect(str(data_dir / "risk.duckdb"), read_only=True) as con:
        kinds = con.execute("select table_name, table_type from information_schema.tables order by 1").fetchall()
    assert dict(kinds) == {**{name: "VIEW" for name in TABLES}, "lake_versions": "BASE TABLE"}


def _catalog_contents(path: Path) -> tuple[dict, dict, list]:
    """The SQL of every view, the versions of ``lake_versions`` and every object of the catalog at ``path``."""
    with duckdb.connect(str(path), read_only=True) as con:
        views = dict(con.execute("select view_name, sql from duckdb_views() where not internal").fetchall())
        versions = dict(con.execute("select table_name, version from lake_versions").fetchall())
        kinds = con.execute("select table_name, table_type from information_schema.tables order by 1").fetchall()
    return views, versions, kinds


_REFRESH_COUNTING_COPIES = """
from risk_pipeline.storage import catalog
copied, copy = [], catalog.shutil.copyfile
catalog.shutil.copyfile = lambda *a: copied.append(a) or copy(*a)
catalog.refresh_catalog()
print(len(copied))
"""


def test_a_refresh_from_the_recorded_catalog_writes_what_a_new_file_would(data_dir, tmp_path, monkeypatch):
    copied, copy = [], shutil.copyfile
    monkeypatch.setattr(catalog.shutil, "copyfile", lambda *a: copied.append(a) or copy(*a))
    lake.write_days("prices", _prices(D1, 1.0), [D1], keys=KEYS)
    catalog.refresh_catalog()
    assert copied == []  # the process's first refresh: a new file
    lake.write_days("prices", _prices(D2, 2.0), [D1, D2], keys=KEYS)
    returns = pd.DataFrame({"date": pd.Timestamp(D2), "symbol": KEYS, "simple_return": [0.01, -0.02],
                            "log_return": [0.00995, -0.0202], "currency": "USD"})
    lake.write_days("returns", returns, [D2], keys=KEYS)
    catalog.refresh_catalog()
    assert len(copied) == 1  # a copy of the last catalog with the views of prices and returns replaced
    path = data_dir / "risk.duckdb"
    incremental = _catalog_contents(path)
    _catalog_opens_and_shows_the_lake(data_dir)
    # another process (the daily job's other lane) finds the record on disk: a copy too
    out = subprocess.run([sys.executable, "-c", _REFRESH_COUNTING_COPIES], cwd=REPO, capture_output=True, text=True,
                         timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)}, check=False)
    assert (out.returncode, out.stdout.strip()) == (0, "1"), out.stderr[-3000:]
    assert len(copied) == 1
    assert _catalog_contents(path) == incremental
    record = json.loads(catalog._record_path(path).read_text())
    assert record["identity"] == list(catalog._identity(path))
    catalog._record_path(path).unlink()  # no record (a refresh killed before it, an older version's catalog)
    catalog.refresh_catalog()
    assert len(copied) == 1  # a new file
    assert _catalog_contents(path) == incremental
    assert incremental[1] == {"prices": 1, "returns": 0}


def test_a_catalog_a_client_wrote_into_is_written_anew(data_dir):
    lake.write_days("prices", _prices(D1, 1.0), [D1], keys=KEYS)
    catalog.refresh_catalog()
    path = data_dir / "risk.duckdb"
    with duckdb.connect(str(path)) as con:  # read-write, against the rules: a table of its own
        con.execute("create table mine as select 1 as x")
    lake.write_days("prices", _prices(D2, 2.0), [D1, D2], keys=KEYS)
    catalog.refresh_catalog()
    views, versions, kinds = _catalog_contents(path)
    assert dict(kinds) == {**{name: "VIEW" for name in TABLES}, "lake_versions": "BASE TABLE"}
    _catalog_opens_and_shows_the_lake(data_dir)
