"""A range of time-window partitions as the one time window it is, not built key by key.

Dagster (1.13) makes the subset of a run's partition range, for each output and each partitioned
input of every step, with ``PartitionsSubset.with_partition_key_range``: the range's keys listed,
each parsed back to its time window and merged into the subset one at a time (a new window object
per key). A range run of ``make run``'s 30 years is 8,607 business days: about 0.5 s a call, some
25 calls in the run's process (two or three per asset), while the workers wait.

The time windows of a ``TimeWindowPartitionsDefinition`` are the intervals between consecutive
ticks of its cron schedule: the windows of consecutive keys touch (each ends where the next
starts), so the keys of a range merge into the single window from the start of its first key to
the end of its last, holding as many partitions as the range has keys. :func:`with_partition_key_range`
returns that subset directly for an empty subset of the same definition, without exclusions (where
windows do not touch), when the range lies within the definition's partitions (Dagster's merge
drops windows outside them); in every other case Dagster's own method runs. The subset is equal to
Dagster's (``test_partition_ranges.py`` compares them over many ranges). Installed when the
project's definitions load (``risk_pipeline.definitions``).
"""

from __future__ import annotations

from dagster import PartitionKeyRange, PartitionsDefinition, TimeWindow
from dagster._core.definitions.partitions.subset.partitions_subset import PartitionsSubset
from dagster._core.definitions.partitions.subset.time_window import TimeWindowPartitionsSubset

DAGSTERS_WITH_PARTITION_KEY_RANGE = PartitionsSubset.with_partition_key_range


def with_partition_key_range(self: TimeWindowPartitionsSubset, partitions_def: PartitionsDefinition,
                             partition_key_range: PartitionKeyRange) -> PartitionsSubset:
    """``self`` with the partitions of ``partition_key_range`` added: one window when ``self`` is empty."""
    definition = self.partitions_def
    if self.included_time_windows or partitions_def != definition or definition.exclusions:
        return DAGSTERS_WITH_PARTITION_KEY_RANGE(self, partitions_def, partition_key_range)
    keys = definition.get_partition_keys_in_range(partition_key_range)  # Dagster's checks of the range's ends
    first_valid, last_valid = definition.get_first_partition_window(), definition.get_last_partition_window()
    if not keys or first_valid is None or last_valid is None:
        return DAGSTERS_WITH_PARTITION_KEY_RANGE(self, partitions_def, partition_key_range)
    start = definition.time_window_for_partition_key(keys[0]).start
    end = definition.time_window_for_partition_key(keys[-1]).end
    if start.timestamp() < first_valid.start.timestamp() or end.timestamp() > last_valid.end.timestamp():
        return DAGSTERS_WITH_PARTITION_KEY_RANGE(self, partitions_def, partition_key_range)
    return TimeWindowPartitionsSubset(definition, num_partitions=len(keys),
                                      included_time_windows=[TimeWindow(start, end)])


def install() -> None:
    """Make :func:`with_partition_key_range` the method of Dagster's time-window subsets (once)."""
    if TimeWindowPartitionsSubset.with_partition_key_range is not with_partition_key_range:
        TimeWindowPartitionsSubset.with_partition_key_range = with_partition_key_range  # type: ignore[method-assign]
