"""Worker process of the local backend (``python -m workflows.runtime._worker RFD WFD``).

Reads length-prefixed cloudpickle frames from fd RFD: first the parent's ``sys.path``, then
one ``(spec, args, kwargs, inout_names, env)`` per task; answers each with a pickled
:class:`Outcome` on fd WFD. The parent kills the whole process group on time-out or cancel.
"""

from __future__ import annotations

import os
import pickle
import sys
import time
from typing import Any

from workflows.runtime.frames import read_frame, write_frame


def _serve(rfd: int, wfd: int) -> None:
    import cloudpickle

    from workflows.runtime.alias import install_pycompss_alias
    from workflows.runtime.execution import HOST, failure, run_python
    from workflows.runtime.model import Outcome

    install_pycompss_alias()
    first = read_frame(rfd)
    if first is None:
        return
    for entry in reversed(pickle.loads(first)):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    while True:
        frame = read_frame(rfd)
        if frame is None:
            return
        started = time.time()
        try:
            spec, args, kwargs, inout_names, env = pickle.loads(frame)
        except Exception as exc:  # noqa: BLE001 - reported as the task's failure
            outcome = failure(f"cannot load the task in the worker: {exc!r}", started)
        else:
            saved = {k: os.environ.get(k) for k in env}
            os.environ.update(env)
            try:
                outcome = run_python(spec, args, kwargs, inout_names)
            finally:
                for k, v in saved.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v
        try:
            data = cloudpickle.dumps(outcome)
        except Exception as exc:  # noqa: BLE001
            data = cloudpickle.dumps(
                Outcome(
                    ok=False,
                    error=f"task result cannot be pickled: {exc!r}",
                    host=HOST,
                    started=outcome.started,
                    ended=outcome.ended,
                )
            )
        write_frame(wfd, data)


def main(argv: list[str] | None = None) -> Any:
    args = sys.argv[1:] if argv is None else argv
    _serve(int(args[0]), int(args[1]))


if __name__ == "__main__":
    main()
