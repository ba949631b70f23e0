"""What Dagster's own work per partition of a range run costs, with the project's replacements and without.

Two pieces of a single-run backfill's process that grow with the range's partitions, not with the data:

- the subset of the run's partition range, which Dagster makes for each output and each partitioned
  input of every step (``PartitionsSubset.with_partition_key_range``; ``risk_pipeline.partition_ranges``):
  CPU seconds per call over ``--start..--end`` of the project's business days;
- building one materialization per asset and partition (``dagster.AssetMaterialization`` with the metadata
  and the code and data version tags a range run's steps give it; its tags' validation,
  ``risk_pipeline.asset_event_tags``): CPU microseconds per event.

Both are timed in this process, Dagster's original function against the project's, alternating
``--repeat`` times, with the ratio; the subsets are checked equal.

    .venv/bin/python benchmarks/bench_range_run_overhead.py
    .venv/bin/python benchmarks/bench_range_run_overhead.py --start 2013-01-02 --repeat 5
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import dagster as dg
from dagster._core.definitions import events

from risk_pipeline import asset_event_tags, partition_ranges
from risk_pipeline.defs.lake_assets import business_days

TAGS = {"dagster/code_version": "1e085b34-bc64-4391-ac38-8bfb99504449",
        "dagster/data_version": "fa0a51742cb8d1123e72c17a9a069fe7500027a9fee6c88462778be36939257b"}
METADATA = {"rows": dg.MetadataValue.int(23), "table_version": dg.MetadataValue.int(0)}


def _cpu(work: Callable[[], object], times: int) -> float:
    """CPU seconds per call of ``work``, over ``times`` calls."""
    began = time.process_time()
    for _ in range(times):
        work()
    return (time.process_time() - began) / times


def _materializations(validate: Callable, count: int) -> Callable[[], None]:
    def build() -> None:
        events.validate_asset_event_tags = validate
        for day in range(count):
            dg.AssetMaterialization(asset_key="prices", partition=f"p{day}", metadata=METADATA, tags=TAGS)
    return build


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--start", default="1990-01-02")
    parser.add_argument("--end", default="2022-12-28")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--events", type=int, default=20_000, help="materializations built per measurement")
    args = parser.parse_args()
    key_range = dg.PartitionKeyRange(args.start, args.end)
    partitions = len(business_days.get_partition_keys_in_range(key_range))
    ours_subset = partition_ranges.with_partition_key_range(business_days.empty_subset(), business_days, key_range)
    dagsters_subset = partition_ranges.DAGSTERS_WITH_PARTITION_KEY_RANGE(business_days.empty_subset(), business_days,
                                                                         key_range)
    assert ours_subset == dagsters_subset and ours_subset.num_partitions == dagsters_subset.num_partitions
    subset = {"dagster": [], "project": []}
    built = {"dagster": [], "project": []}
    for _ in range(args.repeat):
        subset["dagster"].append(_cpu(lambda: partition_ranges.DAGSTERS_WITH_PARTITION_KEY_RANGE(
            business_days.empty_subset(), business_days, key_range), 3))
        subset["project"].append(_cpu(lambda: partition_ranges.with_partition_key_range(
            business_days.empty_subset(), business_days, key_range), 300))
        built["dagster"].append(_cpu(_materializations(asset_event_tags.DAGSTERS_VALIDATE, args.events), 1) / args.events)
        built["project"].append(_cpu(_materializations(asset_event_tags.validate_asset_event_tags, args.events), 1)
                                / args.events)
    events.validate_asset_event_tags = asset_event_tags.DAGSTERS_VALIDATE
    dagster, project = statistics.median(subset["dagster"]), statistics.median(subset["project"])
    print(f"the range's subset, {partitions:,} partitions: Dagster {dagster:.4f} s, the project {project:.6f} s "
          f"a call (ratio {project / dagster:.4f}; medians of {args.repeat})")
    dagster, project = statistics.median(built["dagster"]), statistics.median(built["project"])
    print(f"a materialization built: Dagster {1e6 * dagster:.2f} us, the project {1e6 * project:.2f} us "
          f"(ratio {project / dagster:.2f}); x {partitions:,} partitions x 27 assets: "
          f"{partitions * 27 * (dagster - project):.1f} s of CPU less")


if __name__ == "__main__":
    main()
