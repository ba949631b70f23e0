"""The drop-folder sensor: a booking system's file landing in the books of record's folder launches the
run of its day; a corrected file of a past day launches the re-run of that day and of every later
stored day (docs/positions.md).

Each evaluation hashes (SHA-256) every ``positions_YYYY-MM-DD`` and ``trades_YYYY-MM-DD`` file of
the folders of ``books_of_record`` and compares them with the hashes of its cursor:

- nothing new or changed: no run (a file touched without a change, mtime only, launches nothing);
- new or changed files: one run of ``daily_risk_job`` over the first such day .. the latest of the
  changed days and the latest stored day of ``positions``: one partition when that is one day
  (a new day's file), else the range as one run (Dagster's single-run backfill tags). A corrected
  past day so re-runs the day and every later day: every window that read the day's positions
  (the next day's P&L reads them as its previous close; VaR windows and backtests of later days
  read that P&L) is recomputed, and the tables become those of a clean run.

The run key is the first day and the hashes of the changed files, so a change launches one run,
whatever the sensor's restarts. The sensor is stopped by default; start it in the UI (Automation).
"""

import datetime as dt
import hashlib
import json

import dagster as dg

from risk_pipeline.config.positions import load_books_of_record
from risk_pipeline.defs.lake_assets import business_days
from risk_pipeline.defs.schedules import daily_risk_job
from risk_pipeline.sources.positions import folder_files
from risk_pipeline.storage.lake import stored_days


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def watched_files() -> dict[str, tuple[dt.date, str]]:
    """Every file of the drop folder(s): its path -> (its day, its SHA-256)."""
    record = load_books_of_record()
    files: dict[str, tuple[dt.date, str]] = {}
    for kind, source in (("positions", record.positions), ("trades", record.trades)):
        if source is not None and source.kind == "folder":
            for day, path in folder_files(source.path, kind).items():
                files[str(path)] = (day, _digest(path))
    return files


def run_request(changed: dict[str, tuple[dt.date, str]]) -> dg.RunRequest:
    """The one run that the ``changed`` files (path -> (day, hash)) call for (module docstring)."""
    days = sorted(day for day, _ in changed.values())
    stored = stored_days("positions")
    first, last = days[0], max(days[-1], stored[-1] if stored else days[-1])
    key = f"{first.isoformat()}:" + hashlib.sha256("".join(sorted(h for _, h in changed.values())).encode()).hexdigest()[:16]
    tags = {"risk_pipeline/trigger": "positions_drop_folder"}
    if first == last:
        return dg.RunRequest(run_key=key, partition_key=first.isoformat(), tags=tags)
    tags.update({"dagster/asset_partition_range_start": first.isoformat(),
                 "dagster/asset_partition_range_end": last.isoformat()})
    return dg.RunRequest(run_key=key, tags=tags)


@dg.sensor(
    job=daily_risk_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="A new or corrected positions/trades file in the books of record's drop folder launches the run of "
                "its day (a corrected past day: that day through the latest stored day, as one run).",
)
def positions_drop_folder(context: dg.SensorEvaluationContext):
    seen = json.loads(context.cursor) if context.cursor else {}
    files = watched_files()
    changed = {path: value for path, value in files.items() if seen.get(path) != value[1]}
    # a file of a day after the last partition (the price source has no data for it yet) waits, out of
    # the cursor, until the partitions reach its day
    last = business_days.get_last_partition_key()
    waiting = {path for path, (day, _) in changed.items() if last is not None and day.isoformat() > last}
    changed = {path: value for path, value in changed.items() if path not in waiting}
    if not changed:
        return dg.SkipReason("no new or changed file in the drop folder" + (
            f"; {len(waiting)} file(s) of days after the last partition {last} wait for the price source's data"
            if waiting else ""))
    request = run_request(changed)
    recorded = {path: digest for path, (_, digest) in files.items() if path not in waiting}
    recorded.update({path: seen[path] for path in waiting if path in seen})
    cursor = json.dumps(recorded, sort_keys=True)
    return dg.SensorResult(run_requests=[request], cursor=cursor)
