"""TOSCA intrinsic functions, kept as objects in the model and evaluated at run time.

``parse(value)`` turns ``{"get_input": "x"}``-style dicts (at any depth) into function objects;
``evaluate(value, ctx)`` walks nested dicts / lists and evaluates every function against an
``EvalContext``. Each function's ``to_json()`` gives back its TOSCA form, so plans print
exactly what the template said. ``GetSecret`` never shows the secret itself: only its path.

Secret-ness propagates: ``get_secret`` evaluates to a *secret-kind* value (a ``str`` subclass
that masks its ``repr`` and gives its clear text only through ``reveal()``, such as
``orchestrator.executors.secrets.Secret``; a plain ``str`` from the store is wrapped into
``SecretValue``), and a ``concat`` / ``join`` / ``token`` with a secret-kind input evaluates
to a value of that same kind. ``to_json`` of a secret-kind value is ``"***"``, and errors
never quote one.

Modelable entities in ``get_property`` / ``get_attribute`` / ``get_operation_output``:
``SELF`` (the node or relationship being run), ``SOURCE`` / ``TARGET`` (relationship ends),
``HOST`` (the node the entity is hosted on, through HostedOn), or a node template name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from orchestrator.errors import ExecutionError

__all__ = [
    "FUNCTION_NAMES",
    "FunctionSyntaxError",
    "Concat",
    "EvalContext",
    "Function",
    "GetAttribute",
    "GetInput",
    "GetOperationOutput",
    "GetProperty",
    "GetSecret",
    "Join",
    "REDACTED",
    "SecretValue",
    "Token",
    "contains_functions",
    "evaluate",
    "functions_in",
    "is_secret",
    "parse",
    "to_json",
]

ENTITY_KEYWORDS = ("SELF", "SOURCE", "TARGET", "HOST")
REDACTED = "***"


class SecretValue(str):
    """A secret-kind ``str`` for stores that return plain strings: masked ``repr``.

    ``is_secret`` marks it for structural redaction (``orchestrator.redaction``);
    ``reveal()`` gives the clear text as a plain ``str``.
    """

    __slots__ = ()
    is_secret = True

    def __repr__(self) -> str:
        return "SecretValue('***')"

    def reveal(self) -> str:
        return str.__str__(self)


def is_secret(value: Any) -> bool:
    """Whether ``value`` is a secret-kind string (a ``str`` subclass with ``reveal()``, a true
    ``is_secret`` attribute or a class named ``Secret``), never a plain ``str``."""
    if not isinstance(value, str) or type(value) is str:
        return False
    return (
        callable(getattr(value, "reveal", None))
        or bool(getattr(value, "is_secret", False))
        or type(value).__name__ == "Secret"
    )


def _secret_kind(values: Sequence[Any]) -> type[str] | None:
    """The class of the first secret-kind value in ``values`` (lists looked into), or None."""
    for v in values:
        if is_secret(v):
            return type(v)
        if isinstance(v, list | tuple):
            kind = _secret_kind(v)
            if kind is not None:
                return kind
    return None


def _as_secret(kind: type[str] | None, text: str) -> str:
    """``text`` as a value of the secret ``kind`` (unchanged when ``kind`` is None)."""
    return text if kind is None else kind(text)


@runtime_checkable
class EvalContext(Protocol):
    """What functions need to evaluate; the engine and ``ModelEvalContext`` implement it.

    ``resolve_entity`` maps SELF / SOURCE / TARGET / HOST (or a node name) to a node name.
    ``get_property`` / ``get_attribute`` take that node name and a path whose first element is
    a property (or requirement / capability) name followed by nested keys or list indexes.
    Each raises ``orchestrator.errors.ToscaError`` (usually ``ExecutionError`` or
    ``ValidationError``) when the value cannot be found.
    """

    def resolve_entity(self, entity: str) -> str: ...

    def get_input(self, name: str) -> Any: ...

    def get_property(self, node: str, path: Sequence[Any]) -> Any: ...

    def get_attribute(self, node: str, path: Sequence[Any]) -> Any: ...

    def get_operation_output(self, node: str, interface: str, operation: str, name: str) -> Any: ...

    def get_secret(self, path: str) -> Any: ...


class Function:
    """Base of the intrinsic functions: ``name`` is the TOSCA keyword."""

    name: str = ""

    def evaluate(self, ctx: EvalContext) -> Any:
        raise NotImplementedError

    def to_json(self) -> dict[str, Any]:
        raise NotImplementedError


@dataclass(frozen=True, eq=True)
class GetInput(Function):
    """``{get_input: name}`` or ``{get_input: [name, key...]}`` (nested into the value)."""

    input_name: str
    path: tuple[Any, ...] = ()
    name = "get_input"

    def evaluate(self, ctx: EvalContext) -> Any:
        return _walk(ctx.get_input(self.input_name), self.path)

    def to_json(self) -> dict[str, Any]:
        if self.path:
            return {self.name: [self.input_name, *self.path]}
        return {self.name: self.input_name}


@dataclass(frozen=True, eq=True)
class GetProperty(Function):
    """``{get_property: [entity, (req_or_cap,) property, nested...]}``."""

    entity: str
    path: tuple[Any, ...]
    name = "get_property"

    def evaluate(self, ctx: EvalContext) -> Any:
        return ctx.get_property(ctx.resolve_entity(self.entity), list(self.path))

    def to_json(self) -> dict[str, Any]:
        return {self.name: [self.entity, *self.path]}


@dataclass(frozen=True, eq=True)
class GetAttribute(Function):
    """``{get_attribute: [entity, (req_or_cap,) attribute, nested...]}``."""

    entity: str
    path: tuple[Any, ...]
    name = "get_attribute"

    def evaluate(self, ctx: EvalContext) -> Any:
        return ctx.get_attribute(ctx.resolve_entity(self.entity), list(self.path))

    def to_json(self) -> dict[str, Any]:
        return {self.name: [self.entity, *self.path]}


@dataclass(frozen=True, eq=True)
class GetOperationOutput(Function):
    """``{get_operation_output: [entity, interface, operation, output_name]}``."""

    entity: str
    interface: str
    operation: str
    output: str
    name = "get_operation_output"

    def evaluate(self, ctx: EvalContext) -> Any:
        node = ctx.resolve_entity(self.entity)
        return ctx.get_operation_output(node, self.interface, self.operation, self.output)

    def to_json(self) -> dict[str, Any]:
        return {self.name: [self.entity, self.interface, self.operation, self.output]}


@dataclass(frozen=True, eq=True)
class Concat(Function):
    """``{concat: [a, b, ...]}``: the string concatenation of the evaluated parts."""

    parts: tuple[Any, ...]
    name = "concat"

    def evaluate(self, ctx: EvalContext) -> Any:
        values = [evaluate(p, ctx) for p in self.parts]
        return _as_secret(_secret_kind(values), "".join(_as_text(v) for v in values))

    def to_json(self) -> dict[str, Any]:
        return {self.name: [to_json(p) for p in self.parts]}


@dataclass(frozen=True, eq=True)
class Join(Function):
    """``{join: [[a, b, ...], delimiter]}`` (TOSCA 1.3); delimiter defaults to ``""``."""

    parts: tuple[Any, ...]
    delimiter: Any = ""
    name = "join"

    def evaluate(self, ctx: EvalContext) -> Any:
        delimiter = evaluate(self.delimiter, ctx)
        values = [evaluate(p, ctx) for p in self.parts]
        items: list[str] = []
        for value in values:
            # A part that evaluates to a list (e.g. a list input) contributes each element.
            if isinstance(value, list):
                items.extend(_as_text(v) for v in value)
            else:
                items.append(_as_text(value))
        kind = _secret_kind([delimiter, *values])
        return _as_secret(kind, _as_text(delimiter).join(items))

    def to_json(self) -> dict[str, Any]:
        parts = [to_json(p) for p in self.parts]
        return {self.name: [parts, to_json(self.delimiter)] if self.delimiter != "" else [parts]}


@dataclass(frozen=True, eq=True)
class Token(Function):
    """``{token: [string, separators, index]}``: the index-th substring between separators."""

    string: Any
    separators: str
    index: int
    name = "token"

    def evaluate(self, ctx: EvalContext) -> Any:
        value = evaluate(self.string, ctx)
        kind = _secret_kind([value])
        text = _as_text(value)
        tokens = [text]
        for sep in self.separators:
            tokens = [piece for t in tokens for piece in t.split(sep)]
        if not -len(tokens) <= self.index < len(tokens):
            shown = "a secret" if kind is not None else repr(text)
            raise ExecutionError(
                f"token index {self.index} out of range: {len(tokens)} tokens in {shown}"
            )
        return _as_secret(kind, tokens[self.index])

    def to_json(self) -> dict[str, Any]:
        return {self.name: [to_json(self.string), self.separators, self.index]}


@dataclass(frozen=True, eq=True)
class GetSecret(Function):
    """``{get_secret: path}``: a secret from the secret store; only the path is ever shown."""

    path: str
    name = "get_secret"

    def evaluate(self, ctx: EvalContext) -> Any:
        value = ctx.get_secret(self.path)
        # A store returning a plain string still gets a masked value back.
        return SecretValue(value) if isinstance(value, str) and not is_secret(value) else value

    def to_json(self) -> dict[str, Any]:
        return {self.name: self.path}

    def __repr__(self) -> str:
        return f"GetSecret(path={self.path!r})"

    __str__ = __repr__


@dataclass(frozen=True, eq=True)
class GetArtifact(Function):
    """``{get_artifact: [entity, artifact_name (, location, remove)]}``: the local path of
    the node's artifact file (relative paths resolved against the template's directory).
    ``location`` / ``remove`` (where to deploy it) are kept but not acted on: the file is
    used where it is."""

    entity: str
    artifact: str
    location: str | None = None
    remove: bool | None = None
    name = "get_artifact"

    def evaluate(self, ctx: EvalContext) -> Any:
        getter = getattr(ctx, "get_artifact", None)
        if getter is None:
            raise ValueError("get_artifact cannot be evaluated here")
        return getter(ctx.resolve_entity(self.entity), self.artifact)

    def to_json(self) -> dict[str, Any]:
        args: list[Any] = [self.entity, self.artifact]
        if self.location is not None:
            args.append(self.location)
            if self.remove is not None:
                args.append(self.remove)
        return {self.name: args}


FUNCTION_NAMES = frozenset(
    {
        "get_artifact",
        "get_input",
        "get_property",
        "get_attribute",
        "get_operation_output",
        "concat",
        "join",
        "token",
        "get_secret",
    }
)


class FunctionSyntaxError(ValueError):
    """A function's arguments are malformed; the loader turns this into a located Problem."""


def parse(value: Any) -> Any:
    """Return ``value`` with every intrinsic-function dict replaced by its function object.

    Raises ``FunctionSyntaxError`` for a function whose arguments have the wrong shape.
    """
    if isinstance(value, Mapping):
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key in FUNCTION_NAMES:
                return _PARSERS[key](arg)
        return {k: parse(v) for k, v in value.items()}
    if isinstance(value, list):
        return [parse(v) for v in value]
    return value


def _parse_get_input(arg: Any) -> GetInput:
    if isinstance(arg, str) and arg:
        return GetInput(arg)
    if isinstance(arg, list) and arg and isinstance(arg[0], str):
        return GetInput(arg[0], tuple(arg[1:]))
    raise FunctionSyntaxError("get_input needs an input name (or [name, key...])")


def _entity_path(fname: str, arg: Any, minimum: int = 2) -> tuple[str, tuple[Any, ...]]:
    if (
        not isinstance(arg, list)
        or len(arg) < minimum
        or not all(isinstance(a, str | int) and not isinstance(a, bool) for a in arg)
        or not isinstance(arg[0], str)
    ):
        raise FunctionSyntaxError(
            f"{fname} needs a list [entity, name, ...] of at least {minimum} strings"
        )
    return arg[0], tuple(arg[1:])


def _parse_get_property(arg: Any) -> GetProperty:
    return GetProperty(*_entity_path("get_property", arg))


def _parse_get_attribute(arg: Any) -> GetAttribute:
    return GetAttribute(*_entity_path("get_attribute", arg))


def _parse_get_operation_output(arg: Any) -> GetOperationOutput:
    if not isinstance(arg, list) or len(arg) != 4 or not all(isinstance(a, str) for a in arg):
        raise FunctionSyntaxError(
            "get_operation_output needs [entity, interface, operation, output_name]"
        )
    return GetOperationOutput(arg[0], arg[1], arg[2], arg[3])


def _parse_concat(arg: Any) -> Concat:
    if not isinstance(arg, list) or not arg:
        raise FunctionSyntaxError("concat needs a non-empty list of values")
    return Concat(tuple(parse(a) for a in arg))


def _parse_join(arg: Any) -> Join:
    if (
        not isinstance(arg, list)
        or not 1 <= len(arg) <= 2
        or not isinstance(arg[0], list)
        or not arg[0]
    ):
        raise FunctionSyntaxError("join needs [[value, ...]] or [[value, ...], delimiter]")
    delimiter = parse(arg[1]) if len(arg) == 2 else ""
    return Join(tuple(parse(a) for a in arg[0]), delimiter)


def _parse_token(arg: Any) -> Token:
    if (
        not isinstance(arg, list)
        or len(arg) != 3
        or not isinstance(arg[1], str)
        or not arg[1]
        or not isinstance(arg[2], int)
        or isinstance(arg[2], bool)
    ):
        raise FunctionSyntaxError("token needs [string, separator characters, index]")
    return Token(parse(arg[0]), arg[1], arg[2])


def _parse_get_secret(arg: Any) -> GetSecret:
    if not isinstance(arg, str) or not arg:
        raise FunctionSyntaxError("get_secret needs a secret path (a non-empty string)")
    return GetSecret(arg)


def _parse_get_artifact(arg: Any) -> GetArtifact:
    ok = isinstance(arg, list) and 2 <= len(arg) <= 4 and all(isinstance(a, str) for a in arg[:3])
    if not ok:
        raise FunctionSyntaxError("get_artifact needs [entity, artifact_name (, location, remove)]")
    remove = arg[3] if len(arg) > 3 else None
    return GetArtifact(arg[0], arg[1], arg[2] if len(arg) > 2 else None,
                       bool(remove) if remove is not None else None)  # fmt: skip


_PARSERS: dict[str, Callable[[Any], Function]] = {
    "get_artifact": _parse_get_artifact,
    "get_input": _parse_get_input,
    "get_property": _parse_get_property,
    "get_attribute": _parse_get_attribute,
    "get_operation_output": _parse_get_operation_output,
    "concat": _parse_concat,
    "join": _parse_join,
    "token": _parse_token,
    "get_secret": _parse_get_secret,
}


def evaluate(value: Any, ctx: EvalContext) -> Any:
    """Evaluate every function in ``value`` (dicts, lists, scalars) against ``ctx``."""
    if isinstance(value, Function):
        return value.evaluate(ctx)
    if isinstance(value, dict):
        return {k: evaluate(v, ctx) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [evaluate(v, ctx) for v in value]
    return value


def to_json(value: Any) -> Any:
    """``value`` with functions in their TOSCA form (JSON-able when the rest is); a
    secret-kind value becomes ``"***"``."""
    if is_secret(value):
        return REDACTED
    if isinstance(value, Function):
        return value.to_json()
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value


def functions_in(value: Any) -> list[Function]:
    """Every function object in ``value``, outermost first (nested concat/join args too)."""
    found: list[Function] = []

    def visit(v: Any) -> None:
        if isinstance(v, Function):
            found.append(v)
            if isinstance(v, Concat | Join):
                visit(list(v.parts))
                visit(v.delimiter if isinstance(v, Join) else None)
            elif isinstance(v, Token):
                visit(v.string)
        elif isinstance(v, dict):
            for x in v.values():
                visit(x)
        elif isinstance(v, list | tuple):
            for x in v:
                visit(x)

    visit(value)
    return found


def contains_functions(value: Any) -> bool:
    """Whether ``value`` holds any function object."""
    return bool(functions_in(value))


def _walk(value: Any, path: Sequence[Any]) -> Any:
    for key in path:
        try:
            # A piece of a secret is a secret too.
            value = (
                _as_secret(_secret_kind([value]), value[key]) if is_secret(value) else value[key]
            )
        except (KeyError, IndexError, TypeError) as exc:
            raise ExecutionError(f"no {key!r} in value {_preview(value)}") from exc
    return value


def _as_text(value: Any) -> str:
    if is_secret(value):
        reveal = getattr(value, "reveal", None)
        return str(reveal()) if callable(reveal) else str.__str__(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
