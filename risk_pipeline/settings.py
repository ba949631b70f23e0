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


class TextDatesLoader(yaml.SafeLoader):
    """Safe YAML that keeps dates as text, so the caller parses them and a bad date (2020-02-31)
    is an error naming its entry and field (PyYAML's own date parsing raises without a location)."""


TextDatesLoader.add_constructor("tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node))


def read_yaml(path: Path, error: type[ValueError], what: str, loader: type[yaml.SafeLoader] = yaml.SafeLoader) -> Any:
    """The parsed YAML document of ``path``; ``error`` names the file (``what`` file not found) and
    the line and column of a syntax error."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{path}: {what} file not found") from None
    try:
        return yaml.load(text, Loader=loader)  # noqa: S506 - loader is a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise error(f"{path}: malformed YAML{where}: {getattr(exc, 'problem', None) or exc}") from None


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
