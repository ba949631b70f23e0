"""The pipeline's configuration file: defaults of every asset's run config.

``risk_pipeline/config/pipeline.yaml`` ships the defaults; the environment variable
``RISK_PIPELINE_CONFIG`` names another file to use instead.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

DEFAULT_CONFIG = Path(__file__).resolve().parent / "config" / "pipeline.yaml"


class SettingsError(ValueError):
    """The configuration file is missing, malformed or lacks a section."""


@lru_cache(maxsize=None)
def _load(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise SettingsError(f"configuration file {path} does not exist") from None
    except yaml.YAMLError as exc:
        raise SettingsError(f"configuration file {path} is not valid YAML: {exc}") from None
    if not isinstance(loaded, dict):
        raise SettingsError(f"configuration file {path} must hold a mapping of sections")
    return loaded


def config_path() -> Path:
    return Path(os.environ.get("RISK_PIPELINE_CONFIG", DEFAULT_CONFIG)).expanduser()


def section(name: str) -> dict[str, Any]:
    """One section of the configuration file, e.g. ``section("var")``."""
    path = config_path()
    content = _load(path)
    if not isinstance(content.get(name), dict):
        raise SettingsError(f"configuration file {path} has no mapping section {name!r}")
    return dict(content[name])
