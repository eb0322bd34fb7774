"""Property-based: random mutations of valid templates never raise anything but our errors.

A mutated template either loads (and every workflow plans or raises PlanError / UsageError)
or raises ValidationError / UsageError: never KeyError, AttributeError, RecursionError...
"""

from __future__ import annotations

import contextlib
import copy
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.errors import PlanError, UsageError, ValidationError
from orchestrator.plan import build_plan, plan_to_dict
from orchestrator.tosca import load

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
SOURCES = {
    name: (EXAMPLES / name / f"{name}.yaml").read_text()
    for name in ("tsunami", "minimal_workflow", "climate")
}
DOCS = {name: yaml.safe_load(text) for name, text in SOURCES.items()}

JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 70000),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    st.sampled_from(
        [
            {"get_input": "nope"},
            {"get_property": ["SELF"]},
            {"get_attribute": ["ghost", "x"]},
            {"concat": []},
            {"token": [1, 2, 3]},
            {"get_secret": 5},
            {"join": "x"},
            "local_site",
            "forecast",
            "Runnable.submit",
            "eflows4hpc.nodes.PyCOMPSJob",
        ]
    ),
)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


def _mutate(doc: Any, path: tuple, kind: int, junk: Any) -> Any:
    if not path:
        return junk if kind == 0 else doc
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    if kind == 0:  # replace
        parent[last] = junk
    elif kind == 1:  # delete
        del parent[last]
    elif kind == 2 and isinstance(parent, dict):  # rename the key
        parent[f"{last}_x" if junk is None else str(junk)] = parent.pop(last)
    else:  # duplicate into a list / wrap
        parent[last] = [parent[last], junk]
    return doc


def _check(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.yaml"
        path.write_text(text)
        try:
            model = load(path)
        except (ValidationError, UsageError) as exc:
            assert str(exc)  # printable, one line per problem
            return
        for workflow in model.workflow_names:
            with contextlib.suppress(PlanError, UsageError):
                plan_to_dict(build_plan(model, workflow))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(sorted(DOCS)),
    index=st.integers(min_value=0),
    kind=st.integers(0, 3),
    junk=JUNK,
)
def test_structural_mutations(name: str, index: int, kind: int, junk: Any) -> None:
    doc = copy.deepcopy(DOCS[name])
    paths = _paths(doc)
    doc = _mutate(doc, paths[index % len(paths)], kind, junk)
    _check(yaml.safe_dump(doc, sort_keys=False))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(sorted(SOURCES)),
    pos=st.integers(min_value=0),
    cut=st.integers(0, 40),
    insert=st.text(alphabet=":[]{}-#&*!|>'\"\n \tabc1", max_size=6),
)
def test_textual_mutations(name: str, pos: int, cut: int, insert: str) -> None:
    text = SOURCES[name]
    at = pos % len(text)
    _check(text[:at] + insert + text[at + cut :])


TYPE_KEYS = ["derived_from", "properties", "attributes", "requirements", "capabilities",
             "interfaces", "artifacts"]  # fmt: skip
TYPE_JUNK = [None, True, 5, "x", [1], {"a": 1}, [{"a": 5}], {"type": 5},
             {"type": "integer", "default": "x"}]  # fmt: skip


@pytest.mark.parametrize("key", TYPE_KEYS)
def test_junk_in_custom_type_definitions(key: str) -> None:
    for junk in TYPE_JUNK:
        doc = {
            "tosca_definitions_version": "tosca_simple_yaml_1_3",
            "node_types": {"my.T": {"derived_from": "tosca.nodes.Root", key: junk}},
            "topology_template": {
                "node_templates": {
                    "a": {"type": "my.T"},
                    "b": {"type": "my.T", "requirements": [{"dependency": "a"}]},
                }
            },
        }
        _check(yaml.safe_dump(doc))
