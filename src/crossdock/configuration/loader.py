"""Reading a configuration file: YAML with line numbers, validated by the schema, every
problem reported at once as `file:line: field.path: message`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from crossdock.configuration.schema import CONNECTION_MODELS, CrossdockConfig

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class ConfigError:
    """One problem in a configuration file."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigErrors(Exception):
    """A file that cannot be applied, with every problem found in it."""

    def __init__(self, errors: list[ConfigError]) -> None:
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors


@dataclass(frozen=True)
class LoadedConfig:
    path: str
    text: str
    config: CrossdockConfig


def load_file(path: str | Path) -> LoadedConfig:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigErrors([ConfigError(str(path), None, "", f"cannot read: {exc.strerror}")]) from None
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        problem = f"not UTF-8 text (byte {exc.start}); save the file as UTF-8"
        raise ConfigErrors([ConfigError(str(path), line, "", problem)]) from None
    return LoadedConfig(str(path), text, load_text(text, str(path)))


def load_text(text: str, source: str = "<string>") -> CrossdockConfig:
    data, lines, problems = _parse_yaml(text, source)
    if data is None and not problems:
        problems.append(ConfigError(source, 1, "", "the file is empty"))
    if problems:
        raise ConfigErrors(problems)
    try:
        return CrossdockConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigErrors([_to_error(err, lines, source) for err in exc.errors()]) from None


def _parse_yaml(text: str, source: str) -> tuple[Any, dict[Loc, int], list[ConfigError]]:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}, []
        lines: dict[Loc, int] = {(): node.start_mark.line + 1}
        problems: list[ConfigError] = []
        _index(node, (), lines, problems, source)
        return loader.construct_document(node), lines, problems
    except yaml.MarkedYAMLError as exc:
        # Only the problem and its line: the offending text may hold a secret.
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        return None, {}, [ConfigError(source, line, "", f"YAML syntax error: {exc.problem or exc.context}")]
    except yaml.YAMLError as exc:
        return None, {}, [ConfigError(source, None, "", f"YAML error: {type(exc).__name__}")]
    except (ValueError, TypeError, RecursionError) as exc:  # a scalar YAML types but cannot build
        # (a date such as 2026-02-30), or keys that cannot be compared: no value is quoted.
        return None, {}, [ConfigError(source, None, "", f"a value YAML cannot build: {type(exc).__name__}")]
    finally:
        loader.dispose()


def _index(
    node: yaml.Node, loc: Loc, lines: dict[Loc, int], problems: list[ConfigError], source: str
) -> None:
    """Record the line of every mapping value and sequence item; flag duplicate keys."""
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is None or key == "<<":
                continue
            child = (*loc, key)
            if key in seen:
                line = key_node.start_mark.line + 1
                problems.append(ConfigError(source, line, _format(child), "duplicate key"))
            seen.add(key)
            lines[child] = key_node.start_mark.line + 1
            _index(value_node, child, lines, problems, source)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[(*loc, i)] = item.start_mark.line + 1
            _index(item, (*loc, i), lines, problems, source)


def _to_error(err: dict[str, Any], lines: dict[Loc, int], source: str) -> ConfigError:
    loc = _clean_loc(tuple(err["loc"]))
    if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
        loc = (*loc, "kind") if err["type"] == "union_tag_invalid" else loc
    return ConfigError(source, _line_of(loc, lines), _format(loc), err["msg"])


def _clean_loc(loc: Loc) -> Loc:
    """Drop the discriminator tag pydantic inserts after a connection's index."""
    out: list[str | int] = []
    for i, part in enumerate(loc):
        after_index = i >= 2 and loc[i - 2] == "connections" and isinstance(loc[i - 1], int)
        if after_index and part in CONNECTION_MODELS:
            continue
        out.append(part)
    return tuple(out)


def _line_of(loc: Loc, lines: dict[Loc, int]) -> int | None:
    for n in range(len(loc), -1, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return None


def _format(loc: Loc) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
