"""Rows written by tasks as uncommitted files and committed by the run in one Delta transaction
(risk_pipeline/storage/staging.py): the same (day, key) replacement as ``lake.write_days``, nothing
visible before the commit, a killed run's files deleted by the vacuum."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from risk_pipeline.storage import lake, maintenance, staging
from risk_pipeline.storage.schemas import table_schema

TABLE = "portfolio_pnl"
DAYS = [d.date() for d in pd.bdate_range("2020-12-21", "2021-01-15")]  # across a year: two partitions


def _rows(portfolios, days, seed):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"date": np.repeat(pd.to_datetime(days), len(portfolios)),
                          "portfolio": np.tile(portfolios, len(days)), "base_currency": "USD"})
    for field in table_schema(TABLE).schema:
        if field.name not in frame:
            values = rng.normal(size=len(frame))
            frame[field.name] = (values * 10).round().astype("int64") if pa.types.is_integer(field.type) else values
    return frame


def _sorted(frame):
    return frame.sort_values(["date", "portfolio"], ignore_index=True)


def test_a_staged_commit_replaces_the_rows_write_days_replaces(tmp_path):
    staged_root, frame_root = tmp_path / "staged", tmp_path / "frame"
    # three writes: every key on every day; then a and c on some days (files removed, rewritten, kept);
    # then b alone on a day without any row (its rows of that day are removed)
    writes = [(["a", "b", "c"], DAYS, [["a", "b"], ["c"]]),
              (["a", "c"], DAYS[3:9], [["a"], ["c"]]),
              (["b"], DAYS[12:13], [])]
    for number, (keys, days, chunks) in enumerate(writes):
        frames = [_rows(chunk, days, seed=10 * number + i) for i, chunk in enumerate(chunks)]
        staged = [staging.stage(TABLE, f, days, keys, staged_root) for f in frames]
        commit = staging.commit_staged(TABLE, staged, days, keys, staged_root)
        whole = pd.concat(frames, ignore_index=True) if frames else _rows([], days, 0)
        expected = lake.write_days(TABLE, whole, days, frame_root, keys=keys)
        assert (commit.version, commit.rows, commit.days_with_rows) == (number, expected.rows, expected.days_with_rows)
    got = lake.read_range(TABLE, root=staged_root).to_pandas()
    want = lake.read_range(TABLE, root=frame_root).to_pandas()
    assert len(got) == 3 * len(DAYS) - 1 and (got["date"] == DAYS[12]).sum() == 2
    pd.testing.assert_frame_equal(_sorted(got), _sorted(want), check_exact=True)
    # one transaction per run: its commit names the days and keys it replaced
    last = lake.open_table(TABLE, staged_root).history(1)[0]
    assert last[lake.KEYS_KEY] == '["b"]' and last[lake.FIRST_DAY_KEY] == DAYS[12].isoformat()


def test_staged_files_are_invisible_until_committed_and_a_killed_runs_are_vacuumed(tmp_path):
    root = tmp_path / "lake"
    first = staging.stage(TABLE, _rows(["a"], DAYS, 1), DAYS, ["a"], root)
    staging.commit_staged(TABLE, [first], DAYS, ["a"], root)
    before = lake.read_range(TABLE, root=root).to_pandas()
    killed = staging.stage(TABLE, _rows(["a", "b"], DAYS, 2), DAYS, ["a", "b"], root)  # never committed
    written = [root / TABLE / f.path for f in killed.files]
    assert all(p.exists() for p in written)
    pd.testing.assert_frame_equal(lake.read_range(TABLE, root=root).to_pandas(), before)
    assert lake.table_version(TABLE, root) == 0
    done = maintenance.maintain(TABLE, retention_days=0, root=root)
    assert done.files_deleted >= len(written) and not any(p.exists() for p in written)
    pd.testing.assert_frame_equal(_sorted(lake.read_range(TABLE, root=root).to_pandas()), _sorted(before))


def test_a_task_s_stray_key_is_refused_before_any_file_is_written(tmp_path):
    root = tmp_path / "lake"
    with pytest.raises(ValueError, match="rows of portfolio 'z' fall outside"):
        staging.stage(TABLE, _rows(["a", "z"], DAYS, 1), DAYS, ["a"], root)
    assert not (root / TABLE).exists()


def test_a_filter_on_any_column_of_a_staged_file_finds_its_rows_through_delta_s_arrow_dataset(tmp_path):
    # the reader of a lake on object storage (lake.scan): delta-rs turns a file's statistics into
    # guarantees, and a column without bounds into one that no row matches
    root = tmp_path / "lake"
    frame = _rows(["a", "b"], DAYS, 3)
    staging.commit_staged(TABLE, [staging.stage(TABLE, frame, DAYS, ["a", "b"], root)], DAYS, ["a", "b"], root)
    dataset = lake.open_table(TABLE, root).to_pyarrow_dataset()
    assert dataset.to_table(filter=pc.field("base_currency") == "USD").num_rows == len(frame)
    assert dataset.to_table(filter=pc.field("pnl") > 0).num_rows == (frame["pnl"] > 0).sum() > 0


def _dictionary_encoded(path) -> dict[str, bool]:
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(path).metadata
    columns = [meta.row_group(0).column(i) for i in range(meta.num_columns)]
    return {c.path_in_schema: any("DICTIONARY" in encoding for encoding in c.encodings) for c in columns}


def test_every_writer_of_the_lake_dictionary_encodes_every_column_but_the_floating_point_ones(tmp_path):
    """The staged files, delta-rs' writes (write_days) and its compaction (lake maintenance): the same rule."""
    spec = table_schema(TABLE)
    floats = {f.name for f in spec.schema if pa.types.is_floating(f.type)}
    assert floats and floats != set(spec.columns)
    staged_root, written_root = tmp_path / "staged", tmp_path / "written"
    staged = staging.stage(TABLE, _rows(["a", "b"], DAYS, 3), DAYS, ["a", "b"], staged_root)
    files = [staged_root / TABLE / f.path for f in staged.files]
    for number, days in enumerate([DAYS[:5], DAYS[5:]]):  # two commits: files for the compaction to merge
        lake.write_days(TABLE, _rows(["a", "b"], days, number), days, written_root, keys=["a", "b"])
    written = sorted((written_root / TABLE).glob("year=*/*.parquet"))
    encodings = [_dictionary_encoded(path) for path in files + written]
    maintenance.maintain(TABLE, retention_days=0, root=written_root)  # vacuums the files it compacted
    compacted = sorted(set((written_root / TABLE).glob("year=*/*.parquet")) - set(written))
    assert files and written and compacted
    encodings += [_dictionary_encoded(path) for path in compacted]
    for encoded in encodings:
        assert {name for name, dictionary in encoded.items() if not dictionary} == floats
