"""The forecast's tasks, PyCOMPSs style (imported through ``workflows.runtime.compat``).

They live in an importable module (not in the application's ``__main__``) so that worker
processes can load them. Each task is a thin wrapper over a plain function of the package.

- :func:`simulate_scenario_cpu` / :func:`simulate_scenario_gpu`: one scenario; the GPU
  variant carries ``@constraint(processors=[CPU 1, GPU 1])`` and is used only where GPUs are
  declared, since the local runtime runs GPU-constrained tasks only on nodes that have them.
  Failures are ignored (the ensemble goes on with the other scenarios).
- :func:`collect_hysea`: reads a Tsunami-HySEA run (the binary itself runs as the
  ``@binary`` / ``@mpi`` task of :func:`workflows.tsunami.hysea.hysea_task`).
- :func:`accumulate`: merges one result into the forecast (``COMMUTATIVE``: any order gives
  the same forecast) and rewrites the preliminary products at once.
"""

from __future__ import annotations

import sys
from typing import Any

from workflows.runtime.compat import COMMUTATIVE, constraint, on_failure, task

from .ensemble import ForecastAccumulator, Scenario, ScenarioResult

__all__ = [
    "accumulate",
    "collect_hysea",
    "simulate_scenario_cpu",
    "simulate_scenario_gpu",
]

SCENARIO_TIME_OUT_S = 900


def _run(scenario: Scenario, bathy_path: str, pois: Any, duration: float, backend: str):
    from .ensemble import run_scenario
    from .grids import read_bathymetry

    return run_scenario(scenario, read_bathymetry(bathy_path), (pois[0], pois[1]), duration,
                        backend=backend, threads=1)  # fmt: skip


@on_failure(management="IGNORE", returns=None)
@constraint(computing_units="1")
@task(returns=1, time_out=SCENARIO_TIME_OUT_S)
def simulate_scenario_cpu(scenario: Scenario, bathy_path: str, pois: Any, duration: float):
    return _run(scenario, bathy_path, pois, duration, "cpu")


@on_failure(management="IGNORE", returns=None)
@constraint(processors=[{"processorType": "CPU", "computingUnits": "1"},
                        {"processorType": "GPU", "computingUnits": "1"}])  # fmt: skip
@task(returns=1, time_out=SCENARIO_TIME_OUT_S)
def simulate_scenario_gpu(scenario: Scenario, bathy_path: str, pois: Any, duration: float):
    # "auto": numba.cuda on the GPU the runtime bound (CUDA_VISIBLE_DEVICES), else CPU.
    return _run(scenario, bathy_path, pois, duration, "auto")


@task(returns=1)
def collect_hysea(run: Any, pois: Any, exit_code: Any):
    """Read a finished Tsunami-HySEA run (see :mod:`workflows.tsunami.hysea`)."""
    from .hysea import read_scenario_output

    return read_scenario_output(run, pois, exit_code)


# priority: a finished scenario is folded in before the next scenario starts, so the first
# (preliminary) forecast is out as early as possible on a busy node.
@task(acc=COMMUTATIVE, priority=True)
def accumulate(acc: ForecastAccumulator, result: ScenarioResult | None, output: str,
               bathy_path: str, event: Any, pois: Any) -> None:  # fmt: skip
    """Fold ``result`` into ``acc`` and rewrite the preliminary products (the map and grids
    only for the first result: they are redrawn once at the end)."""
    if result is None:  # an ignored failure
        acc.n_expected -= 1
        return
    from .grids import read_bathymetry
    from .products import write_products

    acc.add(result)
    first = len(acc.done) == 1
    bathy = read_bathymetry(bathy_path) if first else None
    summary = write_products(acc, output, bathy, event, pois, final=False, with_map=first)
    # Progress line for the operator's console (the launcher forwards task output).
    sys.stdout.write(
        f"[tsunami] scenario {result.index} done ({result.backend}, {result.steps} steps, "
        f"{result.wall_seconds:.1f} s): preliminary forecast {len(acc.done)}/"
        f"{acc.n_expected}, highest level {summary['highest_level']}\n"
    )
    sys.stdout.flush()
