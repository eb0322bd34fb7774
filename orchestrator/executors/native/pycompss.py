"""``eflows4hpc.nodes.PyCOMPSsJob``: ``Runnable.submit`` / ``run`` / ``cancel`` without Ansible.

- ``submit`` builds the job from the node's properties (``submission_params``, ``application``),
  the operation inputs (workflow inputs; ``qos``, ``num_nodes``, ``extra_compss_opts`` and
  ``user_id`` override the properties) and the execution's urgency level (the site's
  ``urgency_levels`` mapping), then hands it to the site's scheduler
  (``orchestrator.slurm.get_scheduler``). On a site with COMPSs (``compss_available``, or
  ``enqueue_compss`` found after loading ``pycompss_modules``) it runs ``enqueue_compss`` and
  parses ``Submitted batch job N``; otherwise the job runs
  ``python -m workflows.runtime --events ... <command> <arguments...>`` (an sbatch script on
  Slurm, a detached process on a ``scheduler: local`` site). Outputs ``TOSCA_JOB_ID``. The job
  carries the operation's idempotency token (a hash of it in the job name, ``tosca:<token>``
  as its Slurm comment / local marker): a resumed submit looks it up first (``find_job``)
  and returns the job an interrupted attempt already submitted instead of submitting again.
- ``run`` reports ``TOSCA_JOB_STATUS`` (an ``orchestrator.jobs.JobStatus``). Each poll of a
  started job logs the job's new stdout lines (``job N | ...``) and, for the bundled task
  runtime (started with ``--events <job dir>/task-events.jsonl``), one readable line per new
  task event (``task forecast.simulate#3 finished on vm in 4.2 s``): the engine puts them in
  the execution's logs at once, so ``tosca workflows run`` shows the application's progress
  live. Once the job ended its stdout / stderr / task events are copied to
  ``<workdir>/logs/`` and the stderr tail logged. For an urgent or emergency job it also
  reports the jobs it preempted (``TOSCA_PREEMPTED_JOBS``).
- ``cancel`` cancels ``TOSCA_JOB_ID`` (idempotent).

Workflow inputs are exported to the job as environment variables; for a variable ``x`` the
value of ``<Node>_PyCOMPSs_x`` beats ``PyCOMPSs_x``, which beats ``x``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shlex
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from orchestrator.errors import JobError, SchedulerError
from orchestrator.executors.secrets import Secret, collect_secrets
from orchestrator.jobs import JobStatus
from orchestrator.redaction import is_secret_key
from orchestrator.slurm import (
    JobSpec,
    LocalScheduler,
    Scheduler,
    SlurmCLI,
    apply_urgency,
    get_scheduler,
    resolve_urgency,
)
from orchestrator.transport.runners import LocalRunner, output_tail

__all__ = [
    "EVENTS_FILE",
    "build_job",
    "cancel",
    "export_env",
    "format_task_event",
    "job_name",
    "run",
    "submit",
]

logger = logging.getLogger(__name__)

_OVERRIDES = ("qos", "num_nodes", "extra_compss_opts", "user_id")
_SUBMITTED = re.compile(r"Submitted batch job (\d+)")
_LOG_TAIL_LINES = 40
EVENTS_FILE = "task-events.jsonl"
# Per poll and stream: more new lines than this are summarised (the files keep them all).
_FORWARD_MAX_LINES = 200
_FORWARD_MAX_BYTES = 1 << 20
# Sites probed for enqueue_compss once per process: (login host, modules) -> found.
_COMPSS_PROBES: dict[tuple[str, tuple[str, ...]], bool] = {}


# -- inputs -> job ---------------------------------------------------------------------------------
def export_env(
    node: str, values: dict[str, Any], allowed_secrets: Iterable[str] = ()
) -> dict[str, str]:
    """Job environment variables; precedence ``x`` < ``PyCOMPSs_x`` < ``<node>_PyCOMPSs_x``.

    Secret-named inputs (``is_secret_key``) and ``Secret`` values are left out unless their
    name is in ``allowed_secrets`` (the node's ``export_secrets``)."""
    allowed = set(allowed_secrets)
    ranked: dict[str, tuple[int, str]] = {}
    node_prefix, generic = f"{node}_PyCOMPSs_", "PyCOMPSs_"
    for key, value in values.items():
        if key.startswith("TOSCA_") or value is None:
            continue
        secret = is_secret_key(key) or isinstance(value, Secret) or bool(collect_secrets(value))
        if secret and key not in allowed:
            continue
        if key.startswith(node_prefix):
            name, rank = key[len(node_prefix) :], 3
        elif key.startswith(generic):
            name, rank = key[len(generic) :], 2
        else:
            name, rank = key, 1
        if not name.isidentifier():
            continue  # not a valid variable name: nothing the job could read
        text = value if isinstance(value, str) else json.dumps(value)
        if name not in ranked or rank > ranked[name][0]:
            ranked[name] = (rank, text)
    return {name: text for name, (_, text) in sorted(ranked.items())}


def _arguments(application: dict[str, Any]) -> list[str]:
    args = application.get("arguments") or []
    if isinstance(args, str):
        return shlex.split(args)
    return [a if isinstance(a, str) else json.dumps(a) for a in args]


def _params(props: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
    params = dict(props.get("submission_params") or {})
    for key in _OVERRIDES:
        if inputs.get(key) not in (None, ""):
            params[key] = inputs[key]
    return params


def _urgency_level(ctx: Any, inputs: dict[str, Any]) -> str | None:
    context = ctx.context or {}
    level = context.get("urgency") or inputs.get("urgency") or inputs.get("urgency_level")
    return str(level) if level else None


def job_dir(ctx: Any) -> Path:
    """Where the job runs and writes stdout / stderr: ``<workdir>/jobs/<node>``.

    Deterministic, so ``run`` finds the logs that ``submit`` asked for."""
    return Path(ctx.workdir).resolve() / "jobs" / ctx.node


def job_name(node: str, execution_id: Any, token: Any) -> str:
    """``<node>-<execution id[:8]>[-<token hash>]``: the hash of the submit's idempotency
    token makes the name unique per attempt, so a resumed submit finds its job by name even
    where only the job-completion log remembers it (which keeps names, not comments)."""
    name = f"{node}-{str(execution_id or 'x')[:8]}"
    if token:
        name += "-" + hashlib.sha256(str(token).encode()).hexdigest()[:10]
    return name


def build_job(ctx: Any, inputs: dict[str, Any], compss: bool) -> tuple[JobSpec, list[str] | None]:
    """The JobSpec for the runtime path, and the ``enqueue_compss`` argv when ``compss``."""
    props = dict(ctx.context.get("node_properties") or {})
    env_props = ctx.environment
    application = dict(props.get("application") or {})
    command = application.get("command")
    if not command:
        raise JobError(f"PyCOMPSsJob '{ctx.node}': application.command is required")
    params = _params(props, inputs)
    workflow_inputs = {**(ctx.context.get("workflow_inputs") or {}), **inputs}
    # Unbuffered: the job's stdout lines reach the execution's logs as they are printed.
    allowed = [str(n) for n in props.get("export_secrets") or []]
    env = {"PYTHONUNBUFFERED": "1", **export_env(ctx.node, workflow_inputs, allowed)}
    urgency = resolve_urgency(_urgency_level(ctx, inputs), env_props.get("urgency_levels"))
    jdir = job_dir(ctx)
    nodes = int(params.get("num_nodes") or 1)
    token = ctx.context.get("idempotency_token")
    base = JobSpec(
        name=job_name(ctx.node, ctx.context.get("execution_id"), token),
        comment=f"tosca:{token}" if token else None,
        argv=[
            str(params.get("python_interpreter") or _default_python(env_props)),
            "-m",
            "workflows.runtime",
            "--events",
            str(jdir / EVENTS_FILE),  # per-task events, forwarded by run() into the logs
            str(command),
            *_arguments(application),
        ],
        workdir=str(jdir),
        env=env,
        qos=str(params["qos"]) if params.get("qos") else None,
        nodes=nodes if env_props.get("scheduler") == "slurm" else None,
        output=str(jdir / "slurm-%j.out"),
        error=str(jdir / "slurm-%j.err"),
    )
    spec = apply_urgency(base, urgency)
    if not compss:
        return spec, None
    return spec, _enqueue_argv(spec, params, application)


def _default_python(env_props: dict[str, Any]) -> str:
    # Same host (local site or local Slurm): this interpreter has the bundled runtime.
    login = str(env_props.get("login_host") or "localhost")
    return sys.executable if login in ("localhost", "") else "python3"


def _enqueue_argv(spec: JobSpec, params: dict[str, Any], application: dict[str, Any]) -> list[str]:
    argv = [
        "enqueue_compss",
        f"--job_name={spec.name}",
        f"--num_nodes={params.get('num_nodes') or 1}",
    ]
    qos = params.get("qos")
    if qos:
        argv.append(f"--qos={qos}")
    if spec.partition:
        argv.append(f"--queue={spec.partition}")
    if spec.reservation:
        argv.append(f"--reservation={spec.reservation}")
    if spec.time_limit:
        argv.append(f"--exec_time={spec.time_limit}")
    if params.get("python_interpreter"):
        argv.append(f"--python_interpreter={params['python_interpreter']}")
    container = dict(application.get("container_opts") or {})
    for key in ("container_image", "container_compss_path", "container_opts"):
        if container.get(key):
            argv.append(f"--{key}={container[key]}")
    argv += _extra_compss_opts(str(params.get("extra_compss_opts") or ""))
    argv += [str(application["command"]), *_arguments(application)]
    return argv


# enqueue_compss options a template or a workflow input may add. Left out on purpose: those
# that run commands or scripts on the site (--prolog, --epilog...) and those the
# toolkit sets itself (job name, nodes, queue, qos, reservation, exec_time, container).
# Short forms: -d debug, -t tracing, -g graph, -m monitoring.
_EXTRA_COMPSS_OPTS = frozenset(
    {
        "--lang", "--log_level", "--summary", "--graph", "--tracing", "--monitoring",
        "--debug", "--worker_in_master_cpus", "--cpus_per_node", "--gpus_per_node",
        "--max_tasks_per_node", "--node_memory", "--network", "--scheduler",
        "--worker_working_dir", "--master_working_dir", "--base_log_dir", "--jvm_workers_opts",
        "--jvm_master_opts", "--constraints", "--project_name",
        "--agents", "--checkpoint", "--checkpoint_params", "--keep_workingdir",
        "--python_propagate_virtual_environment", "--storage_props", "--storage_home",
        "-d", "-t", "-g", "-m",
    }
)  # fmt: skip


def _extra_compss_opts(text: str) -> list[str]:
    """``extra_compss_opts`` split into options, each checked against the allow-list."""
    try:
        opts = shlex.split(text)
    except ValueError as exc:
        raise JobError(f"extra_compss_opts cannot be parsed ({exc})") from None
    for opt in opts:
        name = opt.split("=", 1)[0]
        if name not in _EXTRA_COMPSS_OPTS:
            shown = opt if len(opt) <= 40 else opt[:40] + "..."
            raise JobError(
                f"extra_compss_opts: {shown!r} is not an allowed enqueue_compss option "
                "(use --name=value; allowed: " + ", ".join(sorted(_EXTRA_COMPSS_OPTS)) + ")"
            )
    return opts


# -- scheduler -----------------------------------------------------------------------------------
def _scheduler(ctx: Any, inputs: dict[str, Any]) -> Scheduler:
    props = dict(ctx.environment)
    if inputs.get("user_id"):
        props["user"] = str(inputs["user_id"])  # upstream: submit as the triggering user
    req = (ctx.context.get("requirements") or {}).get("environment") or {}
    site = str(req.get("node") or "site") if isinstance(req, dict) else "site"
    return get_scheduler(
        props, workspace=ctx.context.get("workspace"), secret=ctx.secret, site_name=site
    )


def _has_compss(ctx: Any, sched: Scheduler) -> bool:
    env_props = ctx.environment
    if env_props.get("compss_available"):
        return True
    modules = tuple(str(m) for m in env_props.get("pycompss_modules") or [])
    if not modules or not isinstance(sched, SlurmCLI):
        return False
    key = (str(env_props.get("login_host") or "localhost"), modules)
    if key not in _COMPSS_PROBES:
        probe = _module_shell(modules, "command -v enqueue_compss")
        result = sched.runner.run(["bash", "-lc", probe], timeout=30)
        _COMPSS_PROBES[key] = result.returncode == 0 and bool(result.stdout.strip())
    return _COMPSS_PROBES[key]


def _module_shell(modules: tuple[str, ...], command: str) -> str:
    load = f"module load {shlex.join(modules)} >/dev/null 2>&1; " if modules else ""
    return load + command


# -- operations ----------------------------------------------------------------------------------
def submit(ctx: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    """Submit the application; returns ``{"TOSCA_JOB_ID": id}``. Raises JobError."""
    sched = _scheduler(ctx, inputs)
    compss = _has_compss(ctx, sched)
    spec, enqueue = build_job(ctx, inputs, compss)
    jdir = Path(spec.workdir or ".")
    if isinstance(sched, SlurmCLI) and not _is_local(sched):
        sched.runner.run(["mkdir", "-p", str(jdir)], timeout=30)  # on the login node
    else:
        jdir.mkdir(parents=True, exist_ok=True)
    if ctx.context.get("resumed"):
        found = _find_submitted(ctx, sched, spec, name_only=enqueue is not None)
        if found is not None:
            ctx.log(
                logging.WARNING,
                f"job {found} was already submitted by the interrupted attempt "
                f"(idempotency token {ctx.context.get('idempotency_token')}): not submitting again",
            )
            return {"TOSCA_JOB_ID": found}
    snapshot = _preemption_snapshot(sched, spec)
    try:
        job_id = sched.submit(spec) if enqueue is None else _enqueue(sched, ctx, spec, enqueue)
    except SchedulerError as exc:
        raise JobError(f"PyCOMPSsJob '{ctx.node}': submission failed: {exc.message}") from exc
    if snapshot is not None:
        (Path(ctx.workdir) / f"{ctx.node}.preempt.json").write_text(
            json.dumps({"job_id": job_id, "running": snapshot})
        )
    where = f"partition {spec.partition}" if spec.partition else "default partition"
    ctx.log(logging.INFO, f"submitted job {job_id} to {sched.name} ({where})")
    return {"TOSCA_JOB_ID": job_id}


def _find_submitted(ctx: Any, sched: Scheduler, spec: JobSpec, name_only: bool) -> str | None:
    """The job an interrupted attempt with the same token submitted, if any scheduler record
    knows it (one ``squeue``, then accounting / job completion). None: submit afresh."""
    if not ctx.context.get("idempotency_token"):
        ctx.log(
            logging.WARNING,
            "the interrupted attempt carried no idempotency token: a job it may have "
            "submitted is not detected",
        )
        return None
    # enqueue_compss sets the name, not the comment: match on the name alone there.
    comment = None if name_only else spec.comment
    try:
        found = sched.find_job(spec.name, comment)
    except SchedulerError as exc:
        raise JobError(
            f"PyCOMPSsJob '{ctx.node}': cannot check whether the interrupted submit created a "
            f"job ({exc.message}); refusing to risk a duplicate, retry later"
        ) from exc
    return str(found) if found is not None else None


def _is_local(sched: SlurmCLI) -> bool:
    return isinstance(sched.runner, LocalRunner)


def _preemption_snapshot(sched: Scheduler, spec: JobSpec) -> dict[str, int] | None:
    # Only for jobs sent to a preempting partition: costs one squeue (~20 ms).
    if spec.partition and spec.partition != "batch" and isinstance(sched, SlurmCLI):
        try:
            return sched.running_jobs()
        except SchedulerError as exc:
            logger.warning("cannot record running jobs before an urgent submit: %s", exc)
    return None


def _enqueue(sched: Scheduler, ctx: Any, spec: JobSpec, argv: list[str]) -> str:
    if not isinstance(sched, SlurmCLI):
        raise JobError(f"PyCOMPSsJob '{ctx.node}': enqueue_compss needs the Slurm CLI backend")
    modules = tuple(str(m) for m in ctx.environment.get("pycompss_modules") or [])
    exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in spec.env.items())
    script = f"cd {shlex.quote(spec.workdir or '.')} || exit 1\n{exports}" + _module_shell(
        modules, shlex.join(argv)
    )
    # The script goes on stdin, never in argv: the exported values would be visible in `ps`
    # (here and, over SSH, on the login node). A login shell only when modules must be
    # loaded (it resets PATH from the site profile).
    result = sched.runner.run(
        ["bash", "-l", "-s"] if modules else ["bash", "-s"], input=script, timeout=120
    )
    match = _SUBMITTED.search(result.stdout)
    if result.returncode != 0 or not match:
        raise SchedulerError(f"enqueue_compss failed: {output_tail(result)}")
    return match.group(1)


def run(ctx: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    """One status poll of ``TOSCA_JOB_ID``: ``{"TOSCA_JOB_STATUS": ..., ...}``."""
    job_id = inputs.get("TOSCA_JOB_ID")
    if not job_id:
        raise JobError(f"PyCOMPSsJob '{ctx.node}': run needs TOSCA_JOB_ID (from submit)")
    job_id = str(job_id)
    sched = _scheduler(ctx, inputs)
    try:
        info = sched.details([job_id])[job_id]
    except SchedulerError as exc:
        raise JobError(f"PyCOMPSsJob '{ctx.node}': status of job {job_id}: {exc.message}") from exc
    outputs: dict[str, Any] = {"TOSCA_JOB_STATUS": info.status.value}
    forwarded = False
    if info.status is not JobStatus.QUEUED:
        forwarded = _forward_output(ctx, sched, job_id, final=info.status.is_terminal)
    if info.exit_code is not None and info.status.is_terminal:
        outputs["TOSCA_JOB_EXIT_CODE"] = info.exit_code
    preempted = _report_preempted(ctx, sched, job_id, info.status)
    if preempted is not None:
        outputs["TOSCA_PREEMPTED_JOBS"] = preempted
    if info.status.is_terminal:
        outputs.update(_fetch_logs(ctx, sched, job_id, stdout_tail=not forwarded))
        ctx.log(
            logging.INFO if info.status.is_success else logging.ERROR,
            f"job {job_id} ended {info.status.value}"
            + (f" (exit code {info.exit_code})" if info.exit_code is not None else "")
            + (f", reason {info.reason}" if info.reason else ""),
        )
    return outputs


def _report_preempted(
    ctx: Any, sched: Scheduler, job_id: str, status: JobStatus
) -> list[str] | None:
    path = Path(ctx.workdir) / f"{ctx.node}.preempt.json"
    if status is JobStatus.QUEUED or not path.exists() or not isinstance(sched, SlurmCLI):
        return None
    data = json.loads(path.read_text())
    if data.get("job_id") != job_id:
        return None
    if "preempted" not in data:
        data["preempted"] = sched.preempted_since(
            {str(k): int(v) for k, v in data.get("running", {}).items()}
        )
        path.write_text(json.dumps(data))
        if data["preempted"]:
            ctx.log(
                logging.WARNING,
                f"job {job_id} preempted (requeued) jobs {', '.join(data['preempted'])}",
            )
    return list(data["preempted"])


def _stream_paths(ctx: Any, sched: Scheduler, job_id: str) -> dict[str, Path]:
    if isinstance(sched, LocalScheduler):
        return {
            "stdout": sched.job_dir(job_id) / "stdout",
            "stderr": sched.job_dir(job_id) / "stderr",
        }
    jdir = job_dir(ctx)
    return {"stdout": jdir / f"slurm-{job_id}.out", "stderr": jdir / f"slurm-{job_id}.err"}


# -- live output: the job's stdout and the task runtime's events, forwarded poll by poll ---------
def _forward_output(ctx: Any, sched: Scheduler, job_id: str, final: bool) -> bool:
    """Log the job's new stdout lines and task events since the last poll (one readable line
    each); True once the job's stdout has been forwarded. Offsets live in
    ``<workdir>/<node>.forward.json`` so a restarted orchestrator goes on where it stopped.
    Only complete lines are taken until the job ended (``final``)."""
    state_path = Path(ctx.workdir) / f"{ctx.node}.forward.json"
    try:
        offsets: dict[str, int] = json.loads(state_path.read_text())
    except (OSError, ValueError):
        offsets = {}
    stdout = _stream_paths(ctx, sched, job_id)["stdout"]
    sources = [("stdout", stdout), ("events", job_dir(ctx) / EVENTS_FILE)]
    changed = False
    for kind, path in sources:
        key = str(path)
        chunk, offset = _read_new(sched, path, offsets.get(key, 0), final)
        if offset == offsets.get(key, 0):
            continue
        offsets[key], changed = offset, True
        lines = [ln for ln in chunk.splitlines() if ln.strip()]
        for line in lines[:_FORWARD_MAX_LINES]:
            if kind == "stdout":
                ctx.log(logging.INFO, f"job {job_id} | {line}")
            else:
                level, text = format_task_event(line)
                ctx.log(level, text)
        if len(lines) > _FORWARD_MAX_LINES:
            ctx.log(
                logging.INFO,
                f"... {len(lines) - _FORWARD_MAX_LINES} more {kind} lines of job {job_id} "
                f"(all in {path})",
            )
    if changed:
        try:
            state_path.write_text(json.dumps(offsets))
        except OSError as exc:
            logger.warning("cannot record forwarded output offsets: %s", exc)
    return str(stdout) in offsets


def _read_new(sched: Scheduler, path: Path, offset: int, final: bool) -> tuple[str, int]:
    """Text of ``path`` from byte ``offset`` (whole lines unless ``final``), new offset."""
    data: bytes
    if isinstance(sched, SlurmCLI) and not _is_local(sched):
        result = sched.runner.run(["tail", "-c", f"+{offset + 1}", str(path)], timeout=30)
        if result.returncode != 0:
            return "", offset
        data = result.stdout.encode()[:_FORWARD_MAX_BYTES]
    else:
        try:
            with open(path, "rb") as fh:
                fh.seek(offset)
                data = fh.read(_FORWARD_MAX_BYTES)
        except OSError:
            return "", offset
    if not final:
        cut = data.rfind(b"\n")
        data = data[: cut + 1] if cut >= 0 else b""
    return data.decode(errors="replace"), offset + len(data)


def format_task_event(line: str) -> tuple[int, str]:
    """One task-runtime event (a JSON line of ``workflows.runtime.events``) as a log level
    and a readable line, e.g. ``task forecast.simulate#3 finished on node1 in 4.2 s``."""
    try:
        ev = json.loads(line)
    except ValueError:
        return logging.INFO, f"task event: {line}"
    if not isinstance(ev, dict):
        return logging.INFO, f"task event: {line}"
    name = f"task {ev.get('name', '?')}#{ev.get('task_id', '?')}"
    kind = str(ev.get("event", "?"))
    host = f" on {ev['host']}" if ev.get("host") else ""
    took = f" in {float(ev['duration']):.1f} s" if ev.get("duration") is not None else ""
    attempts = int(ev.get("attempts") or ev.get("attempt") or 1)
    tries = f" (attempt {attempts})" if attempts > 1 else ""
    error = f": {ev['error']}" if ev.get("error") else ""
    if kind == "finished":
        return logging.INFO, f"{name} finished{host}{took}{tries}"
    if kind == "failed":
        what = "timed out" if ev.get("timed_out") else "failed"
        return logging.WARNING, f"{name} {what}{host}{took}{tries}{error}"
    if kind == "started":
        return logging.INFO, f"{name} started{host}{tries}"
    if kind == "retried":
        return logging.INFO, f"{name} retried{tries}"
    if kind == "ignored":
        return logging.WARNING, f"{name} failed, ignored (on_failure IGNORE){tries}"
    if kind == "cancelled":
        reason = f": {ev['reason']}" if ev.get("reason") else ""
        return logging.WARNING, f"{name} cancelled{reason}"
    return logging.INFO, f"{name} {kind}{host}"


def _fetch_logs(
    ctx: Any, sched: Scheduler, job_id: str, stdout_tail: bool = True
) -> dict[str, Any]:
    """Copy the job's stdout / stderr (and task events) to ``<workdir>/logs/`` and log their
    tails (stdout's only when it was not forwarded live)."""
    sources = _stream_paths(ctx, sched, job_id)
    events = job_dir(ctx) / EVENTS_FILE
    logs = Path(ctx.workdir) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {}
    for stream, src in sources.items():
        text = _read(sched, src)
        if text is None:
            continue
        dest = logs / f"{ctx.node}.{job_id}.{stream}"
        dest.write_text(text)
        out[f"TOSCA_JOB_{stream.upper()}"] = str(dest)
        tail = "\n".join(text.splitlines()[-_LOG_TAIL_LINES:])
        if tail and (stream != "stdout" or stdout_tail):
            ctx.log(logging.INFO, f"job {job_id} {stream}:\n{tail}")
    text = _read(sched, events)
    if text:
        dest = logs / f"{ctx.node}.{job_id}.{EVENTS_FILE}"
        dest.write_text(text)
        out["TOSCA_JOB_EVENTS"] = str(dest)
    return out


def _read(sched: Scheduler, path: Path) -> str | None:
    if isinstance(sched, SlurmCLI) and not _is_local(sched):
        result = sched.runner.run(["cat", str(path)], timeout=60)
        return result.stdout if result.returncode == 0 else None
    try:
        return path.read_text(errors="replace")
    except OSError:
        return None


def cancel(ctx: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    """Cancel ``TOSCA_JOB_ID`` (nothing to do without one); returns the last status."""
    job_id = inputs.get("TOSCA_JOB_ID")
    if not job_id:
        return {}
    sched = _scheduler(ctx, inputs)
    try:
        sched.cancel(str(job_id))
    except SchedulerError as exc:
        raise JobError(f"PyCOMPSsJob '{ctx.node}': cancel of job {job_id}: {exc.message}") from exc
    ctx.log(logging.INFO, f"cancelled job {job_id}")
    return {"TOSCA_JOB_STATUS": JobStatus.CANCELLED.value}
