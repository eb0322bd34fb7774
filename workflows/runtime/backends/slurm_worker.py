"""Body of one Slurm job of the Slurm backend:
``python -m workflows.runtime.backends.slurm_worker IN.pkl OUT.pkl``.

Loads ``(spec, args, kwargs, inout_names, env)`` from IN, runs the task like the local backend
would and writes the pickled Outcome to OUT atomically (temporary file + rename), so the
runtime sees either no result or a whole one.
"""

from __future__ import annotations

import os
import pickle
import sys
import time


def main(argv: list[str] | None = None) -> int:
    src, dst = (sys.argv[1:] if argv is None else argv)[:2]
    import cloudpickle

    from workflows.runtime.alias import install_pycompss_alias
    from workflows.runtime.execution import failure, run_command, run_python

    install_pycompss_alias()
    started = time.time()
    try:
        with open(src, "rb") as fh:
            spec, args, kwargs, inout, env = pickle.load(fh)
        os.environ.update(env)
        gpus = os.environ.get("CUDA_VISIBLE_DEVICES")
        if gpus:  # Slurm binds the GPUs of --gres; export them under the COMPSs names too
            os.environ.setdefault("COMPSS_BINDED_GPUS", gpus)
            os.environ.setdefault("GPU_DEVICE_ORDINAL", gpus)
        if spec.kind in ("binary", "mpi"):
            outcome = run_command(spec, args, kwargs)
        elif spec.kind == "http":
            from workflows.runtime.http_tasks import HttpCaller

            outcome = HttpCaller(env.get("__http_services__", {})).call(spec, args, kwargs)
        else:
            outcome = run_python(spec, args, kwargs, inout)
    except Exception as exc:  # noqa: BLE001 - reported as the task's failure
        outcome = failure(f"cannot run the task in the Slurm job: {exc!r}", started)
    try:
        data = cloudpickle.dumps(outcome)
    except Exception as exc:  # noqa: BLE001
        data = cloudpickle.dumps(failure(f"result cannot be pickled: {exc!r}", started))
    tmp = f"{dst}.tmp"
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, dst)
    return 0


if __name__ == "__main__":
    sys.exit(main())
