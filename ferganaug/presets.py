"""`fergan train`'s config: a committed preset (ferganaug/configs/NAME.toml), then a user's
config file, then the command line's choices, then ``--set`` assignments, each on top of the
last. A preset has two tables: ``[gan]`` (GANConfig) and ``[classifier]`` (the frozen loss
classifier trained first when none is given: a design and fields on top of its study recipe,
or ``preset = "NAME"``, a classifier preset of ``fer-classify presets``, with fields on top).

TOML because Python reads it without a dependency (tomllib; tomli before 3.11), it has
comments for the reasons behind a recipe, and its values are typed (1e-4 is a number)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from classifiers.presets import preset_train_table
from classifiers.train_config import TrainConfig, resolve_train_config
from ferganaug.engine.config import ConfigError, apply_assignments, config_from_dict, load_toml
from ferganaug.gan.train import GANConfig

PRESETS_DIR = Path(__file__).parent / "configs"
DEFAULT_PRESET = "builtin"
TABLES = {"gan": GANConfig, "classifier": TrainConfig}


@dataclass(frozen=True)
class GANRunConfig:
    """Everything `fergan train` resolves before it starts."""

    preset: str
    gan: GANConfig
    classifier: TrainConfig

    def to_dict(self) -> dict:
        return {"preset": self.preset, "gan": self.gan.to_dict(), "classifier": self.classifier.to_dict()}


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.toml"))


def list_presets() -> dict[str, str]:
    """Preset name -> its one-line description."""
    return {name: str(read_config_file(PRESETS_DIR / f"{name}.toml").get("description", "")) for name in preset_names()}


def read_config_file(path: str | Path) -> dict[str, Any]:
    """A TOML config file's tables, checked: only ``description``, ``[gan]`` and ``[classifier]``."""
    path = Path(path)
    try:
        data = load_toml(path.read_text())
    except OSError as err:
        raise ConfigError(f"cannot read config file {path}: {err.strerror or err}") from None
    except ValueError as err:
        raise ConfigError(f"{path} is not valid TOML: {err}") from None
    unknown = [k for k in data if k not in (*TABLES, "description")]
    if unknown:
        raise ConfigError(f"{path}: unknown table or key {', '.join(repr(k) for k in unknown)}; "
                          f"valid: description, {', '.join(f'[{t}]' for t in TABLES)}")
    for table in TABLES:
        if not isinstance(data.get(table, {}), dict):
            raise ConfigError(f"{path}: '{table}' must be a table ([{table}])")
    return data


def resolve_run_config(
    preset: str = DEFAULT_PRESET,
    config_file: str | Path | None = None,
    choices: Mapping[str, Any] | None = None,
    assignments: Sequence[str] = (),
) -> GANRunConfig:
    """The preset, the config file, ``choices`` (GANConfig fields the command line names:
    steps, seed, precision, device) and ``--set`` assignments, in that order of precedence."""
    if preset not in preset_names():
        raise ConfigError(f"unknown preset '{preset}'; presets: {', '.join(preset_names())}")
    sources = [(f"preset {preset}", read_config_file(PRESETS_DIR / f"{preset}.toml"))]
    if config_file is not None:
        sources.append((str(config_file), read_config_file(config_file)))
    tables: dict[str, dict] = {"gan": {}, "classifier": {}}
    where = {"gan": "", "classifier": ""}
    for name, data in sources:
        for table in TABLES:
            given = dict(data.get(table, {}))
            if table == "classifier" and "preset" in given:
                # a classifier preset replaces what earlier sources chose; this table's keys go on top
                tables[table] = preset_train_table(given.pop("preset"))
            tables[table].update(given)
            if data.get(table):
                where[table] = f"{name} [{table}]"
    tables["gan"].update(choices or {})
    apply_assignments(tables, assignments, TABLES)
    gan = config_from_dict(GANConfig, tables["gan"], where["gan"] or "[gan]")
    classifier = dict(tables["classifier"])
    model = classifier.pop("model", "deep-cnn")
    # One seed, precision and device for the whole run, unless the classifier table says otherwise.
    for shared in ("seed", "precision", "device"):
        classifier.setdefault(shared, getattr(gan, shared))
    return GANRunConfig(preset, gan, resolve_train_config(model, classifier, where["classifier"] or "[classifier]"))
