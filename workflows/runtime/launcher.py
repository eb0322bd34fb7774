"""``python -m workflows.runtime``: our ``runcompss``.

::

    python -m workflows.runtime [--backend local|slurm|dry-run] [--urgency LEVEL]
        [--events FILE.jsonl] [--graph FILE.dot|FILE.json] [--config resources.yaml]
        [--cpus N] [--gpus 0,1] [--retries N] APP [ARGS...]

APP is a ``.py`` path or a dotted module name; it runs as ``__main__`` with ``sys.argv =
[APP, ARGS...]`` after the ``pycompss`` alias is installed. At the end the launcher waits for
every task. Exit status: the program's own (``sys.exit``), 1 when a task failed under
RETRY / FAIL or the program raised, 2 for bad launcher usage or configuration.
With ``--backend dry-run`` the task graph is printed (DOT) unless ``--graph`` is given.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import runpy
import sys
import traceback

from workflows.runtime.alias import install_pycompss_alias
from workflows.runtime.config import BACKENDS, URGENCY_LEVELS, load_config
from workflows.runtime.core import start_runtime, stop_runtime
from workflows.runtime.events import EventLog, graph_to_dot, write_graph
from workflows.runtime.exceptions import RuntimeTaskError, TaskFailedError

__all__ = ["main", "parse_args"]

log = logging.getLogger("workflows.runtime")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m workflows.runtime",
        description="Run a PyCOMPSs-style application on the task runtime.",
    )
    parser.add_argument("--backend", choices=BACKENDS, default=None)
    parser.add_argument("--urgency", choices=URGENCY_LEVELS, default=None)
    parser.add_argument("--events", metavar="FILE.jsonl", default=None)
    parser.add_argument("--graph", metavar="FILE.dot|FILE.json", default=None)
    parser.add_argument("--config", metavar="resources.yaml", default=None)
    parser.add_argument("--cpus", type=int, default=None)
    parser.add_argument("--gpus", default=None, help="comma list of GPU ids of this node")
    parser.add_argument("--retries", type=int, default=None)
    parser.add_argument("--log-level", default=os.environ.get("TOSCA_RUNTIME_LOG", "WARNING"))
    parser.add_argument("app", metavar="APP", help="program.py or a dotted module name")
    parser.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS")
    return parser.parse_args(argv)


def _run_app(app: str, args: list[str]) -> None:
    if app.endswith(".py") or os.sep in app:
        if not os.path.isfile(app):
            raise FileNotFoundError(f"application {app!r} not found")
        sys.argv = [app, *args]
        sys.path.insert(0, os.path.dirname(os.path.abspath(app)))
        runpy.run_path(app, run_name="__main__")
    else:
        sys.argv = [app, *args]
        runpy.run_module(app, run_name="__main__", alter_sys=True)


def main(argv: list[str] | None = None) -> int:
    ns = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=ns.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        config = load_config(ns.config)
        config = config.with_overrides(
            backend=ns.backend,
            urgency=ns.urgency,
            cpus=ns.cpus,
            gpus=tuple(g for g in ns.gpus.split(",") if g) if ns.gpus is not None else None,
            retries=ns.retries,
            events_path=ns.events,
        )
        runtime = start_runtime(config, events=EventLog(config.events_path or None))
    except (OSError, RuntimeTaskError, ValueError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    install_pycompss_alias(force=True)
    status = 0
    try:
        _run_app(ns.app, ns.args)
        runtime.barrier()
    except SystemExit as exc:
        code = exc.code
        status = code if isinstance(code, int) else (0 if code is None else 1)
        if status == 0:
            try:
                runtime.barrier()
            except TaskFailedError as failed:
                sys.stderr.write(f"error: workflow failed: {failed}\n")
                status = 1
    except TaskFailedError as exc:
        sys.stderr.write(f"error: workflow failed: {exc}\n")
        status = 1
    except (FileNotFoundError, ImportError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        status = 2
    except BaseException as exc:  # noqa: BLE001 - the application's own error
        if isinstance(exc, KeyboardInterrupt):
            status = 130
        else:
            traceback.print_exc()
            status = 1
    finally:
        tasks = runtime.tasks
        with contextlib.suppress(RuntimeTaskError):
            stop_runtime(wait=False)
        if ns.graph:
            write_graph(tasks, ns.graph)
        elif config.backend == "dry-run":
            sys.stdout.write(graph_to_dot(tasks))
    return status
