"""Asset events' tags validated once per distinct set of tags, not once per event.

Dagster (1.13) validates the tags of every ``AssetMaterialization`` and ``AssetObservation`` it
builds (``dagster._core.definitions.events.validate_asset_event_tags``: each key tested against
the system tags, with an import per key, the rest checked as strict run tags). A range run builds
one materialization per asset and partition, 232,000 in ``make run``'s 30 years, nearly all with
the same two tags (the asset's code and data versions): the validation was half of building each
one. The validation is a pure function of the tags' keys and values (it returns the mapping it was
given, or raises), so :func:`validate_asset_event_tags` remembers the last tag sets that passed
(up to :data:`REMEMBERED`) and runs Dagster's validation for any other; a set that fails is never
remembered, so it raises as before, every time. Installed when the project's definitions load
(``risk_pipeline.definitions``).
"""

from __future__ import annotations

from collections.abc import Mapping

from dagster._core.definitions import events

DAGSTERS_VALIDATE = events.validate_asset_event_tags
REMEMBERED = 256  # distinct tag sets: a run's assets each have one or a few

_passed: set[tuple[tuple[str, str], ...]] = set()


def validate_asset_event_tags(tags: Mapping[str, str] | None) -> Mapping[str, str] | None:
    """Dagster's ``validate_asset_event_tags`` (the same return, the same errors), remembering the
    tag sets that passed."""
    if not tags:
        return DAGSTERS_VALIDATE(tags)
    try:
        key = tuple(tags.items())
        known = key in _passed
    except TypeError:  # an unhashable value: Dagster's validation says what is wrong with it
        return DAGSTERS_VALIDATE(tags)
    if known:
        return tags
    validated = DAGSTERS_VALIDATE(tags)
    if len(_passed) >= REMEMBERED:
        _passed.clear()
    _passed.add(key)
    return validated


def install() -> None:
    """Make :func:`validate_asset_event_tags` the one Dagster's asset events call (once)."""
    events.validate_asset_event_tags = validate_asset_event_tags
