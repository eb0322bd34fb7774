"""Task-runtime throughput: 10,000 no-op tasks in a chain-of-fans graph.

Graph: ``LEVELS`` levels of ``WIDTH`` independent no-op tasks; every task of level k depends
on the one "join" task of level k-1, and each level ends in a join task that depends on all of
that level's tasks (so the runtime sees fan-out, fan-in, fan-out...). The same graph runs on
our local backend (Python tasks on the in-process thread path: the scheduler's overhead is
what is measured) and on Dask's threaded scheduler (``dask.threaded.get`` on a pre-built
graph). Two more cases of ours, same scheduler path: collection-heavy (each join takes its
level's futures as one ``COLLECTION_IN`` parameter, which the runtime scans element by
element) and file-heavy (``FILE_CHAINS`` chains of ``FILE_STEPS`` tasks, each reading the
previous task's ``FILE_IN`` and writing its own ``FILE_OUT``: the file-dependency tracking
and real small files). Prints progress, then as the last line one JSON object with the
medians.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time

from workflows.runtime import (
    COLLECTION_IN,
    FILE_IN,
    FILE_OUT,
    RuntimeConfig,
    compss_barrier,
    start_runtime,
    stop_runtime,
    task,
)

LEVELS = 100
WIDTH = 99  # 100 levels x (99 + 1 join) = 10,000 tasks
REPEATS = 3
FILE_CHAINS = 50
FILE_STEPS = 40  # 2,000 file tasks


def noop(*args):
    return None


@task(returns=1)
def noop_task(*args):
    return None


def run_ours() -> float:
    start_runtime(RuntimeConfig(python_tasks="thread"))
    started = time.perf_counter()
    join = None
    for _ in range(LEVELS):
        fan = [noop_task(join) for _ in range(WIDTH)]
        join = noop_task(*fan)
    compss_barrier()
    elapsed = time.perf_counter() - started
    stop_runtime()
    return elapsed


@task(items=COLLECTION_IN, returns=1)
def join_collection(items):
    return None


@task(src=FILE_IN, dst=FILE_OUT)
def copy_step(src, dst):
    with open(src, "rb") as fh, open(dst, "wb") as out:
        out.write(fh.read() + b".")


def run_collections() -> float:
    start_runtime(RuntimeConfig(python_tasks="thread"))
    started = time.perf_counter()
    join = None
    for _ in range(LEVELS):
        join = join_collection([noop_task(join) for _ in range(WIDTH)])
    compss_barrier()
    elapsed = time.perf_counter() - started
    stop_runtime()
    return elapsed


def run_files() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        for c in range(FILE_CHAINS):
            with open(os.path.join(tmp, f"c{c}-0"), "wb") as fh:
                fh.write(b"x")
        start_runtime(RuntimeConfig(python_tasks="thread"))
        started = time.perf_counter()
        for step in range(1, FILE_STEPS + 1):
            for c in range(FILE_CHAINS):
                copy_step(os.path.join(tmp, f"c{c}-{step - 1}"), os.path.join(tmp, f"c{c}-{step}"))
        compss_barrier()
        elapsed = time.perf_counter() - started
        stop_runtime()
        with open(os.path.join(tmp, f"c0-{FILE_STEPS}"), "rb") as fh:
            assert len(fh.read()) == FILE_STEPS + 1  # every step ran, in order
    return elapsed


def dask_graph() -> tuple[dict, str]:
    graph: dict = {"join-0": None}
    join = "join-0"
    for level in range(1, LEVELS + 1):
        fan = [f"t-{level}-{i}" for i in range(WIDTH)]
        for key in fan:
            graph[key] = (noop, join)
        join = f"join-{level}"
        graph[join] = (noop, *fan)
    return graph, join


def run_dask() -> float:
    import dask.threaded

    graph, last = dask_graph()
    started = time.perf_counter()
    dask.threaded.get(graph, last)
    return time.perf_counter() - started


def main() -> int:
    n_ours = LEVELS * (WIDTH + 1)
    graph, _ = dask_graph()
    n_dask = len(graph) - 1  # "join-0" is the constant None both graphs start from
    n_files = FILE_CHAINS * FILE_STEPS
    ours, theirs, colls, files = [], [], [], []
    for i in range(REPEATS):
        ours.append(run_ours())
        theirs.append(run_dask())
        colls.append(run_collections())
        files.append(run_files())
        print(
            f"run {i + 1}/{REPEATS}: ours {n_ours / ours[-1]:,.0f} tasks/s, "
            f"dask threaded {n_dask / theirs[-1]:,.0f} tasks/s; collections "
            f"{n_ours / colls[-1]:,.0f} tasks/s; files {n_files / files[-1]:,.0f} tasks/s",
            file=sys.stderr,
        )
    ours_rate = n_ours / statistics.median(ours)
    dask_rate = n_dask / statistics.median(theirs)
    result = {
        "benchmark": "task_throughput",
        "graph": f"chain of fans, {LEVELS} levels x {WIDTH} + join",
        "tasks": n_ours,
        "ours_tasks_per_s": round(ours_rate),
        "dask_threaded_tasks_per_s": round(dask_rate),
        "ratio_ours_over_dask": round(ours_rate / dask_rate, 3),
        "collection_heavy_tasks_per_s": round(n_ours / statistics.median(colls)),
        "file_heavy_tasks": n_files,
        "file_heavy_tasks_per_s": round(n_files / statistics.median(files)),
        "target_tasks_per_s": 2000,
        "meets_target": ours_rate >= 2000,
        "repeats": REPEATS,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
