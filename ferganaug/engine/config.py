"""One strict (de)serialiser for every config dataclass, and ``KEY=VALUE`` overrides.

A config crosses a boundary as a plain dict (config.json, a TOML preset, a command line). On
the way back in, an unknown or mistyped key is an error that names the key and the valid
ones: a typo must never fall back silently to a default."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Mapping, Sequence, TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    """A config value or key that does not fit its dataclass."""


def config_to_dict(config: Any) -> dict[str, Any]:
    """A dataclass as JSON/TOML-ready data: tuples become lists, nested dataclasses dicts."""
    return {f.name: _plain(getattr(config, f.name)) for f in dataclasses.fields(config)}


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return config_to_dict(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def config_from_dict(cls: type[T], data: Mapping[str, Any], where: str) -> T:
    """Build ``cls`` from ``data``, checking every key and coercing every value by the field's
    type; ``where`` names the source in messages (a file, a table, an option)."""
    check_keys(cls, data, where)
    hints = typing.get_type_hints(cls)
    values = {key: coerce(value, hints[key], f"{where}: '{key}'") for key, value in data.items()}
    try:
        return cls(**values)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{where}: {err}") from None


def check_keys(cls: type, data: Mapping[str, Any], where: str) -> None:
    valid = [f.name for f in dataclasses.fields(cls)]
    unknown = [key for key in data if key not in valid]
    if unknown:
        raise ConfigError(
            f"{where}: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(repr(k) for k in unknown)}; "
            f"valid keys: {', '.join(valid)}"
        )


def field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def coerce(value: Any, hint: Any, where: str) -> Any:
    """``value`` as type ``hint`` (int, float, bool, str, dict, tuples, unions, Literals)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for alternative in (a for a in args if a is not type(None)):
            try:
                return coerce(value, alternative, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where} must be {_describe(hint)}, got {value!r}")
    if origin is typing.Literal:
        if value in args:
            return value
        raise ConfigError(f"{where} must be one of {', '.join(repr(a) for a in args)}, got {value!r}")
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} must be a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(coerce(v, args[0], where) for v in value)
        if args and len(args) != len(value):
            raise ConfigError(f"{where} must be a list of {len(args)} values, got {value!r}")
        return tuple(coerce(v, a, where) for v, a in zip(value, args or [Any] * len(value)))
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where} must be a table of keys and values, got {value!r}")
        return dict(value)
    if hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif hint is str:
        if isinstance(value, str):
            return value
    elif isinstance(hint, type) and isinstance(value, hint):
        return value
    raise ConfigError(f"{where} must be {_describe(hint)}, got {value!r}")


def _describe(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin is tuple:
        return "a list"
    if hint is type(None):
        return "none"
    return {bool: "true or false", int: "a whole number", float: "a number", str: "a string"}.get(
        hint, getattr(hint, "__name__", str(hint)))


def parse_assignment(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` from a command line; VALUE is read as a TOML value (``10``, ``1e-4``,
    ``true``, ``[0.5, 0.999]``, ``"x"``) and as a plain string when it is not one."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--set '{text}': expected KEY=VALUE, such as gan.w_expr=10")
    raw = raw.strip()
    try:
        value = load_toml(f"value = {raw}")["value"]
    except ValueError:
        value = raw
    return key, value


def load_toml(text: str) -> dict[str, Any]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    return tomllib.loads(text)


def apply_assignments(sections: dict[str, dict], assignments: Sequence[str], schemas: Mapping[str, type]) -> None:
    """Set ``section.key=value`` (or a bare ``key`` that exactly one section has) in place."""
    for text in assignments:
        key, value = parse_assignment(text)
        section, _, name = key.rpartition(".")
        if not section:
            owners = [s for s, cls in schemas.items() if name in field_types(cls)]
            if len(owners) != 1:
                where = "no table has it" if not owners else f"{' and '.join(owners)} have it"
                raise ConfigError(
                    f"--set {key}: {where}; name it as TABLE.KEY with TABLE one of {', '.join(schemas)} "
                    f"(valid keys: {_all_keys(schemas)})"
                )
            section = owners[0]
        if section not in schemas:
            raise ConfigError(f"--set {key}: unknown table '{section}'; valid tables: {', '.join(schemas)}")
        check_keys(schemas[section], {name: value}, f"--set {key}")
        value = coerce(value, field_types(schemas[section])[name], f"--set {key}:")
        sections.setdefault(section, {})[name] = value


def _all_keys(schemas: Mapping[str, type]) -> str:
    return "; ".join(f"{s}: {', '.join(f.name for f in dataclasses.fields(cls))}" for s, cls in schemas.items())
