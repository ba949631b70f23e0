"""risk_pipeline.gc_freeze: what loads in the block is frozen; the collector is on again after it."""

import gc

import pytest

import risk_pipeline.definitions  # noqa: F401 - loaded (and frozen) as every Dagster process loads it
from risk_pipeline.gc_freeze import frozen_when_loaded


def test_the_objects_loaded_with_the_definitions_are_frozen():
    assert gc.get_freeze_count() > 100_000
    assert gc.isenabled()


def test_the_block_runs_with_the_collector_paused_and_what_it_created_is_frozen():
    before = gc.get_freeze_count()
    with frozen_when_loaded():
        assert not gc.isenabled()
        kept = [[i] for i in range(1000)]  # 1,001 tracked objects
    assert gc.isenabled()
    assert gc.get_freeze_count() >= before + len(kept) + 1


def test_a_failing_block_freezes_nothing_and_turns_the_collector_back_on():
    before = gc.get_freeze_count()
    with pytest.raises(ZeroDivisionError):
        with frozen_when_loaded():
            _ = [[i] for i in range(1000)]
            _ = 1 / 0
    assert gc.isenabled()
    assert gc.get_freeze_count() <= before  # nothing frozen (objects frozen earlier may be freed meanwhile)


def test_a_collector_turned_off_before_stays_off():
    gc.disable()
    try:
        with frozen_when_loaded():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
