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


class _Loader(_Base):  # type: ignore[misc]
    pass


def _construct_mapping(loader: Any, node: yaml.MappingNode) -> LocDict:
    loader.flatten_mapping(node)
    result = LocDict()
    result.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
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
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: Any, node: yaml.SequenceNode) -> LocList:
    result = LocList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load_yaml(text: str, file: str | None = None) -> Any:
    """Parse ``text``; a syntax error becomes a ``ValidationError`` at its line and column."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
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
