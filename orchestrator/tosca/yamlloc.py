"""YAML with locations: every mapping remembers the line of each of its keys.

``load_yaml(text, file)`` returns plain dicts / lists / scalars, except that mappings are
``LocDict`` (a ``dict`` subclass) carrying ``line`` (1-based, where the mapping starts) and
``key_lines`` (key -> 1-based line). Lists are ``LocList`` with ``line``. The rest of the
loader uses these to say *where* a problem is. Only the safe YAML subset is accepted.
"""

from __future__ import annotations

from typing import Any

import yaml

from orchestrator.errors import Location, Problem, ValidationError

__all__ = ["LocDict", "LocList", "line_of", "load_yaml"]

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class LocDict(dict[Any, Any]):
    """A dict that knows where it and each of its keys are in the source file."""

    __slots__ = ("line", "key_lines")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.line: int | None = None
        self.key_lines: dict[Any, int] = {}


class LocList(list[Any]):
    """A list that knows the line it starts on."""

    __slots__ = ("line",)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.line: int | None = None


_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_STR_TAG = "tag:yaml.org,2002:str"
_SCALARS = yaml.SafeLoader.yaml_constructors


class _Builder:
    """Turns a composed node graph (parsed and composed in C) into located values.

    Faster than PyYAML's generic constructor for large templates. Aliases share the built
    value (like PyYAML), so an alias bomb costs no more than its text.
    """

    def __init__(self, loader: Any) -> None:
        self.loader = loader
        self.memo: dict[int, Any] = {}

    def build(self, node: yaml.Node) -> Any:
        key = id(node)
        if key in self.memo:
            return self.memo[key]
        if isinstance(node, yaml.ScalarNode):
            if node.tag == _STR_TAG:
                return node.value
            ctor = _SCALARS.get(node.tag)
            if ctor is None:
                raise yaml.constructor.ConstructorError(
                    None, None, f"unsupported tag {node.tag!r}", node.start_mark
                )
            value = ctor(self.loader, node)
        elif isinstance(node, yaml.SequenceNode):
            value = LocList()
            value.line = node.start_mark.line + 1
            self.memo[key] = value
            value.extend(self.build(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode) and node.tag == _MAP_TAG:
            value = self._mapping(node)
        else:
            raise yaml.constructor.ConstructorError(
                None, None, f"unsupported tag {node.tag!r}", node.start_mark
            )
        self.memo[key] = value
        return value

    def _mapping(self, node: yaml.MappingNode) -> LocDict:
        self.loader.flatten_mapping(node)
        result = LocDict()
        result.line = node.start_mark.line + 1
        self.memo[id(node)] = result
        for key_node, value_node in node.value:
            key = self.build(key_node)
            try:
                hash(key)
            except TypeError as exc:
                raise yaml.constructor.ConstructorError(
                    None, None, "found an unhashable key", key_node.start_mark
                ) from exc
            if key in result:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            result[key] = self.build(value_node)
            result.key_lines[key] = key_node.start_mark.line + 1
        return result


def _load(text: str) -> Any:
    loader = _Base(text)
    try:
        node = loader.get_single_node()
        return None if node is None else _Builder(loader).build(node)
    finally:
        loader.dispose()


def load_yaml(text: str, file: str | None = None) -> Any:
    """Parse ``text``; a syntax error becomes a ``ValidationError`` at its line and column."""
    try:
        return _load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        column = mark.column + 1 if mark is not None else None
        message = f"YAML syntax error: {exc.problem or exc.context or 'invalid YAML'}"
        raise ValidationError(
            [Problem(message, Location(file=file, line=line, column=column))]
        ) from exc
    except yaml.YAMLError as exc:
        raise ValidationError([Problem(f"YAML error: {exc}", Location(file=file))]) from exc
    except RecursionError as exc:
        raise ValidationError([Problem("YAML nesting too deep", Location(file=file))]) from exc


def line_of(container: Any, key: Any = None) -> int | None:
    """Line of ``key`` in a ``LocDict`` (or of the container itself when key is None)."""
    if key is not None and isinstance(container, LocDict):
        line = container.key_lines.get(key)
        if line is not None:
            return line
    return getattr(container, "line", None)
