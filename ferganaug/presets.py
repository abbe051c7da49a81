"""`fergan train`'s config: a committed preset (ferganaug/configs/NAME.toml), then a user's
config file, then the command line's choices, then ``--set`` assignments, each on top of the
last. A preset has two tables: ``[gan]`` (GANConfig) and ``[classifier]`` (the frozen loss
classifier trained first when none is given: a design and fields on top of its study recipe,
or ``preset = "NAME"``, a classifier preset of ``fer-classify presets``, with fields on top),
and may have a third, ``[ensemble]``: more loss classifiers whose beliefs the expression loss
averages with the first's, each with the next seed: ``models = ["mini-xception"]``, designs
trained with the ``[classifier]`` recipe, and ``presets = ["fer2013-cpu"]``, classifier presets
trained with their own recipe.

TOML because Python reads it without a dependency (tomllib; tomli before 3.11), it has
comments for the reasons behind a recipe, and its values are typed (1e-4 is a number)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from classifiers.presets import preset_train_table
from classifiers.train_config import TrainConfig, resolve_train_config
from ferganaug.engine.config import ConfigError, apply_assignments, config_from_dict, load_toml
from ferganaug.gan.config import GANConfig

PRESETS_DIR = Path(__file__).parent / "configs"
DEFAULT_PRESET = "builtin"
TABLES = {"gan": GANConfig, "classifier": TrainConfig}
ENSEMBLE = "ensemble"
# Fields of the [classifier] recipe that belong to its design and do not carry to another one.
DESIGN_FIELDS = ("model_kwargs", "weights", "freeze_epochs")


@dataclass(frozen=True)
class GANRunConfig:
    """Everything `fergan train` resolves before it starts."""

    preset: str
    gan: GANConfig
    classifier: TrainConfig
    ensemble: tuple[TrainConfig, ...] = ()  # more loss classifiers, averaged with the first

    def to_dict(self) -> dict:
        data = {"preset": self.preset, "gan": self.gan.to_dict(), "classifier": self.classifier.to_dict()}
        if self.ensemble:
            data[ENSEMBLE] = [member.to_dict() for member in self.ensemble]
        return data

    @property
    def loss_classifiers(self) -> tuple[TrainConfig, ...]:
        return (self.classifier, *self.ensemble)


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.toml"))


def list_presets() -> dict[str, str]:
    """Preset name -> its one-line description."""
    return {name: str(read_config_file(PRESETS_DIR / f"{name}.toml").get("description", "")) for name in preset_names()}


def read_config_file(path: str | Path) -> dict[str, Any]:
    """A TOML config file's tables, checked: only ``description``, ``[gan]``, ``[classifier]`` and
    ``[ensemble]`` (``models``: design names; ``presets``: classifier preset names)."""
    path = Path(path)
    try:
        data = load_toml(path.read_text())
    except OSError as err:
        raise ConfigError(f"cannot read config file {path}: {err.strerror or err}") from None
    except ValueError as err:
        raise ConfigError(f"{path} is not valid TOML: {err}") from None
    unknown = [k for k in data if k not in (*TABLES, ENSEMBLE, "description")]
    if unknown:
        raise ConfigError(f"{path}: unknown table or key {', '.join(repr(k) for k in unknown)}; "
                          f"valid: description, {', '.join(f'[{t}]' for t in (*TABLES, ENSEMBLE))}")
    for table in (*TABLES, ENSEMBLE):
        if not isinstance(data.get(table, {}), dict):
            raise ConfigError(f"{path}: '{table}' must be a table ([{table}])")
    if ENSEMBLE in data:
        _check_ensemble(data[ENSEMBLE], f"{path} [{ENSEMBLE}]")
    return data


def _check_ensemble(table: Mapping[str, Any], where: str) -> None:
    from classifiers.presets import preset_names as classifier_preset_names
    from classifiers.registry import list_models

    known = {"models": list_models(), "presets": classifier_preset_names()}
    lists = {k: v for k, v in table.items() if k in known}
    if (not lists or set(table) - set(known)
            or not all(isinstance(v, list) and all(isinstance(m, str) for m in v) for v in lists.values())):
        raise ConfigError(f"{where}: expected models = a list of design names and/or presets = a list of "
                          f"classifier presets, e.g. models = [\"mini-xception\"], presets = [\"fer2013-cpu\"]; "
                          f"got {dict(table)}")
    for key, names in lists.items():
        unknown = [m for m in names if m not in known[key]]
        if unknown:
            kind = "design" if key == "models" else "classifier preset"
            raise ConfigError(f"{where}: unknown {kind} {', '.join(repr(m) for m in unknown)}; "
                              f"{kind}s: {', '.join(known[key])}")


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
    ensemble_table: dict[str, list[str]] = {}
    for name, data in sources:
        if ENSEMBLE in data:  # a later source's ensemble replaces an earlier one's
            ensemble_table = data[ENSEMBLE]
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
    first = resolve_train_config(model, classifier, where["classifier"] or "[classifier]")
    recipe = {k: v for k, v in classifier.items() if k not in DESIGN_FIELDS}
    members = [(design, recipe) for design in ensemble_table.get("models", [])]
    for name in ensemble_table.get("presets", []):
        table = preset_train_table(name)
        members.append((table.pop("model"), {shared: classifier[shared] for shared in ("precision", "device")} | table))
    ensemble = tuple(
        resolve_train_config(design, {**table, "seed": first.seed + i}, f"[{ENSEMBLE}] {design}")
        for i, (design, table) in enumerate(members, start=1))
    return GANRunConfig(preset, gan, first, ensemble)
