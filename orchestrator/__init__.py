"""TOSCA orchestration toolkit for urgent HPC workflows.

Pipeline: ``tosca`` (load, validate, model) -> ``plan`` (DAG of steps) -> ``engine`` (runs a
plan) -> ``executors`` / ``slurm`` (how one step runs) -> ``state`` (what happened).
"""

__version__ = "0.1.0"
