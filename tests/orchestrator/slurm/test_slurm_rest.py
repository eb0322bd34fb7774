"""slurmrestd backend: against an httpx.MockTransport fake, and against the real slurmrestd."""

from __future__ import annotations

import json
import subprocess
import time

import httpx
import pytest

from orchestrator.errors import SchedulerError, UsageError
from orchestrator.jobs import JobStatus
from orchestrator.slurm import JobSpec, get_scheduler
from orchestrator.slurm.rest import SlurmRest

RESTD_URL = "http://127.0.0.1:6820"


class FakeRestd:
    """A tiny slurmrestd v0.0.38: submit, list, cancel; checks the JWT headers."""

    def __init__(self) -> None:
        self.jobs: dict[int, dict[str, object]] = {}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.headers.get("X-SLURM-USER-TOKEN") != "jwt-secret":
            return httpx.Response(401, json={"errors": [{"error": "auth"}]})
        path = request.url.path.removeprefix("/slurm/v0.0.38")
        if request.method == "POST" and path == "/job/submit":
            body = json.loads(request.content)
            if body["job"].get("partition") == "nope":
                return httpx.Response(
                    500, json={"errors": [{"description": "Invalid partition name specified"}]}
                )
            job_id = 100 + len(self.jobs)
            self.jobs[job_id] = {"job_id": job_id, "job_state": "PENDING", "body": body}
            return httpx.Response(200, json={"job_id": job_id, "errors": []})
        if request.method == "GET" and path == "/jobs":
            return httpx.Response(200, json={"jobs": list(self.jobs.values()), "errors": []})
        if request.method == "DELETE" and path.startswith("/job/"):
            self.jobs[int(path.rsplit("/", 1)[1])]["job_state"] = "CANCELLED"
            return httpx.Response(200, json={"errors": []})
        return httpx.Response(404, json={"errors": [{"error": "no route"}]})


def test_rest_backend_against_a_fake_restd() -> None:
    fake = FakeRestd()
    rest = SlurmRest(RESTD_URL, "alice", "jwt-secret", transport=httpx.MockTransport(fake))
    spec = JobSpec(name="n", script="echo hi", env={"K": "v w"}, partition="urgent", nice=0)
    job_id = rest.submit(spec)
    body = fake.jobs[int(job_id)]["body"]
    assert isinstance(body, dict)
    assert body["job"]["partition"] == "urgent" and body["job"]["nice"] == 0
    assert "export K='v w'" in body["script"]
    ids = [rest.submit(spec) for _ in range(5)]
    n_before = len(fake.requests)
    statuses = rest.status([job_id, *ids, "999"])
    assert len(fake.requests) == n_before + 1  # one GET /jobs for every id
    assert statuses[job_id] is JobStatus.QUEUED and statuses["999"] is JobStatus.LOST
    rest.cancel(job_id)
    assert rest.status([job_id])[job_id] is JobStatus.CANCELLED
    with pytest.raises(SchedulerError, match="Invalid partition"):
        rest.submit(JobSpec(script="true", partition="nope"))


def test_bad_token_is_a_clear_error_without_the_token() -> None:
    rest = SlurmRest(RESTD_URL, "alice", "wrong", transport=httpx.MockTransport(FakeRestd()))
    with pytest.raises(SchedulerError, match="refused the token") as err:
        rest.submit(JobSpec(script="true"))
    assert "wrong" not in str(err.value)


def test_unreachable_restd_is_a_scheduler_error() -> None:
    rest = SlurmRest("http://127.0.0.1:9", "alice", "t", timeout=1.0)
    with pytest.raises(SchedulerError, match="unreachable"):
        rest.status(["1"])


def test_get_scheduler_restd_needs_url_token_and_user() -> None:
    with pytest.raises(UsageError, match="slurmrestd_url"):
        get_scheduler({"scheduler": "slurm", "slurm_backend": "restd"})
    secrets = {"sites/hpc/jwt": "tok"}
    s = get_scheduler(
        {"scheduler": "slurm", "slurm_backend": "restd", "slurmrestd_url": RESTD_URL,
         "slurmrestd_token": "sites/hpc/jwt", "user": "bob"},
        secret=secrets.__getitem__,
    )  # fmt: skip
    assert isinstance(s, SlurmRest)


@pytest.mark.integration
@pytest.mark.slurm
def test_rest_backend_against_the_real_slurmrestd(slurm_jobs, tmp_path) -> None:  # type: ignore[no-untyped-def]
    token = subprocess.run(
        ["scontrol", "token", "username=root", "lifespan=300"],
        capture_output=True, text=True, check=True, timeout=10,
    ).stdout.strip().split("=", 1)[1]  # fmt: skip
    rest = SlurmRest(RESTD_URL, "root", token)
    try:
        info = rest.cluster_info()
    except SchedulerError as exc:
        pytest.fail(f"slurmrestd is not answering on {RESTD_URL}: run scripts/slurm-up.sh ({exc})")
    assert {p.name for p in info.partitions} >= {"batch", "urgent"}
    assert info.version.startswith("22.") or info.version
    quick = slurm_jobs.add(rest.submit(JobSpec(name="r1", script="exit 0", workdir=str(tmp_path))))
    slow = slurm_jobs.add(rest.submit(JobSpec(name="r2", script="sleep 30", workdir=str(tmp_path))))
    end = time.monotonic() + 20
    while time.monotonic() < end:
        st = rest.status([quick, slow])
        if st[quick] is JobStatus.COMPLETED and st[slow] is JobStatus.RUNNING:
            break
        time.sleep(0.2)
    assert st == {quick: JobStatus.COMPLETED, slow: JobStatus.RUNNING}
    rest.cancel(slow)
    end = time.monotonic() + 10
    while rest.status([slow])[slow] is not JobStatus.CANCELLED and time.monotonic() < end:
        time.sleep(0.2)
    assert rest.status([slow])[slow] is JobStatus.CANCELLED
    rest.cancel(slow)  # idempotent
