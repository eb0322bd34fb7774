# ruff: noqa: E501  (the case table keeps one case per line)
"""Invalid templates: each one must fail with a clear message AND the right location.

A template's expected line is marked with a trailing ``#@`` comment.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.errors import UsageError, ValidationError
from orchestrator.tosca import load

HEADER = """\
tosca_definitions_version: tosca_simple_yaml_1_3
imports: [eflows4hpc]
"""

ENV = """\
    env:
      type: eflows4hpc.nodes.Environment
"""

JOB = """\
    job:
      type: eflows4hpc.nodes.PyCOMPSsJob
      properties:
        application: {command: app.py}
      requirements:
        - environment: env
"""


def topo(nodes: str, extra: str = "", inputs: str = "") -> str:
    text = HEADER + "topology_template:\n"
    if inputs:
        text += "  inputs:\n" + inputs
    text += "  node_templates:\n" + nodes + extra
    return text


def workflow(steps: str, name: str = "exec_job") -> str:
    return topo(ENV + JOB, f"  workflows:\n    {name}:\n      steps:\n" + steps)


CASES: list[tuple[str, str, str]] = [
    ("yaml syntax", HEADER + "topology_template: [1, 2\n  b: 1 #@\n", "YAML syntax error"),
    ("duplicate key", HEADER + "topology_template: {}\ntopology_template: {} #@\n", "duplicate key"),
    ("missing version", "imports: [eflows4hpc] #@\ntopology_template: {}\n",
     "missing required field 'tosca_definitions_version'"),
    ("bad version", "tosca_definitions_version: tosca_2 #@\ntopology_template: {}\n",
     "unsupported tosca_definitions_version"),
    ("unknown top-level", topo(ENV) + "node_templatez: {} #@\n", "unknown top-level field 'node_templatez'"),
    ("unknown node type", topo("    env:\n      type: eflows4hpc.nodes.Nope #@\n"),
     "unknown node type 'eflows4hpc.nodes.Nope'"),
    ("node without type", topo("    env: #@\n      properties: {}\n"), "missing required field 'type'"),
    ("node name not a string", topo("    1: #@\n      type: tosca.nodes.Root\n"),
     "node template name 1 is not a string"),
    ("unknown node field", topo(ENV + "      propertys: {} #@\n"), "unknown field 'propertys'"),
    ("unknown property", topo(ENV + "      properties:\n        schedular: local #@\n"),
     "unknown property 'schedular'"),
    ("missing required property",
     topo(ENV + "    job: #@\n      type: eflows4hpc.nodes.PyCOMPSsJob\n"),
     "missing required property 'application'"),
    ("property not an integer", topo(ENV + "      properties:\n        ssh_port: twenty #@\n"),
     "ssh_port: 'twenty' is not an integer"),
    ("valid_values", topo(ENV + "      properties:\n        scheduler: pbs #@\n"),
     "'pbs' is not one of the valid values (local, slurm)"),
    ("in_range", topo(ENV + "      properties:\n        ssh_port: 70000 #@\n"),
     "70000 is not in range [1, 65535]"),
    ("boolean", topo(ENV + "      properties:\n        compss_available: maybe #@\n"),
     "'maybe' is not a boolean"),
    ("list entry type", topo(ENV + "      properties:\n        modules: [1, 2] #@\n"),
     "modules[0]: 1 is not a string"),
    ("datatype unknown field",
     topo(ENV + "    job:\n      type: eflows4hpc.nodes.PyCOMPSsJob\n      properties:\n"
          "        application: {command: a.py, comand: b} #@\n"),
     "unknown field 'comand' for eflows4hpc.datatypes.COMPSsApplication"),
    ("datatype missing field",
     topo(ENV + "    job:\n      type: eflows4hpc.nodes.PyCOMPSsJob\n      properties:\n"
          "        application: {arguments: [x]} #@\n"),
     "missing required field 'command'"),
    ("map entry datatype",
     topo(ENV + "      properties:\n        urgency_levels:\n          urgent: {nice: high} #@\n"),
     "urgency_levels['urgent'].nice: 'high' is not an integer"),
    ("get_input unknown", topo(ENV + "      properties:\n        user: {get_input: who} #@\n"),
     "get_input of unknown input 'who'"),
    ("get_property malformed", topo(ENV + "      properties:\n        user: {get_property: SELF} #@\n"),
     "get_property needs a list"),
    ("get_attribute unknown node",
     topo(ENV + "      properties:\n        user: {get_attribute: [ghost, x]} #@\n"),
     "get_attribute refers to unknown node 'ghost'"),
    ("token malformed", topo(ENV + "      properties:\n        user: {token: [a, b]} #@\n"),
     "token needs [string, separator characters, index]"),
    ("unknown requirement", topo(ENV + JOB + "        - enviroment: env #@\n"),
     "unknown requirement 'enviroment'"),
    ("requirement unknown target",
     topo(ENV + JOB.replace("- environment: env", "- environment: nowhere #@")),
     "targets unknown node template 'nowhere'"),
    ("requirement wrong target type",
     topo(ENV + JOB + "    job2:\n      type: eflows4hpc.nodes.PyCOMPSsJob\n      properties:\n"
          "        application: {command: b.py}\n      requirements:\n        - environment: job #@\n"),
     "needs a node of type 'eflows4hpc.nodes.Environment'"),
    ("requirement occurrences",
     topo(ENV + JOB.replace("      requirements:", "      requirements: #@") + "        - environment: env\n"),
     "requirement 'environment' used 2 times (at most 1)"),
    ("requirement cycle",
     topo("    a: #@\n      type: tosca.nodes.Root\n      requirements:\n        - dependency: b\n"
          "    b:\n      type: tosca.nodes.Root\n      requirements:\n        - dependency: a\n"),
     "requirements form a cycle"),
    ("unknown relationship type",
     topo(ENV + "    x:\n      type: tosca.nodes.Root\n      requirements:\n"
          "        - dependency: {node: env, relationship: my.Rel} #@\n"),
     "unknown relationship type 'my.Rel'"),
    ("unknown interface", topo(ENV + "      interfaces:\n        Standrd: #@\n          create: a.yaml\n"),
     "unknown interface 'Standrd'"),
    ("undeclared operation",
     topo(ENV + "      interfaces:\n        Standard:\n          creat: a.yaml #@\n"),
     "operation 'creat' is not declared by interface 'Standard'"),
    ("unknown capability", topo(ENV + "      capabilities:\n        exec: {} #@\n"),
     "unknown capability 'exec'"),
    ("input unknown type", topo(ENV, inputs="    n: #@\n      type: number\n"),
     "input 'n' has unknown type 'number'"),
    ("input default wrong", topo(ENV, inputs="    n: #@\n      type: integer\n      default: many\n"),
     "default of input 'n': 'many' is not an integer"),
    ("policy unknown type",
     topo(ENV, "  policies:\n    - p: #@\n        type: eflows4hpc.policies.Hurry\n"),
     "policy 'p' has unknown type 'eflows4hpc.policies.Hurry'"),
    ("policy unknown target",
     topo(ENV, "  policies:\n    - p: #@\n        type: eflows4hpc.policies.Urgency\n"
               "        targets: [ghost]\n"),
     "policy 'p' targets unknown node or group 'ghost'"),
    ("urgency level", topo(ENV, "  policies:\n    - p:\n        type: eflows4hpc.policies.Urgency\n"
                               "        properties: {level: asap} #@\n"),
     "'asap' is not one of the valid values (routine, high, urgent, emergency)"),
    ("scalar unit", topo(ENV, "  policies:\n    - p:\n        type: eflows4hpc.policies.Urgency\n"
                              "        properties: {deadline: soon} #@\n"),
     "deadline: 'soon' is not a scalar-unit.time"),
    ("trigger region",
     topo(ENV, "  policies:\n    - p:\n        type: eflows4hpc.policies.EventTrigger\n"
               "        properties: {region: {min_lat: 1.0}} #@\n"),
     "missing required field 'max_lat' of eflows4hpc.datatypes.Region"),
    ("trigger without action",
     topo(ENV, "  policies:\n    - p: #@\n        type: eflows4hpc.policies.EventTrigger\n"
               "        triggers:\n          t1: {event: quake}\n"),
     "trigger 't1' needs 'event' and 'action'"),
    ("output without value", topo(ENV, "  outputs:\n    o: #@\n      description: x\n"),
     "output 'o' needs a 'value'"),
    ("no node templates", HEADER + "topology_template:\n  node_templates: {} #@\n",
     "at least one node template"),
    ("workflow unknown target",
     workflow("        s1:\n          target: ghost #@\n          activities: [{set_state: started}]\n"),
     "step 's1' targets unknown node 'ghost'"),
    ("workflow unknown operation",
     workflow("        s1:\n          target: job\n          activities: #@\n"
              "            - call_operation: Runnable.launch\n"),
     "node 'job' has no operation 'launch' on interface 'Runnable'"),
    ("workflow unknown successor",
     workflow("        s1: #@\n          target: job\n          activities: [{set_state: started}]\n"
              "          on_success: [s9]\n"),
     "on_success names unknown step 's9'"),
    ("workflow cycle",
     workflow("        s1:\n          target: job\n          activities: [{set_state: started}]\n"
              "          on_success: [s2]\n"
              "        s2:\n          target: job\n          activities: [{set_state: started}]\n"
              "          on_success: [s1]\n").replace("    exec_job:", "    exec_job: #@"),
     "workflow 'exec_job' has a cycle"),
    ("workflow bad state",
     workflow("        s1:\n          target: job\n          activities: #@\n            - set_state: ''\n"),
     "set_state needs a state name"),
    ("workflow unknown activity",
     workflow("        s1:\n          target: job\n          activities: #@\n            - call: x\n"),
     "unknown activity 'call'"),
    ("workflow reserved name",
     workflow("        s1:\n          target: job\n          activities: [{set_state: started}]\n",
              name="install").replace("    install:", "    install: #@"),
     "workflow name 'install' is reserved"),
    ("workflow inline unknown",
     workflow("        s1: #@\n          target: job\n          activities: [{inline: other}]\n"),
     "inline of unknown workflow 'other'"),
    ("workflow input type",
     topo(ENV + JOB, "  workflows:\n    w:\n      inputs:\n        n: {type: integr} #@\n"
                     "      steps:\n        s1:\n          target: job\n"
                     "          activities: [{set_state: started}]\n"),
     "input 'n' has unknown type 'integr'"),
    ("workflow bad target_relationship",
     workflow("        s1:\n          target: job\n          target_relationship: nope #@\n"
              "          activities: [{set_state: started}]\n"),
     "target_relationship 'nope' is not a requirement of 'job'"),
    ("workflow get_input unknown",
     workflow("        s1:\n          target: job\n          activities: #@\n"
              "            - call_operation: {operation: Runnable.submit, inputs: {a: {get_input: z}}}\n"),
     "get_input of unknown input 'z'"),
    ("import not found", HEADER.replace("[eflows4hpc]", "[eflows4hpc, missing.yaml] #@")
     + "topology_template:\n  node_templates:\n" + ENV, "imported file not found: missing.yaml"),
    ("custom type unknown parent",
     HEADER + "node_types:\n  my.Node:\n    derived_from: my.Base #@\n"
     + "topology_template:\n  node_templates:\n    n:\n      type: my.Node\n",
     "type 'my.Node' derives from unknown type 'my.Base'"),
    ("custom type property type",
     HEADER + "node_types:\n  my.Node:\n    derived_from: tosca.nodes.Root\n    properties:\n"
     "      size: {type: hugeint} #@\n"
     + "topology_template:\n  node_templates:\n    n:\n      type: my.Node\n",
     "property 'size' of type 'my.Node' has unknown type 'hugeint'"),
]  # fmt: skip


def _expected_line(text: str) -> int:
    lines = [i for i, line in enumerate(text.splitlines(), start=1) if "#@" in line]
    assert len(lines) == 1, "each case marks exactly one line"
    return lines[0]


def test_there_are_at_least_thirty_cases() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize(("name", "text", "message"), CASES, ids=[c[0] for c in CASES])
def test_invalid_template_is_reported_with_location(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(text)
    with pytest.raises(ValidationError) as info:
        load(path)
    problems = info.value.problems
    matching = [p for p in problems if message in p.message]
    assert matching, f"no problem mentions {message!r}: {[str(p) for p in problems]}"
    loc = matching[0].location
    assert loc.file == str(path.resolve()) or loc.file == str(path)
    assert loc.line == _expected_line(text), str(matching[0])
    # One printable line per problem, starting with file:line.
    for line in str(info.value).splitlines():
        assert line.startswith(str(path.resolve())) or line.startswith(str(path))


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    text = topo(ENV + "      properties:\n        scheduler: pbs\n        ssh_port: x\n")
    path = tmp_path / "t.yaml"
    path.write_text(text)
    with pytest.raises(ValidationError) as info:
        load(path)
    assert len(info.value.problems) == 2


def test_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file"):
        load(tmp_path / "nope.yaml")


def test_directory_without_template_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no service template"):
        load(tmp_path)


def test_error_in_imported_file_points_at_that_file(tmp_path: Path) -> None:
    (tmp_path / "types.yaml").write_text(
        "tosca_definitions_version: tosca_simple_yaml_1_3\nnode_types:\n  my.N:\n"
        "    derived_from: nothing.Here\n"
    )
    path = tmp_path / "t.yaml"
    path.write_text(
        HEADER.replace("[eflows4hpc]", "[eflows4hpc, types.yaml]")
        + "topology_template:\n  node_templates:\n    n:\n      type: tosca.nodes.Root\n"
    )
    with pytest.raises(ValidationError) as info:
        load(path)
    (problem,) = info.value.problems
    assert problem.location.file == str((tmp_path / "types.yaml").resolve())
    assert problem.location.line == 4


def test_toscaparser_findings_are_split_and_located(tmp_path: Path) -> None:
    # Groups are left to tosca-parser: its error must come back as our own Problem.
    path = tmp_path / "t.yaml"
    path.write_text(
        topo(ENV, "  groups:\n    g:\n      type: no.such.Group\n      members: [env]\n")
    )
    with pytest.raises(ValidationError) as info:
        load(path)
    assert all("\n" not in str(p) for p in info.value.problems)
    assert any("no.such.Group" in p.message for p in info.value.problems)
