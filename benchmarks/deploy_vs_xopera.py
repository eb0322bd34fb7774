"""Deploy the same templates with this toolkit and with xOpera 0.7.0, alternating, in one run.

Templates (generated into a temporary directory, identical playbooks for both tools):
  chain: 10 nodes x 3 Standard operations (create, configure, start), each operation's input
         is the previous operation's output: 30 strictly sequential operations;
  fan:   50 independent nodes x 3 operations.
Each operation runs one real Ansible ``shell`` task that writes a file and returns a value via
``set_stats``; the file contents are checked after every deploy of both tools.

Ours is measured twice, with each playbook executor: ``ours`` (the default warm Ansible
processes) and ``ours_runner`` (``--ansible runner``: one ansible-runner run per batch), through
``tosca deploy`` (a subprocess, like xOpera's CLI) when the CLI can deploy, else through the
executor driven level by level in this process (labelled ``executor-driver`` in the output).
xOpera comes from ``.venv-xopera`` (scripts/xopera-venv.sh). The three alternate each round.

    .venv/bin/python benchmarks/deploy_vs_xopera.py [--rounds N] [--fan-rounds N] [--workers N]
        [--skip-xopera] [--skip-runner]

Last output line: one JSON object with medians (seconds), ratios to xOpera, the runner /
warm ratio, the load average, and where ours spent its time (``<case>_ours_phases_s``: CLI
start, waiting for the first operation, the operations, exit; read from its state file).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OPERATIONS = ("create", "configure", "start")
INPUTS = ("node", "op", "inp", "out_dir")

PLAYBOOK = """\
- hosts: all
  gather_facts: false
  tasks:
    - name: do the work
      shell: >-
        echo '{{ node }} {{ op }} {{ inp }}' > '{{ out_dir }}/{{ node }}_{{ op }}.txt'
        && echo '{{ node }}-{{ op }}'
      register: work
    - name: return the output
      set_stats:
        data:
          out: "{{ work.stdout }}"
"""


def _nodes(kind: str) -> list[tuple[str, str | None]]:
    """(node, node it depends on) pairs."""
    if kind == "chain":
        return [(f"n{i}", f"n{i - 1}" if i else None) for i in range(10)]
    return [(f"n{i}", None) for i in range(50)]


def _previous(node: str, dep: str | None, op: str) -> tuple[str, str] | None:
    """(node, operation) whose output feeds this operation."""
    index = OPERATIONS.index(op)
    if index:
        return node, OPERATIONS[index - 1]
    return (dep, OPERATIONS[-1]) if dep else None


def xopera_template(kind: str, out_dir: Path) -> str:
    lines = [
        "tosca_definitions_version: tosca_simple_yaml_1_3",
        "node_types:",
        "  bench.Op:",
        "    derived_from: tosca.nodes.Root",
        "    attributes:",
        *[f"      out_{op}: {{type: string, default: ''}}" for op in OPERATIONS],
        "    interfaces:",
        "      Standard:",
        "        type: tosca.interfaces.node.lifecycle.Standard",
        "        inputs:",
        *[f"          {name}: {{type: string, default: ''}}" for name in INPUTS],
        "topology_template:",
        "  node_templates:",
    ]
    for node, dep in _nodes(kind):
        lines += [f"    {node}:", "      type: bench.Op"]
        if dep:
            lines += ["      requirements:", f"        - dependency: {dep}"]
        lines += ["      interfaces:", "        Standard:", "          operations:"]
        for op in OPERATIONS:
            prev = _previous(node, dep, op)
            # xOpera reads a named node's attributes from its template (always the default),
            # so values are reached through SELF and the dependency requirement instead.
            if prev is None:
                inp = "start"
            elif prev[0] == node:
                inp = f"{{ get_attribute: [SELF, out_{prev[1]}] }}"
            else:
                inp = f"{{ get_attribute: [SELF, dependency, out_{prev[1]}] }}"
            lines += [
                f"            {op}:",
                "              implementation: playbooks/op.yaml",
                "              inputs:",
                f"                node: {node}",
                f"                op: {op}",
                f"                inp: {inp}",
                f"                out_dir: '{out_dir}'",
                f"              outputs: {{out: [SELF, out_{op}]}}",
            ]
    return "\n".join(lines) + "\n"


def ours_template(kind: str, out_dir: Path) -> str:
    """The same topology for our CLI: outputs reach later inputs via get_operation_output."""
    lines = [
        "tosca_definitions_version: tosca_simple_yaml_1_3",
        "topology_template:",
        "  node_templates:",
    ]
    for node, dep in _nodes(kind):
        lines += [f"    {node}:", "      type: tosca.nodes.Root"]
        if dep:
            lines += ["      requirements:", f"        - dependency: {dep}"]
        lines += ["      interfaces:", "        Standard:", "          operations:"]
        for op in OPERATIONS:
            prev = _previous(node, dep, op)
            inp = (
                f"{{ get_operation_output: [{prev[0]}, Standard, {prev[1]}, out] }}"
                if prev
                else "start"
            )
            lines += [
                f"            {op}:",
                "              implementation: playbooks/op.yaml",
                "              inputs:",
                f"                node: {node}",
                f"                op: {op}",
                f"                inp: {inp}",
                f"                out_dir: '{out_dir}'",
            ]
    return "\n".join(lines) + "\n"


def check_outputs(kind: str, out_dir: Path) -> None:
    """Every operation wrote its file with the output of the operation before it."""
    for node, dep in _nodes(kind):
        for op in OPERATIONS:
            text = (out_dir / f"{node}_{op}.txt").read_text().split()
            prev = _previous(node, dep, op)
            expected = f"{prev[0]}-{prev[1]}" if prev else "start"
            if text != [node, op, expected]:
                raise SystemExit(f"wrong output in {node}_{op}.txt: {text}")


def prepare(base: Path, tool: str, kind: str) -> tuple[Path, Path]:
    """A fresh project directory with the template and its playbook."""
    project = base / f"{tool}-{kind}"
    shutil.rmtree(project, ignore_errors=True)
    (project / "playbooks").mkdir(parents=True)
    (project / "playbooks" / "op.yaml").write_text(PLAYBOOK)
    out_dir = project / "out"
    out_dir.mkdir()
    text = xopera_template(kind, out_dir) if tool == "xopera" else ours_template(kind, out_dir)
    (project / "service.yaml").write_text(text)
    return project, out_dir


def run_xopera(opera: Path, project: Path, workers: int) -> float:
    # xOpera starts `ansible-playbook` from PATH: its own (ansible-core 2.16), not ours.
    env = dict(os.environ, PATH=f"{opera.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    t0 = time.perf_counter()
    subprocess.run(
        [str(opera), "deploy", "-w", str(workers), "-c", "-f", "service.yaml"],
        cwd=project,
        env=env,
        check=True,
        capture_output=True,
        timeout=900,
    )
    return time.perf_counter() - t0


def cli_can_deploy() -> bool:
    tosca = ROOT / ".venv" / "bin" / "tosca"
    if not tosca.exists():
        return False
    probe = subprocess.run(
        [str(tosca), "deploy", "--help"], capture_output=True, text=True, timeout=60
    )
    return probe.returncode == 0


PHASES = ("start", "wait_first_op", "operations", "exit")


def ours_phases(project: Path, started: float, ended: float) -> dict[str, float]:
    """Where one ``tosca deploy`` spent its time, from its state (wall-clock seconds):
    start (process start to execution start: CLI, parsing, planning), wait_first_op
    (execution start to the first operation's start: waiting for Ansible), operations
    (first operation's start to the last one's end), exit (the rest)."""
    import sqlite3

    db = sqlite3.connect(project / "ws" / "state.db")
    try:
        (begun,) = db.execute("SELECT MIN(started_at) FROM executions").fetchone()
        first, last = db.execute("SELECT MIN(started_at), MAX(ended_at) FROM attempts").fetchone()
    finally:
        db.close()
    return {
        "start": begun - started,
        "wait_first_op": first - begun,
        "operations": last - first,
        "exit": ended - last,
    }


def run_ours_cli(project: Path, workers: int, ansible: str = "warm") -> float:
    t0 = time.perf_counter()
    wall0 = time.time()
    subprocess.run(
        [
            str(ROOT / ".venv" / "bin" / "tosca"),
            "deploy",
            "service.yaml",
            "--workspace",
            "ws",
            "--ansible",
            ansible,
        ],
        cwd=project,
        check=True,
        capture_output=True,
        timeout=900,
    )
    elapsed = time.perf_counter() - t0
    _PHASES.setdefault((project.name, ansible), []).append(ours_phases(project, wall0, time.time()))
    return elapsed


# (project directory name, executor) -> phases of each run (ours_phases).
_PHASES: dict[tuple[str, str], list[dict[str, float]]] = {}


def run_ours_driver(
    kind: str, project: Path, out_dir: Path, workers: int, ansible: str = "warm"
) -> float:
    """Level-by-level through an executor: each level is one batch of ready operations."""
    from orchestrator.executors.ansible import AnsibleExecutor
    from orchestrator.executors.ansible_runner_exec import AnsibleRunnerExecutor
    from orchestrator.executors.base import SUCCEEDED, OperationRequest

    t0 = time.perf_counter()
    outputs: dict[tuple[str, str], str] = {}
    nodes = _nodes(kind)
    chosen: AnsibleExecutor | AnsibleRunnerExecutor
    if ansible == "runner":
        chosen = AnsibleRunnerExecutor(template_dir=project, forks=workers)
    else:
        chosen = AnsibleExecutor(template_dir=project, forks=workers, max_workers=1)
    with chosen as executor:
        executor.prestart()
        levels: list[list[tuple[str, str | None, str]]] = []
        if kind == "chain":
            levels = [[(node, dep, op)] for node, dep in nodes for op in OPERATIONS]
        else:
            levels = [[(node, dep, op) for node, dep in nodes] for op in OPERATIONS]
        for level in levels:
            requests = []
            for node, dep, op in level:
                prev = _previous(node, dep, op)
                inputs = {
                    "node": node,
                    "op": op,
                    "inp": outputs[prev] if prev else "start",
                    "out_dir": str(out_dir),
                }
                requests.append(
                    OperationRequest(
                        f"{node}.Standard.{op}", node, "Standard", op, "playbooks/op.yaml", inputs
                    )
                )
            for (node, _dep, op), result in zip(level, executor.run_batch(requests), strict=True):
                if result.status != SUCCEEDED:
                    raise SystemExit(f"{result.step_id} failed: {result.error}\n{result.log}")
                outputs[(node, op)] = result.outputs["out"]
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the chain case")
    parser.add_argument("--fan-rounds", type=int, default=2, help="rounds of the fan case")
    parser.add_argument("--workers", type=int, default=4, help="parallelism for both tools")
    parser.add_argument("--driver", action="store_true", help="measure ours via the executor")
    parser.add_argument("--skip-xopera", action="store_true", help="only ours (development)")
    parser.add_argument("--skip-runner", action="store_true", help="no ansible-runner column")
    args = parser.parse_args()

    tools = ["ours"] + ([] if args.skip_runner else ["ours_runner"])
    tools += [] if args.skip_xopera else ["xopera"]
    opera = ROOT / ".venv-xopera" / "bin" / "opera"
    if not args.skip_xopera and not opera.exists():
        print("installing xOpera 0.7.0 into .venv-xopera (scripts/xopera-venv.sh)", flush=True)
        subprocess.run(["bash", str(ROOT / "scripts" / "xopera-venv.sh")], check=True, timeout=1800)
    mode = "executor-driver" if args.driver or not cli_can_deploy() else "tosca-deploy-cli"
    forks = "default 20" if mode == "tosca-deploy-cli" else args.workers
    print(
        f"ours measured through: {mode} (Ansible forks {forks}); "
        f"xOpera: opera deploy -w {args.workers}",
        flush=True,
    )
    figures: dict[str, object] = {
        "ours_mode": mode,
        "xopera_workers": args.workers,
        "load_avg_before": [round(x, 2) for x in os.getloadavg()],
    }
    with tempfile.TemporaryDirectory(prefix="bench-deploy-") as tmp:
        base = Path(tmp)
        for kind, rounds in (("chain", args.rounds), ("fan", args.fan_rounds)):
            if rounds <= 0:  # e.g. --fan-rounds 0: only the other case
                continue
            times: dict[str, list[float]] = {tool: [] for tool in tools}
            for r in range(rounds):
                order = tools[r % len(tools) :] + tools[: r % len(tools)]  # rotate: alternate
                for tool in order:
                    project, out_dir = prepare(base, tool, kind)
                    ansible = "runner" if tool == "ours_runner" else "warm"
                    if tool == "xopera":
                        elapsed = run_xopera(opera, project, args.workers)
                    elif mode == "tosca-deploy-cli":
                        elapsed = run_ours_cli(project, args.workers, ansible)
                    else:
                        elapsed = run_ours_driver(kind, project, out_dir, args.workers, ansible)
                    check_outputs(kind, out_dir)
                    times[tool].append(elapsed)
                    print(f"{kind} round {r + 1}: {tool} {elapsed:.2f} s", flush=True)
            medians = {tool: statistics.median(values) for tool, values in times.items()}
            line = f"{kind}:"
            for tool, value in medians.items():
                figures[f"{kind}_{tool}_s"] = round(value, 3)
                line += f" {tool} {value:.2f} s"
            xopera = medians.get("xopera")
            if xopera:
                figures[f"{kind}_ratio"] = round(medians["ours"] / xopera, 4)
                line += f", ratio ours/xOpera {medians['ours'] / xopera:.3f}"
                if "ours_runner" in medians:
                    ratio = medians["ours_runner"] / xopera
                    figures[f"{kind}_runner_ratio"] = round(ratio, 4)
                    line += f", ours_runner/xOpera {ratio:.3f}"
            if "ours_runner" in medians:
                figures[f"{kind}_runner_vs_warm"] = round(
                    medians["ours_runner"] / medians["ours"], 3
                )
            print(line, flush=True)
            for tool in ("ours", "ours_runner"):
                runs = _PHASES.get(
                    (f"{tool}-{kind}", "runner" if tool == "ours_runner" else "warm")
                )
                if runs:
                    phases = {p: round(statistics.median(r[p] for r in runs), 3) for p in PHASES}
                    figures[f"{kind}_{tool}_phases_s"] = phases
                    print(f"{kind} {tool} phases (medians, s): {phases}", flush=True)
    figures["load_avg_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(figures))


if __name__ == "__main__":
    sys.exit(main())
