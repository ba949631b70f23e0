"""Asset events' tags validated once per distinct set (risk_pipeline/asset_event_tags.py): Dagster's answer
for every set, valid or not, and a set that fails fails every time."""

from __future__ import annotations

import dagster as dg
import pytest
from dagster._core.definitions import events

from risk_pipeline import asset_event_tags

VALID = [
    {"dagster/code_version": "abc", "dagster/data_version": "f" * 64},
    {"dagster/data_version": "f" * 64, "dagster/code_version": "abc"},  # the same tags in another order
    {"desk": "rates", "book": "ust10y"},
    {"dagster/input_data_version/prices": "0" * 64},
]
INVALID = [
    {"desk": 1},                        # not a string
    {"desk": "x" * 64},                 # too long a value
    {"bad key!": "x"},                  # a key Dagster refuses
    {"desk": ["rates"]},                # unhashable
    {"dagster/partition": "2022-12-28", "desk": "a b"},  # a value with a space
]


def _dagsters(tags):
    try:
        return ("ok", asset_event_tags.DAGSTERS_VALIDATE(tags))
    except Exception as error:  # noqa: BLE001 - the error is what is compared
        return ("error", type(error), str(error))


def _ours(tags):
    try:
        return ("ok", asset_event_tags.validate_asset_event_tags(tags))
    except Exception as error:  # noqa: BLE001
        return ("error", type(error), str(error))


@pytest.mark.parametrize("tags", [None, {}, *VALID, *INVALID])
def test_every_tag_set_gets_dagster_s_answer_twice(tags) -> None:
    expected = _dagsters(tags)
    assert _ours(tags) == expected
    assert _ours(tags) == expected  # the second time from what was remembered, or failing again
    if expected[0] == "ok" and tags:
        assert _ours(tags)[1] is tags  # the mapping given, as Dagster returns it


def test_a_remembered_set_is_not_run_through_dagster_s_validation_again(monkeypatch) -> None:
    tags = {"dagster/code_version": "v7", "dagster/data_version": "e" * 64}
    asset_event_tags.validate_asset_event_tags(tags)
    calls = []
    monkeypatch.setattr(asset_event_tags, "DAGSTERS_VALIDATE", lambda t: calls.append(t) or t)
    asset_event_tags.validate_asset_event_tags(dict(tags))
    assert calls == []
    asset_event_tags.validate_asset_event_tags({"desk": "fx"})
    assert calls == [{"desk": "fx"}]


def test_the_definitions_install_it_for_dagster_s_asset_events() -> None:
    import risk_pipeline.definitions  # noqa: F401 - loading the definitions installs it

    assert events.validate_asset_event_tags is asset_event_tags.validate_asset_event_tags
    with pytest.raises(dg.DagsterInvalidDefinitionError):
        dg.AssetMaterialization(asset_key="prices", partition="2022-12-28", tags={"desk": "a b"})
    event = dg.AssetMaterialization(asset_key="prices", partition="2022-12-28", tags={"dagster/code_version": "x"})
    assert event.tags == {"dagster/code_version": "x"}
