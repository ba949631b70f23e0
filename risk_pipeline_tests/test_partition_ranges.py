"""A run's partition range as one time window (risk_pipeline/partition_ranges.py): the subset Dagster's
own key-by-key method makes, for the project's business days and other schedules, every kind of range."""

from __future__ import annotations

import datetime as dt
import random

import dagster as dg
import pytest
from dagster._core.definitions.partitions.subset.time_window import TimeWindowPartitionsSubset

from risk_pipeline import partition_ranges
from risk_pipeline.defs.lake_assets import business_days

DAGSTERS = partition_ranges.DAGSTERS_WITH_PARTITION_KEY_RANGE


def _both(definition: dg.TimeWindowPartitionsDefinition, subset, first: str, last: str):
    key_range = dg.PartitionKeyRange(first, last)
    return (partition_ranges.with_partition_key_range(subset, definition, key_range),
            DAGSTERS(subset, definition, key_range))


def _assert_same(ours: TimeWindowPartitionsSubset, dagsters: TimeWindowPartitionsSubset) -> None:
    assert ours == dagsters  # Dagster's equality: the definition and the windows
    assert ours.num_partitions == dagsters.num_partitions
    assert list(ours.get_partition_keys()) == list(dagsters.get_partition_keys())
    assert ours.serialize() == dagsters.serialize()


def _not_dagsters(*_args) -> None:
    raise AssertionError("Dagster's key-by-key method ran")


def test_the_project_s_business_days_over_ranges_of_every_length_give_dagster_s_subset(monkeypatch) -> None:
    monkeypatch.setattr(partition_ranges, "DAGSTERS_WITH_PARTITION_KEY_RANGE", _not_dagsters)  # one window each
    definition = business_days
    keys = definition.get_partition_keys()
    rng = random.Random(7)
    pairs = [(0, len(keys) - 1), (0, 0), (len(keys) - 1, len(keys) - 1), (4, 5), (3, 4)]  # whole, ends, across a weekend
    pairs += [tuple(sorted((rng.randrange(len(keys)), rng.randrange(len(keys))))) for _ in range(12)]
    for i, j in pairs:
        ours, dagsters = _both(definition, definition.empty_subset(), keys[i], keys[j])
        assert len(ours.included_time_windows) == 1
        _assert_same(ours, dagsters)
        assert ours.num_partitions == j - i + 1


@pytest.mark.parametrize("cron, fmt, start", [
    ("0 0 * * *", "%Y-%m-%d", "2020-01-01"),          # every day
    ("0 * * * *", "%Y-%m-%d-%H:%M", "2021-03-27-00:00"),  # hourly
    ("0 0 1 * *", "%Y-%m-%d", "2015-01-01"),          # monthly
    ("0 0 * * 1-5", "%Y-%m-%d", "2019-12-30"),        # weekdays
])
def test_other_schedules_and_time_zones_give_dagster_s_subset(cron: str, fmt: str, start: str) -> None:
    for timezone in ("UTC", "Europe/London", "America/New_York"):  # hourly across a DST change
        definition = dg.TimeWindowPartitionsDefinition(cron_schedule=cron, fmt=fmt, start=start, timezone=timezone,
                                                       end=None)
        keys = definition.get_partition_keys()[:400]
        for i, j in [(0, len(keys) - 1), (0, 0), (len(keys) // 20, len(keys) * 3 // 4), (len(keys) - 2, len(keys) - 1)]:
            _assert_same(*_both(definition, definition.empty_subset(), keys[i], keys[j]))


def test_a_subset_that_holds_partitions_already_is_dagster_s_merge() -> None:
    definition = business_days
    keys = definition.get_partition_keys()
    held = definition.empty_subset().with_partition_keys([keys[10], keys[500]])
    ours, dagsters = _both(definition, held, keys[20], keys[600])
    _assert_same(ours, dagsters)
    assert len(ours.included_time_windows) == 2  # [10] and [20..600]: Dagster's windows, merged its way


def test_a_range_past_the_last_partition_fails_or_clips_as_dagster_s() -> None:
    today = dt.date.today()
    definition = dg.TimeWindowPartitionsDefinition(cron_schedule="0 0 * * *", fmt="%Y-%m-%d",
                                                   start=(today - dt.timedelta(days=30)).isoformat())
    past_end = (today + dt.timedelta(days=5)).isoformat()
    first = definition.get_partition_keys()[0]
    try:
        dagsters = DAGSTERS(definition.empty_subset(), definition, dg.PartitionKeyRange(first, past_end))
    except Exception as error:  # Dagster refuses the range: so must this
        with pytest.raises(type(error)):
            partition_ranges.with_partition_key_range(definition.empty_subset(), definition,
                                                      dg.PartitionKeyRange(first, past_end))
    else:
        ours = partition_ranges.with_partition_key_range(definition.empty_subset(), definition,
                                                         dg.PartitionKeyRange(first, past_end))
        _assert_same(ours, dagsters)


def test_exclusions_keep_dagster_s_method() -> None:
    definition = dg.TimeWindowPartitionsDefinition(cron_schedule="0 0 * * *", fmt="%Y-%m-%d", start="2024-01-01",
                                                   end="2024-03-01", exclusions=["0 0 * * 6", "0 0 * * 0"])
    keys = definition.get_partition_keys()
    _assert_same(*_both(definition, definition.empty_subset(), keys[0], keys[-1]))


def test_the_definitions_install_it_on_dagster_s_time_window_subsets() -> None:
    import risk_pipeline.definitions  # noqa: F401 - loading the definitions installs it

    assert TimeWindowPartitionsSubset.with_partition_key_range is partition_ranges.with_partition_key_range
