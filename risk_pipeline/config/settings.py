"""The pipeline's settings file: defaults of every asset's run config.

``risk_pipeline/config/pipeline.yaml`` ships the defaults; the environment variable
``RISK_PIPELINE_CONFIG`` names a *profile*: a YAML file of the same sections holding only the
settings that differ (``risk-pipeline init-csv`` writes one for a user's price file), or a whole
copy of ``pipeline.yaml``. The profile's settings replace the defaults one by one (a nested
mapping such as ``quality.missing_days`` key by key); a section or setting that
``pipeline.yaml`` does not have is an error naming the file, the line and the setting.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from risk_pipeline.config.reader import ConfigError, located, plain, read_yaml

DEFAULT_SETTINGS_FILE = Path(__file__).resolve().parent / "pipeline.yaml"
SETTINGS_ENV = "RISK_PIPELINE_CONFIG"


def _sections(path: Path) -> dict[str, Any]:
    loaded = read_yaml(path, "settings")
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: the settings file must hold a mapping of sections")
    return loaded


def _overlay(defaults: dict[str, Any], profile: dict[str, Any], path: Path, prefix: str = "") -> dict[str, Any]:
    """``defaults`` with the settings of ``profile`` (a located mapping) in place of theirs."""
    merged = dict(defaults)
    for key, value in profile.items():
        name = f"{prefix}{key}"
        if key not in defaults:
            raise ConfigError(f"{located(path, profile)}: unknown setting {name!r} (known in this section: "
                              f"{', '.join(map(str, defaults))})")
        if isinstance(defaults[key], dict):
            if not isinstance(value, dict):
                raise ConfigError(f"{located(path, profile)}: setting {name!r} must be a mapping, got {value!r}")
            merged[key] = _overlay(defaults[key], value, path, f"{name}.")
        else:
            merged[key] = plain(value)
    return merged


@lru_cache(maxsize=None)
def _load(path: Path) -> dict[str, Any]:
    defaults = plain(_sections(DEFAULT_SETTINGS_FILE))
    if path.resolve() == DEFAULT_SETTINGS_FILE:
        return defaults
    return _overlay(defaults, _sections(path), path)


def settings_path() -> Path:
    """``$RISK_PIPELINE_CONFIG`` if set, else the shipped ``pipeline.yaml``."""
    return Path(os.environ.get(SETTINGS_ENV, DEFAULT_SETTINGS_FILE)).expanduser()


def section(name: str) -> dict[str, Any]:
    """One section of the settings (the defaults with the profile's settings), e.g. ``section("var")``."""
    path = settings_path()
    content = _load(path)
    if not isinstance(content.get(name), dict):
        raise ConfigError(f"{path}: no mapping section {name!r}")
    return dict(content[name])


def optional_section(name: str) -> dict[str, Any]:
    """A section a settings file written before it existed may lack: ``{}`` when absent."""
    path = settings_path()
    content = _load(path)
    if name in content and not isinstance(content[name], dict):
        raise ConfigError(f"{path}: section {name!r} must be a mapping")
    return dict(content.get(name) or {})
