"""``risk-pipeline report --as-of D [--version N]``: the report of a past day, rebuilt from the table
versions recorded when it was published (publication N of the date, oldest first; default the
latest), into a folder of its own, and compared with the publication file by file. A date never
published is built from the current tables and published."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

from risk_pipeline.storage.paths import reports_dir


def report(args: argparse.Namespace) -> int:
    # the report's modules (matplotlib) imported by this command only, not by every command's parser
    import duckdb

    from risk_pipeline.report.publish import SUMMARY_FILE, publications, write_files, write_report
    from risk_pipeline.report.summary import ReportSettings, build_report_data
    from risk_pipeline.storage.lake import pinned_versions

    as_of = args.as_of
    found = publications(reports_dir(), as_of)
    if not found:
        if args.version is not None:
            raise ValueError(f"no publication of the report of {as_of} under {reports_dir()}: no --version to rebuild")
        data = build_report_data(as_of, ReportSettings())
        files = write_report(data, reports_dir())
        print(f"published the report of {as_of} from the current tables: {files.html}")
        return 0
    number = len(found) if args.version is None else args.version
    if not 1 <= number <= len(found):
        raise ValueError(f"--version {number}: the report of {as_of} has publications 1 to {len(found)}")
    published = found[number - 1]
    recorded = json.loads((published / SUMMARY_FILE).read_text())
    versions = {name: int(v) for name, v in recorded["table_versions"].items()}
    out = args.out or reports_dir() / ".rebuilt" / f"{as_of.isoformat()}-v{number}"
    out.mkdir(parents=True, exist_ok=True)
    try:
        with pinned_versions(versions):
            write_files(build_report_data(as_of, ReportSettings(**recorded.get("settings", {}))), out)
    except (duckdb.IOException, FileNotFoundError) as exc:
        raise ValueError(f"the table versions of publication {number} of {as_of} are no longer readable (vacuumed "
                         f"after lake.retention_days): {exc}") from None
    differ = sorted(p.name for p in published.iterdir() if (out / p.name).read_bytes() != p.read_bytes()
                    ) if all((out / p.name).exists() for p in published.iterdir()) else ["(files missing)"]
    print(f"rebuilt publication {number} of {len(found)} of the report of {as_of} from its table versions: {out}")
    if differ:
        print(f"differs from the publication ({published}): {', '.join(differ)}")
        return 1
    print(f"byte-identical to the publication {published}")
    return 0


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("report", help="rebuild a past day's report from the table versions it was "
                                 "published from (or publish a date never reported)")
    parser.add_argument("--as-of", required=True, type=dt.date.fromisoformat, help="the report's date, YYYY-MM-DD")
    parser.add_argument("--version", type=int, help="which publication of the date, 1 = the first (default: latest)")
    parser.add_argument("--out", type=Path, help="folder of the rebuilt files (default: <reports>/.rebuilt/<date>-v<N>)")
    parser.set_defaults(run=report)
