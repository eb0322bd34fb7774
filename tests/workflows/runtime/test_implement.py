"""``@implement``: several implementations of one task, the runtime choosing by constraint
and availability when the task is ready: the GPU version while a GPU is free, the CPU one
otherwise (how the tsunami workflow picks GPU or CPU scenarios)."""

from __future__ import annotations

import os
import time

import pytest

from workflows.runtime import (
    ConstraintError,
    RuntimeConfig,
    compss_wait_on,
    constraint,
    implement,
    start_runtime,
    stop_runtime,
    task,
)


@constraint(computing_units=1)
@task(returns=1)
def propagate(scenario):
    time.sleep(1.0)
    return ("cpu", scenario, os.environ.get("CUDA_VISIBLE_DEVICES"))


@implement(source_class=__name__, method="propagate")
@constraint(processors=[{"processorType": "GPU", "computingUnits": 1}])
@task(returns=1)
def propagate_on_gpu(scenario):
    time.sleep(1.0)
    return ("gpu", scenario, os.environ.get("CUDA_VISIBLE_DEVICES"))


@constraint(computing_units=64)
@task(returns=1)
def too_big_for_cpu(x):
    return ("cpu", x)


@implement(source_class=__name__, method="too_big_for_cpu")
@constraint(processors=[{"processorType": "GPU", "computingUnits": 1}])
@task(returns=1)
def fits_on_gpu(x):
    return ("gpu", x)


@pytest.fixture
def one_gpu():
    start_runtime(RuntimeConfig(cpus=4, gpus=("7",)))
    yield
    stop_runtime(wait=False)


def test_the_gpu_version_while_the_gpu_is_free_the_cpu_one_otherwise(one_gpu):
    results = compss_wait_on([propagate(k) for k in range(3)])
    kinds = sorted(r[0] for r in results)
    assert kinds == ["cpu", "cpu", "gpu"], results  # one GPU: one of three at a time there
    gpu = next(r for r in results if r[0] == "gpu")
    assert gpu[2] == "7"  # it got the GPU's id
    assert {r[1] for r in results} == {0, 1, 2}


def test_without_gpus_the_original_runs():
    start_runtime(RuntimeConfig(cpus=2))
    try:
        assert compss_wait_on(propagate(5))[0] == "cpu"
        # An original no node can hold is fine while one implementation fits...
        with pytest.raises(ConstraintError, match="can never run"):
            too_big_for_cpu(1)  # ...and here none does (no GPU either)
    finally:
        stop_runtime(wait=False)


def test_an_implementation_that_fits_is_used_when_the_original_never_can(one_gpu):
    assert compss_wait_on(too_big_for_cpu(3)) == ("gpu", 3)
