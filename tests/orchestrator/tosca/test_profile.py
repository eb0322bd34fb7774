"""The eFlows4HPC profile: every type documented, loadable, and shown in an example."""

from __future__ import annotations

from pathlib import Path

import yaml

from orchestrator.tosca import load
from orchestrator.tosca.sources import profile_path

ROOT = Path(__file__).resolve().parents[3]
PROFILE = yaml.safe_load(profile_path().read_text())
SECTIONS = ("node_types", "data_types", "policy_types", "capability_types", "relationship_types")


def test_every_type_has_a_description() -> None:
    for section in SECTIONS + ("interface_types",):
        for name, definition in PROFILE[section].items():
            assert str(definition.get("description", "")).strip(), f"{section} {name}"


def test_fixed_type_names() -> None:
    assert {
        "eflows4hpc.nodes.Environment",
        "eflows4hpc.nodes.PyCOMPSsJob",
        "eflows4hpc.nodes.PyCOMPSJob",
        "eflows4hpc.nodes.DLSDAGRun",
        "eflows4hpc.nodes.DLSDAGStageInData",
        "eflows4hpc.nodes.DLSDAGStageOutData",
        "eflows4hpc.nodes.DLSDAGImageTransfer",
        "eflows4hpc.nodes.ImageCreation",
    } <= set(PROFILE["node_types"])
    assert {"eflows4hpc.policies.Urgency", "eflows4hpc.policies.EventTrigger"} <= set(
        PROFILE["policy_types"]
    )
    assert {
        "eflows4hpc.datatypes.SubmissionParams",
        "eflows4hpc.datatypes.COMPSsApplication",
        "eflows4hpc.datatypes.ContainerOptions",
        "eflows4hpc.datatypes.Machine",
    } <= set(PROFILE["data_types"])


def test_environment_properties_cover_a_site() -> None:
    props = PROFILE["node_types"]["eflows4hpc.nodes.Environment"]["properties"]
    assert {
        "scheduler", "login_host", "user", "ssh_port", "ssh_key", "work_dir", "results_dir",
        "urgency_levels", "modules", "pycompss_modules", "compss_available", "gpus",
        "dls_api_url", "image_service_url", "image_creation_machine", "slurm_backend",
        "slurmrestd_url", "slurmrestd_token", "slurmrestd_user", "known_hosts",
    } <= set(props)  # fmt: skip
    level = PROFILE["data_types"]["eflows4hpc.datatypes.UrgencyLevel"]["properties"]
    assert {"partition", "qos", "nice", "reservation", "time_limit", "deadline"} <= set(level)


def test_operations_follow_the_conventions() -> None:
    nodes = PROFILE["node_types"]
    configure = nodes["eflows4hpc.nodes.Environment"]["interfaces"]["Standard"]["configure"]
    assert configure["implementation"] == "environment/configure.yaml"
    for node, module in (
        ("eflows4hpc.nodes.PyCOMPSsJob", "pycompss"),
        ("eflows4hpc.nodes.DLSDAGRun", "dls"),
        ("eflows4hpc.nodes.ImageCreation", "image"),
    ):
        runnable = nodes[node]["interfaces"]["Runnable"]
        for op in ("submit", "run", "cancel"):
            assert runnable[op]["implementation"] == (
                f"native://orchestrator.executors.native.{module}:{op}"
            )


def test_every_concrete_node_and_policy_type_is_in_an_example() -> None:
    used: set[str] = set()
    for example in ("minimal_workflow", "tsunami", "climate", "earthquake"):
        model = load(ROOT / "examples" / example)
        used |= {n.types[0] for n in model.nodes.values()}
        used |= {p.type for p in model.policies.values()}
    abstract = {"eflows4hpc.nodes.DLSDAGRun", "eflows4hpc.nodes.PyCOMPSJob"}  # base, alias
    for name in set(PROFILE["node_types"]) | set(PROFILE["policy_types"]):
        if name not in abstract:
            assert name in used, name
