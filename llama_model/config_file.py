"""A profile as a TOML file, loaded back exactly, with `section.field=value` overrides checked against the fields.

    llama-pipeline config tiny --toml > run.toml          # every field of the profile, in four sections
    llama-pipeline config --config run.toml --set train.lr=1e-4 --toml > run2.toml
    LLAMA_CONFIG=run2.toml llama-pipeline demo           # (or demo --config run2.toml) the run uses it

The file names its base profile (`profile = "tiny"`); a field the file leaves out keeps the base profile's
value, so `None` fields (TOML has no null) are written as a comment and read back as the base's None.
Reading uses the standard library's tomllib; writing is done here (the values are plain: numbers, strings,
booleans, a pair, a small table), so no TOML writer is needed.
"""
from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
import tomllib
from pathlib import Path

# No import of llama_model.configs: configs.get_profile reads LLAMA_CONFIG through this module, and passes
# its PROFILES in. A profile is any dataclass with these four dataclass fields (configs.Profile).
SECTIONS = ("model", "train", "data", "align")
# What torchtitan-style overrides call the sections: `--set training.lr=1e-4` is train.lr.
ALIASES = {"training": "train", "alignment": "align"}


class ConfigError(ValueError):
    """A config file or override that does not fit the profile's fields (one line, with file:line)."""


# ------------------------------------------------------------------------------------------ write

def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
        return repr(v)                           # the shortest text that reads back to the same float
    if isinstance(v, str):
        return json.dumps(v)                     # a TOML basic string is a JSON string for these characters
    if isinstance(v, (tuple, list)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"no TOML form for {v!r}")


def to_toml(profile) -> str:
    lines = [f"# llama-pipeline config: the profile {profile.name!r} with every field; "
             f"`--config FILE` or LLAMA_CONFIG=FILE loads it.",
             f"profile = {_toml_value(profile.name)}", ""]
    for section in SECTIONS:
        lines.append(f"[{section}]")
        values = getattr(profile, section)
        for f in dataclasses.fields(values):
            v = getattr(values, f.name)
            lines.append(f"# {f.name} = (none)" if v is None else f"{f.name} = {_toml_value(v)}")
        lines.append("")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ read

def _line_of(text: str, section: str | None, key: str) -> int:
    """The line of `key = ...` in `[section]` (1-based; 0 when not found) for file:line errors."""
    current = None
    for i, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if s.startswith("[") and s.endswith("]"):
            current = s[1:-1].strip()
        elif current == section and s.split("=", 1)[0].strip().strip('"') == key:
            return i
    return 0


def _coerce(cls, name: str, value, base):
    """`value` as the type of the field `name` (its base value's type, or the annotation when that is None)."""
    annotation = str({f.name: f.type for f in dataclasses.fields(cls)}[name])
    kinds = [base] if base is not None else []
    if isinstance(base, bool) or (base is None and "bool" in annotation):
        if isinstance(value, bool):
            return value
        raise ConfigError(f"expects true or false, got {value!r}")
    if isinstance(base, tuple) or "tuple" in annotation:
        if isinstance(value, list) and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in value) \
                and (base is None or len(value) == len(base)):
            return tuple(float(x) for x in value)
        raise ConfigError(f"expects a list of {len(base) if base else 'some'} numbers, got {value!r}")
    if isinstance(base, dict) or "dict" in annotation:
        if isinstance(value, dict):
            return value
        raise ConfigError(f"expects a table, got {value!r}")
    if isinstance(base, float) or (base is None and "float" in annotation):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(f"expects a number, got {value!r}")
    if isinstance(base, int) or (base is None and "int" in annotation):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"expects a whole number, got {value!r}")
    if isinstance(value, str) and (not kinds or isinstance(base, str) or "str" in annotation):
        return value
    raise ConfigError(f"expects a string, got {value!r}")


def _field_error(cls, section: str, key: str) -> str:
    names = [f.name for f in dataclasses.fields(cls)]
    close = difflib.get_close_matches(key, names, n=3, cutoff=0.6)
    return f"[{section}] has no field {key!r}" + (f"; did you mean {' or '.join(close)}?" if close else "")


def apply(profile, values: dict[str, dict], where=lambda section, key: ""):
    """The profile with `{section: {field: value}}` replaced, every key and type checked."""
    changes = {}
    for section, fields in values.items():
        if section not in SECTIONS:
            close = difflib.get_close_matches(section, [*SECTIONS, *ALIASES], n=2, cutoff=0.5)
            raise ConfigError(f"{where(section, None)}unknown section [{section}]; the sections are "
                              f"{', '.join(SECTIONS)}" + (f" (did you mean {' or '.join(close)}?)" if close else ""))
        current = getattr(profile, section)
        cls = type(current)
        updates = {}
        for key, value in fields.items():
            if key not in {f.name for f in dataclasses.fields(cls)}:
                raise ConfigError(f"{where(section, key)}{_field_error(cls, section, key)}")
            try:
                updates[key] = _coerce(cls, key, value, getattr(current, key))
            except ConfigError as e:
                raise ConfigError(f"{where(section, key)}{section}.{key} {e}") from None
        changes[section] = dataclasses.replace(current, **updates)
    out = dataclasses.replace(profile, **changes)
    if out != profile and profile.paper:     # a paper profile changed is no longer the paper's numbers
        out = dataclasses.replace(out, paper=False)
    return out


def load_text(text: str, profiles: dict, path: str = "<config>"):
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: {e}") from None
    name = doc.pop("profile", None)
    if name not in profiles:
        raise ConfigError(f"{path}:{_line_of(text, None, 'profile')}: profile = {name!r}; it must name one of: "
                          f"{', '.join(profiles)}")
    stray = [k for k, v in doc.items() if not isinstance(v, dict)]
    if stray:
        raise ConfigError(f"{path}:{_line_of(text, None, stray[0])}: {stray[0]!r} outside a section; "
                          f"the sections are {', '.join(SECTIONS)}")
    return apply(profiles[name], doc, where=lambda s, k: f"{path}:{_line_of(text, s, k) if k else 0}: ")


def load_config(path: str | os.PathLike, profiles: dict):
    """The profile a config file describes; `profiles`: configs.PROFILES (passed in: configs imports us)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{p}: {e.strerror or e}") from None
    return load_text(text, profiles, str(p))


def parse_override(text: str) -> tuple[str, str, object]:
    """`section.field=value` -> (section, field, value); the value is read as TOML, else as a bare string."""
    key, sep, raw = text.partition("=")
    section, dot, name = key.strip().partition(".")
    section = ALIASES.get(section, section)
    if not sep or not dot or not name:
        raise ConfigError(f"--set {text!r}: expected SECTION.FIELD=VALUE, e.g. train.lr=1e-4")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()                      # a bare word: a string field such as align.rm_margin=large
    return section, name, value


def with_overrides(profile, overrides: list[str]):
    values: dict[str, dict] = {}
    for o in overrides:
        section, name, value = parse_override(o)
        values.setdefault(section, {})[name] = value
    return apply(profile, values, where=lambda s, k: "--set: ")


def resolved(profile) -> dict:
    """The fields of a profile as plain JSON values (the run's record of what it trained with)."""
    return {"profile": profile.name} | {s: dataclasses.asdict(getattr(profile, s)) for s in SECTIONS}
