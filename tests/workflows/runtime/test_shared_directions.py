"""CONCURRENT and COMMUTATIVE directions with PyCOMPSs' semantics: accesses of one run do
not wait for each other (only for what came before), the next other access waits for all of
them, and COMMUTATIVE ones run one at a time in whatever order they become ready."""

from __future__ import annotations

import time
from pathlib import Path

from workflows.runtime import (
    COMMUTATIVE,
    FILE_COMMUTATIVE,
    FILE_CONCURRENT,
    FILE_IN,
    FILE_OUT,
    compss_delete_file,
    compss_wait_on,
    compss_wait_on_file,
    task,
)


def _append_span(path: str, label: str, seconds: float) -> None:
    start = time.time()
    time.sleep(seconds)
    with open(path, "a") as fh:
        fh.write(f"{label} {start:.6f} {time.time():.6f}\n")


@task(log=FILE_CONCURRENT)
def add_concurrently(log, label, seconds):
    _append_span(log, label, seconds)


@task(log=FILE_COMMUTATIVE)
def add_commutatively(log, label, seconds, after=None):
    _append_span(log, label, seconds)


@task(log=FILE_IN, returns=1)
def read_spans(log):
    start = time.time()
    return start, Path(log).read_text()


@task(returns=1)
def slow_value(seconds):
    time.sleep(seconds)
    return seconds


@task(counter=COMMUTATIVE)
def bump(counter, label):
    counter.append(label)
    time.sleep(0.2)


def _spans(text: str) -> dict[str, tuple[float, float]]:
    out = {}
    for line in text.splitlines():
        label, start, end = line.split()
        out[label] = (float(start), float(end))
    return out


def test_concurrent_writers_overlap_and_the_next_reader_waits_for_all(runtime, tmp_path):
    log = str(tmp_path / "log.txt")
    add_concurrently(log, "a", 1.0)
    add_concurrently(log, "b", 1.0)  # INOUT would make it wait for "a"
    read_at, text = compss_wait_on(read_spans(log))
    spans = _spans(text)
    assert set(spans) == {"a", "b"}
    (a0, a1), (b0, b1) = spans["a"], spans["b"]
    assert b0 < a1 and a0 < b1, spans  # they ran at the same time
    assert read_at >= max(a1, b1) - 0.01  # the reader came after both


def test_commutative_writers_never_overlap_and_need_not_keep_submission_order(runtime, tmp_path):
    log = str(tmp_path / "log.txt")
    late = slow_value(1.5)
    add_commutatively(log, "first", 0.3, after=late)  # must wait for its slow input
    add_commutatively(log, "second", 0.3)  # free to go: it does not wait for "first"
    add_commutatively(log, "third", 0.3)
    compss_wait_on_file(log)
    spans = _spans(Path(log).read_text())
    assert set(spans) == {"first", "second", "third"}
    ordered = sorted(spans.values())
    for (_, end), (start, _) in zip(ordered, ordered[1:], strict=False):
        assert start >= end - 0.01, spans  # one at a time
    assert spans["second"][0] < spans["first"][0], spans  # not in submission order


def test_commutative_updates_of_an_object_all_land(runtime):
    counter: list[str] = []
    for label in ("x", "y", "z"):
        bump(counter, label)
    result = compss_wait_on(counter)
    assert sorted(result) == ["x", "y", "z"]


@task(out=FILE_OUT)
def slow_write(out, seconds):
    time.sleep(seconds)
    Path(out).write_text("data")


@task(src=FILE_IN, returns=1)
def slow_read(src, seconds):
    text = Path(src).read_text()
    time.sleep(seconds)
    return text


def test_compss_delete_file_waits_for_the_file_s_users_then_removes_it(runtime, tmp_path):
    path = str(tmp_path / "scratch.bin")
    slow_write(path, 0.4)
    seen = slow_read(path, 0.4)
    assert compss_delete_file(path) is True  # after the writer and the reader
    assert not Path(path).exists()
    assert compss_wait_on(seen) == "data"
    assert compss_delete_file(path) is False  # nothing left to remove
