"""@http tasks against a real HTTP server started in a separate process on 127.0.0.1."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from rt_helpers import read_events

from workflows.runtime import (
    RuntimeConfig,
    TaskFailedError,
    compss_wait_on,
    http,
    on_failure,
    start_runtime,
    stop_runtime,
    task,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def service_url():
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("http_service.py"))],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        port = int(proc.stdout.readline())
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture
def http_runtime(service_url, tmp_path):
    cfg = RuntimeConfig(
        cpus=2,
        retries=2,
        events_path=str(tmp_path / "ev.jsonl"),
        http_services={"svc": {"base_url": service_url, "timeout": 2}},
    )
    rt = start_runtime(cfg)
    yield rt
    stop_runtime(wait=False)


@http(
    service_name="svc",
    request="GET",
    resource="events/{{event_id}}",
    produces='{"event": {"magnitude": "{{return_0}}", "id": "{{return_1}}"}}',
)
@task(returns=2)
def get_event(event_id):
    pass


@http(
    service_name="svc",
    request="POST",
    resource="echo",
    payload='{"id": "{{event_id}}", "mag": {{mag}}}',
    payload_type="application/json",
)
@task(returns=1)
def post_event(event_id, mag):
    pass


@http(service_name="svc", resource="error")
@task(returns=1, on_failure="FAIL")
def server_error():
    pass


@http(service_name="svc", resource="notjson", produces='{"x": "{{return_0}}"}')
@task(returns=1, on_failure="FAIL")
def not_json():
    pass


@http(service_name="svc", resource="flaky/{{key}}", produces='{"calls": "{{return_0}}"}')
@task(returns=1)
def flaky(key):
    pass


@on_failure(management="IGNORE", returns="gave up")
@http(service_name="svc", resource="slow")
@task(returns=1, time_out=0.5)
def slow():
    pass


@task(returns=1)
def double(x):
    return 2 * x


def test_get_with_templated_resource_and_produces(http_runtime):
    magnitude, event_id = get_event("us7000abcd")
    assert compss_wait_on(double(magnitude)) == 14.2
    assert compss_wait_on(event_id) == "us7000abcd"


def test_post_payload_templating(http_runtime):
    answer = compss_wait_on(post_event("ev 1", 6.5))
    assert answer == {"received": {"id": "ev 1", "mag": 6.5}, "type": "application/json"}


def test_non_2xx_is_a_failure_with_the_response(http_runtime):
    r = server_error()
    with pytest.raises(TaskFailedError, match="answered 500.*internal trouble"):
        compss_wait_on(r)


def test_invalid_json_is_a_failure(http_runtime):
    with pytest.raises(TaskFailedError, match="invalid JSON.*this is not json"):
        compss_wait_on(not_json())


def test_retry_under_retry_policy(http_runtime, tmp_path):
    assert compss_wait_on(flaky("k1")) == 2  # 503 first, then 200
    events = [e["event"] for e in read_events(tmp_path / "ev.jsonl")]
    assert events.count("retried") == 1


def test_http_time_out(http_runtime):
    assert compss_wait_on(slow()) == "gave up"
