"""One test per finding of the security review: each fails on the code before its fix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from orchestrator.cli.main import build_app
from orchestrator.core import HostSpec
from orchestrator.errors import JobError, SchedulerError, ServiceError, UsageError
from orchestrator.executors.native import NativeContext, dls, pycompss
from orchestrator.executors.native._http import path_segment
from orchestrator.executors.secrets import Secret
from orchestrator.redaction import is_secret_key, scrubbed_environ, write_private
from orchestrator.slurm import SlurmCLI
from orchestrator.slurm.base import CommandResult
from orchestrator.slurm.cli import check_job_id
from orchestrator.transport.ssh import ansible_host_vars, ssh_argv

runner = CliRunner()

SECRET_WORKFLOW = """\
tosca_definitions_version: tosca_simple_yaml_1_3
topology_template:
  node_templates:
    n:
      type: tosca.nodes.Root
      interfaces:
        Standard:
          create: {implementation: c.yaml}
  workflows:
    go:
      inputs:
        api_password: {type: string}
        vault_id: {type: string, required: false}
        api_token: {type: string, required: false, constraints: [{pattern: "^[a-z]+$"}]}
        name: {type: string, required: false}
      steps:
        s:
          target: n
          activities:
            - call_operation:
                operation: Standard.create
                inputs:
                  pw: {get_input: api_password}
                  literal_password: Hard-Coded-Pw-1
                  who: {get_input: name}
"""


@pytest.fixture()
def secret_template(tmp_path: Path) -> Path:
    (tmp_path / "c.yaml").write_text("- hosts: all\n  tasks: []\n")
    path = tmp_path / "t.yaml"
    path.write_text(SECRET_WORKFLOW)
    return path


# -- 1. secret-named workflow inputs -----------------------------------------------------------
def test_plan_json_never_prints_a_secret_named_input(secret_template: Path) -> None:
    argv = ["plan", str(secret_template), "-w", "go", "-o", "json"]
    argv += ["-i", "api_password=Pl4n-Secret-1", "-i", "vault_id=Vault-Id-22", "-i", "name=ann"]
    result = runner.invoke(build_app(), argv)
    assert result.exit_code == 0, result.output
    for value in ("Pl4n-Secret-1", "Vault-Id-22", "Hard-Coded-Pw-1"):
        assert value not in result.stdout
    plan = json.loads(result.stdout)
    assert plan["inputs"]["api_password"] == "***" and plan["inputs"]["vault_id"] == "***"
    assert plan["inputs"]["name"] == "ann"
    (step,) = plan["steps"]
    # Function forms stay (they are references, not values); literals are hidden.
    assert step["inputs"]["pw"] == {"get_input": "api_password"}
    assert step["inputs"]["literal_password"] == "***"


def test_errors_mask_the_value_of_a_secret_named_input(secret_template: Path) -> None:
    argv = ["plan", str(secret_template), "-w", "go", "-i", "api_password=x"]
    result = runner.invoke(build_app(), [*argv, "-i", "api_token=MyRealTok3n-typo"])
    assert result.exit_code == 2
    assert "api_token" in result.output and "pattern" in result.output
    assert "MyRealTok3n" not in result.output


def test_vault_ids_are_secret_named() -> None:
    assert is_secret_key("vault_id") and is_secret_key("VAULT_TOKEN")
    assert not is_secret_key("TOSCA_JOB_ID") and not is_secret_key("num_nodes")


# -- 3. data mover: containment, allowed source roots, symlinks --------------------------------
def _dls_ctx(tmp_path: Path, props: dict[str, Any], env: dict[str, Any] | None = None):
    context = {
        "node_properties": {"dag_id": "taskflow_example", **props},
        "requirements": {"environment": {"node": "site", "properties": env or {}}},
        "workspace": str(tmp_path / "ws"),
    }
    return NativeContext("s.Runnable.submit", "s", "Runnable", "submit", context, tmp_path)


@pytest.mark.parametrize(
    "props, refused",
    [
        ({"target_path": "../../escaped"}, "target_path '../../escaped' is outside"),
        ({"target_path": "/tmp/anywhere-else"}, "target_path '/tmp/anywhere-else' is outside"),
        ({"target_path": "in/../../../x"}, "is outside"),
    ],
)
def test_stage_in_targets_stay_in_the_site_work_dir(
    tmp_path: Path, props: dict[str, Any], refused: str
) -> None:
    src = tmp_path / "event.json"
    src.write_text("{}")
    ctx = _dls_ctx(tmp_path, {"oid": str(src), **props})
    with pytest.raises(UsageError, match=refused):
        dls.submit(ctx, {})
    assert not (tmp_path / "escaped").exists() and not Path("/tmp/anywhere-else").exists()


def test_stage_out_reads_only_the_work_dir_and_writes_only_results(tmp_path: Path) -> None:
    work = tmp_path / "ws" / "sites" / "site"
    (work / "run").mkdir(parents=True)
    (work / "run" / "out.nc").write_bytes(b"nc")
    secret = tmp_path / "private.txt"
    secret.write_text("not for publishing")
    for props, refused in [
        ({"source_path": str(secret)}, "source_path"),
        ({"source_path": "../../../private.txt"}, "source_path"),
        ({"source_path": "run", "target_path": "../../../published"}, "target_path"),
    ]:
        ctx = _dls_ctx(tmp_path, {"source_path": "run", "target_path": "r1", **props})
        ctx.context["node_properties"]["kind"] = "stage_out"
        with pytest.raises(UsageError, match=f"{refused} .* is outside"):
            dls.submit(ctx, {})
    assert not (tmp_path / "published").exists()
    ctx = _dls_ctx(tmp_path, {"source_path": "run", "target_path": "r1", "kind": "stage_out"})
    dls.submit(ctx, {})
    assert (work / "results" / "r1" / "out.nc").read_bytes() == b"nc"


def test_stage_in_refuses_credentials_and_the_home_shortcut(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    (home / "data").mkdir()
    (home / "data" / "bathy.nc").write_bytes(b"b")
    monkeypatch.setenv("HOME", str(home))
    landed = tmp_path / "ws" / "sites" / "site" / "input"
    for oid, refused in [
        ("~/.ssh", "'~' is not expanded"),
        (str(home / ".ssh"), "hidden directory '.ssh'"),
        (f"file://{home}/.ssh/id_ed25519", "hidden directory '.ssh'"),
        (str(tmp_path / "ws"), "the toolkit's workspace"),
    ]:
        with pytest.raises(UsageError, match=refused):
            dls.submit(_dls_ctx(tmp_path, {"oid": oid}), {})
    assert not (landed / "id_ed25519").exists() and not (landed / ".ssh").exists()
    dls.submit(_dls_ctx(tmp_path, {"oid": str(home / "data")}), {})  # ordinary data: fine
    assert (landed / "bathy.nc").read_bytes() == b"b"


def test_stage_in_reads_received_alerts_but_nothing_else_of_the_workspace(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    alerts = ws / "events" / "eq-1"
    alerts.mkdir(parents=True)
    (alerts / "run-0.json").write_text('{"type": "Feature"}')
    (ws / "state.db").write_bytes(b"SQLite format 3")
    (alerts / "sneaky.json").symlink_to(ws / "state.db")
    landed = ws / "sites" / "site" / "input"
    dls.submit(_dls_ctx(tmp_path, {"oid": str(alerts / "run-0.json")}), {})
    assert (landed / "run-0.json").read_text() == '{"type": "Feature"}'
    for oid in (str(alerts / "sneaky.json"), str(ws / "events" / ".." / "state.db"),
                str(ws / "events")):  # fmt: skip
        with pytest.raises(UsageError, match="the toolkit's workspace"):
            dls.submit(_dls_ctx(tmp_path, {"oid": oid}), {})


def test_data_roots_are_the_only_sources_a_site_allows(tmp_path: Path) -> None:
    allowed, other = tmp_path / "datasets", tmp_path / "elsewhere"
    for d in (allowed, other):
        d.mkdir()
        (d / "f.txt").write_text(d.name)
    env = {"data_roots": [str(allowed)]}
    dls.submit(_dls_ctx(tmp_path, {"oid": str(allowed / "f.txt")}, env), {})
    with pytest.raises(UsageError, match="outside the site's data_roots"):
        dls.submit(_dls_ctx(tmp_path, {"oid": str(other / "f.txt")}, env), {})
    with pytest.raises(UsageError, match="outside the site's data_roots"):  # .. out of a root
        dls.submit(_dls_ctx(tmp_path, {"oid": f"{allowed}/../elsewhere/f.txt"}, env), {})


def test_symlinks_out_of_a_staged_tree_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("outside the tree")
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "real.txt").write_text("in")
    (tree / "leak.txt").symlink_to(outside / "secret.txt")
    (tree / "leakdir").symlink_to(outside, target_is_directory=True)
    (tree / "inner.txt").symlink_to(tree / "sub" / "real.txt")
    out = dls.submit(_dls_ctx(tmp_path, {"oid": str(tree)}), {})
    landed = Path(out["staged_path"])
    copied = sorted(str(p.relative_to(landed)) for p in landed.rglob("*") if p.is_file())
    assert copied == ["SHA256SUMS", "inner.txt", "sub/real.txt"]
    assert not any("outside the tree" in p.read_text() for p in landed.rglob("*") if p.is_file())


# -- 4. secrets in job environments and argv ---------------------------------------------------
def test_export_env_leaves_secrets_out_unless_declared() -> None:
    values = {"alpha": "1", "db_password": "pw-1", "key": Secret("s-2"), "api_token": "t-3"}
    env = pycompss.export_env("job", values)
    assert env == {"alpha": "1"}
    env = pycompss.export_env("job", values, allowed_secrets=["api_token"])
    assert env == {"alpha": "1", "api_token": "t-3"}


class RecordingRunner:
    """A CommandRunner that records what it is asked to run and answers like enqueue_compss."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], str | None]] = []

    def run(self, argv, *, input=None, timeout=30.0, env=None) -> CommandResult:  # type: ignore[no-untyped-def]
        self.calls.append(([str(a) for a in argv], input))
        return CommandResult(list(argv), 0, "Submitted batch job 4242\n", "")


def test_enqueue_compss_script_goes_on_stdin_never_in_argv(tmp_path: Path) -> None:
    from orchestrator.slurm import JobSpec

    rec = RecordingRunner()
    sched = SlurmCLI(runner=rec)
    spec = JobSpec(name="j", script="", workdir=str(tmp_path), env={"token_x": "Argv-Leak-9"})
    ctx = NativeContext("j.Runnable.submit", "j", "Runnable", "submit", {}, tmp_path)
    assert pycompss._enqueue(sched, ctx, spec, ["enqueue_compss", "app.py"]) == "4242"
    ((argv, script),) = rec.calls
    assert argv == ["bash", "-s"]
    assert script is not None and "Argv-Leak-9" in script
    assert not any("Argv-Leak-9" in a for a in argv)


@pytest.mark.parametrize("opt", ["--prolog=/tmp/x.sh", "--epilog=evil", "-oX", "--qos=high"])
def test_extra_compss_opts_outside_the_allow_list_are_refused(opt: str) -> None:
    with pytest.raises(JobError, match="not an allowed enqueue_compss option"):
        pycompss._extra_compss_opts(f"--log_level=debug {opt}")
    assert pycompss._extra_compss_opts("--log_level=debug -t") == ["--log_level=debug", "-t"]


def test_children_get_a_scrubbed_environment() -> None:
    env = {"PATH": "/bin", "TOSCA_SECRET_X": "1", "DB_PASSWORD": "2", "GH_TOKEN": "3", "HOME": "/"}
    assert scrubbed_environ(env) == {"PATH": "/bin", "HOME": "/"}


def test_local_job_scripts_are_private_and_jobs_do_not_inherit_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestrator.slurm import JobSpec, LocalScheduler

    monkeypatch.setenv("TOSCA_SECRET_LOCAL", "Inherited-Secret-3")
    sched = LocalScheduler(tmp_path / "jobs")
    out = tmp_path / "env.txt"
    job = sched.submit(JobSpec(name="e", script=f"env > {out}\n", workdir=str(tmp_path)))
    deadline = __import__("time").monotonic() + 20
    while not out.exists() or not out.read_text():
        assert __import__("time").monotonic() < deadline, "the local job did not run"
        __import__("time").sleep(0.05)
    assert "Inherited-Secret-3" not in out.read_text()
    scripts = list((tmp_path / "jobs").rglob("job.sh"))
    assert scripts and all(p.stat().st_mode & 0o077 == 0 for p in scripts), job


# -- 5. ssh option injection -------------------------------------------------------------------
@pytest.mark.parametrize(
    "field, value",
    [
        ("user", "-oProxyCommand=touch${IFS}pwned"),
        ("address", "-oProxyCommand=touch x"),
        ("address", "host name"),
        ("user", "a@b"),
        ("name", "x\ny"),
    ],
)
def test_host_fields_that_could_become_ssh_options_are_refused(field: str, value: str) -> None:
    with pytest.raises(UsageError, match=f"host {field} .* is not valid"):
        HostSpec(**{"connection": "ssh", "address": "login1", field: value})


def test_the_destination_follows_a_double_dash() -> None:
    host = HostSpec(name="s", connection="ssh", address="login1.example.org", user="ann")
    argv = ssh_argv(host, ["squeue", "--me"], known_hosts="/k")
    assert argv[-3:] == ["--", "ann@login1.example.org", "squeue --me"]


def test_a_hostile_user_id_never_reaches_ssh(tmp_path: Path) -> None:
    ctx = _dls_ctx(tmp_path, {})
    ctx.context["requirements"]["environment"]["properties"] = {
        "scheduler": "slurm",
        "login_host": "127.0.0.1",
    }
    pwned = tmp_path / "pwned"
    with pytest.raises(UsageError, match="host user"):
        pycompss._scheduler(ctx, {"user_id": f"-oProxyCommand=touch {pwned}"})
    assert not pwned.exists()


# -- 6. both Ansible paths use the hardened options --------------------------------------------
def test_ansible_host_vars_are_strict_and_quoted() -> None:
    host = HostSpec(
        name="s", connection="ssh", address="127.0.0.1", known_hosts_file="/a dir/known hosts"
    )
    hv = ansible_host_vars(host)
    common = str(hv["ansible_ssh_common_args"])
    # Quoted twice: for Ansible's split of the string, then for ssh's own parser (which
    # reads UserKnownHostsFile as a whitespace-separated list of files).
    assert """'UserKnownHostsFile="/a dir/known hosts"'""" in common
    assert "GlobalKnownHostsFile=/dev/null" in common and "UpdateHostKeys=no" in common
    assert "StrictHostKeyChecking=yes" in common
    assert "ControlMaster=no" in str(hv["ansible_ssh_args"])


def test_the_runner_executor_uses_the_hardened_options() -> None:
    from orchestrator.executors.ansible_runner_exec import AnsibleRunnerExecutor

    host = HostSpec(name="s", connection="ssh", address="127.0.0.1", known_hosts_file="/k h")
    op = type("Op", (), {"request": type("R", (), {"host": host})()})()
    hv = AnsibleRunnerExecutor._host_vars(op)  # type: ignore[arg-type]
    assert {k: v for k, v in hv.items() if k != "ansible_python_interpreter"} == dict(
        ansible_host_vars(host)
    )


# -- low: ids in commands and URLs, key files, permissions -------------------------------------
@pytest.mark.parametrize("job_id", ["123", "123_4", "77+1", "5.0"])
def test_job_ids_that_are_job_ids_pass(job_id: str) -> None:
    assert check_job_id(job_id) == job_id


@pytest.mark.parametrize("job_id", ["--signal=KILL", "-1", "123 456", "1;id", "", "abc"])
def test_anything_else_never_reaches_scancel(job_id: str) -> None:
    with pytest.raises(SchedulerError, match="not a Slurm job id"):
        check_job_id(job_id)
    with pytest.raises(SchedulerError):
        SlurmCLI(runner=RecordingRunner()).cancel(job_id)


def test_url_path_segments_are_escaped() -> None:
    assert path_segment("a/../../admin?x=1#f") == "a%2F..%2F..%2Fadmin%3Fx%3D1%23f"
    for bad in ("", ".", ".."):
        with pytest.raises(ServiceError):
            path_segment(bad)


def test_write_private_resets_the_mode_of_an_old_file(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_text("old")
    path.chmod(0o644)
    write_private(path, "new")
    assert path.read_text() == "new" and path.stat().st_mode & 0o777 == 0o600


def test_a_key_written_from_a_secret_is_private_and_removed_at_exit(tmp_path: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from orchestrator.slurm import _key_file\n"
        "key = '-----BEGIN OPENSSH PRIVATE KEY-----\\nabc\\n-----END OPENSSH PRIVATE KEY-----'\n"
        "p = Path(_key_file('vault/k', Path(sys.argv[1]), lambda ref: key))\n"
        "print(p, oct(p.stat().st_mode & 0o777))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0, proc.stderr
    path, mode = proc.stdout.split()
    assert mode == "0o600"
    assert not Path(path).exists()  # gone when the process ended
