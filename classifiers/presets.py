"""Committed classifier recipes (``classifiers/configs/NAME.toml``), named so that a command
line, a GAN preset's ``[classifier]`` table and ``fergan evaluate`` can all ask for the same one.

A preset has a ``description`` and one ``[train]`` table: ``model`` and any TrainConfig fields,
laid on top of that design's study recipe. What the caller chooses goes on top of the preset.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from classifiers.train_config import TrainConfig, resolve_train_config
from ferganaug.engine.config import ConfigError, load_toml

CONFIGS_DIR = Path(__file__).parent / "configs"


def preset_names() -> list[str]:
    return sorted(p.stem for p in CONFIGS_DIR.glob("*.toml"))


def read_preset(name: str) -> dict[str, Any]:
    """The preset's tables, checked: ``description`` and ``[train]`` with a ``model``."""
    if name not in preset_names():
        raise ConfigError(f"unknown classifier preset '{name}'; presets: {', '.join(preset_names()) or 'none'}")
    path = CONFIGS_DIR / f"{name}.toml"
    try:
        data = load_toml(path.read_text())
    except ValueError as err:
        raise ConfigError(f"{path} is not valid TOML: {err}") from None
    unknown = [key for key in data if key not in ("description", "train")]
    if unknown or not isinstance(data.get("train"), dict) or "model" not in data["train"]:
        raise ConfigError(f"{path}: expected a description and a [train] table with a model"
                          + (f"; unknown key {', '.join(repr(k) for k in unknown)}" if unknown else ""))
    return data


def list_presets() -> dict[str, str]:
    """Preset name -> its one-line description."""
    return {name: str(read_preset(name).get("description", "")) for name in preset_names()}


def preset_train_table(name: str) -> dict[str, Any]:
    """The preset's ``[train]`` table (``model`` included)."""
    return dict(read_preset(name)["train"])


def resolve_preset_config(name: str, choices: Mapping[str, Any] | None = None,
                          where: str | None = None) -> TrainConfig:
    """The preset's design and recipe with ``choices`` (TrainConfig fields) on top; a ``model``
    among the choices replaces the preset's design but keeps its other fields."""
    table = preset_train_table(name) | dict(choices or {})
    model = table.pop("model")
    return resolve_train_config(model, table, where or f"classifier preset {name} [train]")
