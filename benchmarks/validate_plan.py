"""Validate + plan a generated 1,000-node eFlows4HPC topology (target: under 2 s).

The topology: 10 sites (Environment), and per site 33 chains of stage-in -> PyCOMPSsJob ->
stage-out (with functions in properties), jobs depending on the previous chain's job, plus
an ``exec_job`` workflow over the first 100 jobs. Figures are medians of several runs of
``tosca.load`` (our checks + tosca-parser), ``build_plan`` (install and exec_job), and the
baseline: stock tosca-parser alone on the same template (validation only: no model, no plan).

Run: ``.venv/bin/python benchmarks/validate_plan.py [--nodes N] [--repeat R]``
The last output line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def generate(n_nodes: int) -> dict[str, Any]:
    """A template with about ``n_nodes`` node templates."""
    sites = max(1, n_nodes // 100)
    nodes: dict[str, Any] = {}
    for s in range(sites):
        nodes[f"site{s}"] = {
            "type": "eflows4hpc.nodes.Environment",
            "properties": {
                "scheduler": "slurm",
                "login_host": f"login{s}.example.org",
                "user": {"get_input": "user"},
                "urgency_levels": {"urgent": {"partition": "urgent", "nice": 0}},
            },
        }
    chains = (n_nodes - sites) // 3
    previous_job: str | None = None
    for c in range(chains):
        site = f"site{c % sites}"
        stage_in, job, stage_out = f"in{c}", f"job{c}", f"out{c}"
        nodes[stage_in] = {
            "type": "eflows4hpc.nodes.DLSDAGStageInData",
            "properties": {
                "oid": {"concat": ["obj-", c]},
                "target_path": f"data/{c}",
                "run_in_standard_mode": True,  # staged at install: submit + run steps
            },
            "requirements": [{"environment": site}],
        }
        reqs: list[dict[str, str]] = [{"environment": site}, {"dependency": stage_in}]
        if previous_job and c % 3:
            reqs.append({"dependency": previous_job})
        nodes[job] = {
            "type": "eflows4hpc.nodes.PyCOMPSsJob",
            "properties": {
                "application": {
                    "command": "app.py",
                    "arguments": [{"get_input": "scenarios"}, {"get_property": ["HOST", "user"]}],
                },
                "submission_params": {"num_nodes": {"get_input": "nodes"}},
            },
            "requirements": reqs,
        }
        nodes[stage_out] = {
            "type": "eflows4hpc.nodes.DLSDAGStageOutData",
            "properties": {"source_path": f"out/{c}"},
            "requirements": [{"environment": site}, {"dependency": job}],
        }
        previous_job = job
    steps: dict[str, Any] = {}
    jobs = [f"job{c}" for c in range(min(100, chains))]
    for i, job in enumerate(jobs):
        steps[f"{job}_submit"] = {
            "target": job,
            "activities": [{"set_state": "submitting"}, {"call_operation": "Runnable.submit"}],
            "on_success": [f"{job}_run"],
        }
        run: dict[str, Any] = {"target": job, "activities": [{"call_operation": "Runnable.run"}]}
        if i + 1 < len(jobs):
            run["on_success"] = [f"{jobs[i + 1]}_submit"]
        steps[f"{job}_run"] = run
    return {
        "tosca_definitions_version": "tosca_simple_yaml_1_3",
        "imports": ["eflows4hpc"],
        "topology_template": {
            "inputs": {
                "user": {"type": "string", "default": "eflows"},
                "scenarios": {"type": "integer", "default": 8},
                "nodes": {"type": "integer", "default": 1},
            },
            "node_templates": nodes,
            "workflows": {"exec_job": {"steps": steps}},
        },
    }


def median_time(fn: Any, repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    import yaml

    from orchestrator.plan import build_plan
    from orchestrator.tosca import load
    from orchestrator.tosca.bridge import clean_copy
    from orchestrator.tosca.sources import read_source

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.yaml"
        path.write_text(yaml.safe_dump(generate(args.nodes), sort_keys=False))
        print(f"generated {path.stat().st_size // 1024} KiB template", flush=True)
        from toscaparser.tosca_template import ToscaTemplate

        # Baseline first, while tosca-parser is still stock (load() patches two quadratic
        # spots of it): stock tosca-parser alone on the same (cleaned) template.
        cleaned = clean_copy(read_source(path))
        ToscaTemplate(yaml_dict_tpl=cleaned)
        t_base, _ = median_time(lambda: ToscaTemplate(yaml_dict_tpl=cleaned), args.repeat)
        print(f"baseline: stock tosca-parser alone: {t_base:.3f} s", flush=True)

        load(path)  # warm caches (profile, normative types)
        t_load, model = median_time(lambda: load(path), args.repeat)
        print(f"load (validate) {len(model.nodes)} nodes: {t_load:.3f} s", flush=True)
        t_install, plan = median_time(lambda: build_plan(model, "install"), args.repeat)
        print(f"plan install ({len(plan.steps)} steps): {t_install:.3f} s", flush=True)
        t_exec, wplan = median_time(lambda: build_plan(model, "exec_job"), args.repeat)
        print(f"plan exec_job ({len(wplan.steps)} steps): {t_exec:.3f} s", flush=True)

    total = t_load + t_install + t_exec
    print(f"validate + plan total: {total:.3f} s (target < 2 s)", flush=True)
    print(
        json.dumps(
            {
                "benchmark": "validate_plan",
                "nodes": len(model.nodes),
                "load_s": round(t_load, 4),
                "plan_install_s": round(t_install, 4),
                "plan_exec_job_s": round(t_exec, 4),
                "install_steps": len(plan.steps),
                "exec_job_steps": len(wplan.steps),
                "validate_plan_total_s": round(total, 4),
                "baseline": "stock tosca-parser ToscaTemplate alone (no model, no plan)",
                "baseline_s": round(t_base, 4),
                "ratio_to_baseline": round(total / t_base, 3) if t_base else None,
                "target_s": 2.0,
                "meets_target": total < 2.0,
            }
        )
    )


if __name__ == "__main__":
    main()
