"""A screenshot of the Dagster UI's partitions page of an asset, in headless Chromium.

Against a running UI (``make ui`` after ``make run``, or ``dagster dev`` on a copy of an instance):
dismisses the one-time "Join the Dagster community" dialog as its "Skip" button does (GraphQL
``setNuxSeen``), asks the asset's ``partitionStats`` through GraphQL (timed: the first time after a
run Dagster computes and stores them, later answers read what it stored), then writes the page
``/assets/<asset>?view=partitions`` as a PNG.

    make ui &   # then:
    .venv/bin/python scripts/ui_partitions_screenshot.py --url http://127.0.0.1:3000 --out docs/images/ui_partitions.png
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

STATS = """query($key: AssetKeyInput!) { assetNodeOrError(assetKey: $key) { ... on AssetNode {
  partitionStats { numMaterialized numMaterializing numFailed numPartitions } } } }"""


def gql(url: str, query: str, variables: dict | None = None) -> dict:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(f"{url}/graphql", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=600) as response:
        payload = json.loads(response.read())
    if "errors" in payload:
        raise SystemExit(f"ui_partitions_screenshot: GraphQL error: {payload['errors']}")
    return payload["data"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:3000", help="the running Dagster UI")
    parser.add_argument("--asset", default="prices")
    parser.add_argument("--out", default="docs/images/ui_partitions.png")
    parser.add_argument("--size", default="1600,1000", help="window width,height in px")
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("ui_partitions_screenshot: headless Chromium is needed (apt-get install chromium)")
    gql(args.url, "mutation { setNuxSeen }")
    began = time.perf_counter()
    stats = gql(args.url, STATS, {"key": {"path": [args.asset]}})["assetNodeOrError"]["partitionStats"]
    print(f"partitionStats of {args.asset}: {stats} in {time.perf_counter() - began:.2f} s")
    with tempfile.TemporaryDirectory(prefix="ui_screenshot_") as profile:
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        f"--window-size={args.size}", "--virtual-time-budget=30000", f"--user-data-dir={profile}",
                        f"--screenshot={args.out}", f"{args.url}/assets/{args.asset}?view=partitions"],
                       check=True, capture_output=True, timeout=300)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    sys.exit(main())
