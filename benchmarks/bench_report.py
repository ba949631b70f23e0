"""The ``risk_report`` step of one day in process, this checkout against a baseline revision, on the same lake.

Runs, in a fresh process per code (this checkout, and ``--baseline``: a git revision exported to a
temporary folder and put first on ``PYTHONPATH``; same venv, same data folder), what the asset does
for a day: ``build_report_data`` then ``write_files`` into a scratch folder (not the lake's reports),
``--runs`` times in a row, each under ``os.times`` (CPU seconds of the process and of the child process
that draws some of the charts: the machine is shared; the critical path, what is read before the child
is forked (the data, or its first part: ``summary.read_head``; the P&L-vs-VaR history read after the fork is sent
to the child, ``publish.charted_history``) then the longer of the process's and the child's part of the rest,
is about an idle machine's wall time) and a
clock (wall seconds). The
first run is the one a new day pays (the tables opened and read for the first time in the process,
imports excluded); the later ones read what the OS caches. Then compares the two codes' files: the
CSVs and summary.json byte for byte, the HTML text with each embedded chart replaced by its decoded
pixels, and the PNG files by their decoded pixels (so a chart written with another encoder or
palette order but the same pixels counts as the same).

    .venv/bin/python benchmarks/bench_report.py --baseline main --data <data>
    .venv/bin/python benchmarks/bench_report.py --baseline main --data <data> --runs 3 --day 2022-12-28
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from revision import export_revision

REPO = Path(__file__).resolve().parents[1]
PNG_URI = re.compile(r"data:image/png;base64,([A-Za-z0-9+/=]+)")

WORKER = """
import datetime as dt, gc, json, os, sys, time
from pathlib import Path
day, out, runs = dt.date.fromisoformat(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
from risk_pipeline.defs.report import ReportConfig
from risk_pipeline.report import publish, summary
def cpu():  # this process's and its ended children's (a chart process)
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system
def child():
    t = os.times()
    return t.children_user + t.children_system
settings, seconds = ReportConfig().settings(), []
for run in range(runs):
    folder = out / str(run)
    folder.mkdir(parents=True)
    began, wall = cpu(), time.perf_counter()
    if hasattr(publish, "charted_history"):  # as publish_report: the child forked after the data's first part
        gc.disable()  # (summary.read_head), sent the P&L-vs-VaR history read after it, the cyclic collector paused
        head = summary.read_head(day, settings)
        built = cpu()
        with publish.start_charts(head) as charts:
            children = child()
            history = publish.charted_history(head, charts)
            publish.write_files(summary.build_report_data(day, settings, head, history), folder, charts)
        gc.enable()
    elif hasattr(summary, "read_head"):  # the child forked after the data's first part with the history
        gc.disable()
        head = summary.read_head(day, settings)
        built = cpu()
        with publish.start_charts(head) as charts:
            children = child()
            publish.write_files(summary.build_report_data(day, settings, head), folder, charts)
        gc.enable()
    else:  # the child forked after the whole data
        data = summary.build_report_data(day, settings)
        built, children = cpu(), child()
        publish.write_files(data, folder)
    seconds.append((built - began, cpu() - built, time.perf_counter() - wall, child() - children))
print(json.dumps(seconds))
"""


def run_code(code: Path, day: str, data: Path, out: Path, runs: int) -> list[tuple[float, float, float, float]]:
    """CPU seconds (before the chart process is forked: the data, or its first part; after it: the rest,
    a child process's included), wall seconds and the child's CPU seconds of each run of the report of
    ``day`` with ``code``."""
    env = {**os.environ, "RISK_PIPELINE_DATA": str(data), "PYTHONPATH": str(code), "PYTHONWARNINGS": "ignore"}
    done = subprocess.run([sys.executable, "-c", WORKER, day, str(out), str(runs)], cwd=code, env=env,
                          capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"the report with {code} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.splitlines()[-1])


def pixels(png: bytes) -> str:
    """A hash of the PNG's decoded pixels (RGBA) and size."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGBA")
    return hashlib.sha256(repr(image.size).encode() + image.tobytes()).hexdigest()[:16]


def contents(folder: Path) -> dict[str, str]:
    """Each file of a report folder as compared: the HTML with its charts as pixel hashes, a PNG as
    its pixel hash, any other file as its bytes' hash."""
    out = {}
    for path in sorted(folder.iterdir()):
        if path.suffix == ".html":
            out[path.name] = PNG_URI.sub(lambda m: f"pixels:{pixels(base64.b64decode(m.group(1)))}", path.read_text())
        elif path.suffix == ".png":
            out[path.name] = pixels(path.read_bytes())
        else:
            out[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", required=True, help="git revision to compare with (e.g. main)")
    parser.add_argument("--day", default="2022-12-28")
    parser.add_argument("--runs", type=int, default=3, help="reports built in a row in each process")
    parser.add_argument("--repeat", type=int, default=1, help="processes per code, alternating")
    parser.add_argument("--data", default=str(REPO / "data"))
    args = parser.parse_args()
    data = Path(args.data).resolve()
    if not (data / "lake").is_dir():
        raise SystemExit(f"no lake in {data}: run `make run` first")
    with tempfile.TemporaryDirectory(prefix="bench_report_") as tmp:
        base = export_revision(args.baseline, Path(tmp) / "baseline")
        variants = {f"baseline {args.baseline}": base, "this checkout": REPO}
        firsts: dict[str, list[float]] = {name: [] for name in variants}
        walls: dict[str, list[float]] = {name: [] for name in variants}
        paths: dict[str, list[float]] = {name: [] for name in variants}
        files = {}
        for round_ in range(args.repeat):
            order = list(variants.items())
            for name, code in order if round_ % 2 == 0 else order[::-1]:
                out = Path(tmp) / f"{name.split()[0]}-{round_}"
                seconds = run_code(code, args.day, data, out, args.runs)
                firsts[name].append(sum(seconds[0][:2]))
                walls[name].append(seconds[0][2])
                a, b, _, c = seconds[0]
                paths[name].append(a + max(b - c, c))
                # the critical path: what is read before the fork, then the longer of this process's side and the child's
                runs = ", ".join(f"{a + b:.2f} ({a:.2f} + {b:.2f}; child {c:.2f}, critical path {a + max(b - c, c):.2f}; "
                                 f"wall {w:.2f})" for a, b, w, c in seconds)
                print(f"{name:<20} CPU s per run (before + after the fork): {runs}   load {os.getloadavg()[0]:.1f}", flush=True)
                files[name] = contents(out / "0")
        (b_name, before), (c_name, after) = files.items()
        differ = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        print(f"\nsame report files in both: {not differ} ({len(before)} files: CSVs and summary.json byte for byte, "
              "the HTML text and the PNGs by decoded pixels)" + (f"; DIFFER: {differ}" if differ else ""))
        b, c = (statistics.median(v) for v in firsts.values())
        print(f"median CPU of the first run: {b_name} {b:.2f} s, {c_name} {c:.2f} s; ratio {c / b:.2f}")
        b, c = (statistics.median(v) for v in paths.values())
        print(f"median critical path (CPU) of the first run: {b_name} {b:.2f} s, {c_name} {c:.2f} s; ratio {c / b:.2f}")
        b, c = (statistics.median(v) for v in walls.values())
        print(f"median wall of the first run: {b_name} {b:.2f} s, {c_name} {c:.2f} s; ratio {c / b:.2f}")


if __name__ == "__main__":
    main()
