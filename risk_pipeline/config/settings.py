"""The pipeline's settings file: defaults of every asset's run config.

``risk_pipeline/config/pipeline.yaml`` ships the defaults; the environment variable
``RISK_PIPELINE_CONFIG`` names another file to use instead.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from risk_pipeline.config.reader import ConfigError, plain, read_yaml

DEFAULT_SETTINGS_FILE = Path(__file__).resolve().parent / "pipeline.yaml"
SETTINGS_ENV = "RISK_PIPELINE_CONFIG"


@lru_cache(maxsize=None)
def _load(path: Path) -> dict[str, Any]:
    loaded = read_yaml(path, "settings")
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: the settings file must hold a mapping of sections")
    return plain(loaded)


def settings_path() -> Path:
    """``$RISK_PIPELINE_CONFIG`` if set, else the shipped ``pipeline.yaml``."""
    return Path(os.environ.get(SETTINGS_ENV, DEFAULT_SETTINGS_FILE)).expanduser()


def section(name: str) -> dict[str, Any]:
    """One section of the settings file, e.g. ``section("var")``."""
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
