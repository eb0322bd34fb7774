"""Command lines the runtime builds: sbatch for the Slurm backend, mpirun / srun for @mpi."""

from __future__ import annotations

from workflows.runtime import constraint, mpi, task
from workflows.runtime.backends.slurm import sbatch_argv
from workflows.runtime.config import RuntimeConfig, SlurmConfig, urgency_rank
from workflows.runtime.execution import build_command
from workflows.runtime.model import Task


@constraint(
    computing_units=4, memory_size=2, processors=[{"processorType": "GPU", "computingUnits": 2}]
)
@task(returns=1, time_out=90)
def gpu_job(x):
    pass


@mpi(runner="mpirun", binary="hysea", processes=8, processes_per_node=4, args="{{param}}")
@task()
def simulate(param):
    pass


@mpi(runner="srun", binary="hysea --quiet", processes=2)
@task()
def simulate_srun(param, out):
    pass


def test_sbatch_line_from_constraint_time_out_and_urgency():
    cfg = RuntimeConfig(
        backend="slurm",
        slurm=SlurmConfig(
            partitions={"emergency": "urgent"},
            qos={"emergency": "high"},
            extra_args=("--account=eflows",),
        ),
    )
    t = Task(3, gpu_job.spec, (1,), {})
    t.urgency = urgency_rank("emergency")
    argv = sbatch_argv(cfg, t, "/s/job.sh", "/s/job.log")
    assert argv[:2] == ["sbatch", "--parsable"]
    for expected in (
        "--time=2",
        "--cpus-per-task=4",
        "--mem=2048M",
        "--gres=gpu:2",
        "--partition=urgent",
        "--qos=high",
        "--account=eflows",
    ):
        assert expected in argv
    assert argv[-1] == "/s/job.sh"
    t.urgency = urgency_rank("routine")
    routine = sbatch_argv(cfg, t, "/s/job.sh", "/s/job.log")
    assert not any(a.startswith(("--partition", "--qos")) for a in routine)


def test_mpi_command_lines():
    assert build_command(simulate.spec, ("p.txt",), {}) == [
        "mpirun",
        "-np",
        "8",
        "--map-by",
        "ppr:4:node",
        "hysea",
        "p.txt",
    ]
    assert build_command(simulate_srun.spec, ("a", "b"), {}) == [
        "srun",
        "-n",
        "2",
        "hysea",
        "--quiet",
        "a",
        "b",
    ]
