"""Each source against real feeds served by a separate process on loopback: the USGS feed
(ETag -> 304, 5xx, truncated bodies, slow answers, a connection dropped), the EMSC stream
over server-sent events (Last-Event-ID resume, malformed messages) and WebSocket, and a
watched directory. Every message a source reads is stored before it moves on."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from orchestrator.events.sources import Backoff, DirectoryWatch, EmscStream, UsgsFeed, parse_source
from orchestrator.state.store import Store
from tests.support.feeds import Report, emsc_message, quakeml, running_feeds, usgs_feature

NOW = time.time()


class Sink:
    """What a listener's deliver does, over a real store: messages, deliveries, cursors."""

    def __init__(self, tmp_path: Path) -> None:
        self.store = Store(tmp_path / "ws")
        self.lines: list[str] = []

    def deliver(self, source: str, payload: str, *, delivery=None, cursor=None):
        return self.store.receive_alert(source, payload, delivery=delivery, cursor=cursor)

    def payloads(self) -> list[str]:
        return [m.payload for m in self.store.alert_messages()]


def until(check: Callable[[], bool], timeout: float = 15.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.05)
    return check()


def test_usgs_feed_new_features_once_304_and_every_failure_logged(tmp_path: Path) -> None:
    sink = Sink(tmp_path)
    with running_feeds() as feeds, httpx.Client(timeout=1.0) as client:
        feed = UsgsFeed(feeds.usgs_url, poll=0.1, timeout=1.0, log=sink.lines.append,
                        cursor=sink.store.cursor, save_cursor=sink.store.save_cursor)  # fmt: skip
        a = Report("us1", NOW - 60, 38.2, 15.6, 10, 7.0)
        feeds.publish_usgs(usgs_feature(a))
        assert feed.poll_once(client, sink.deliver) is None
        assert feed.poll_once(client, sink.deliver) is None  # same ETag: a 304
        assert feeds.stats().get("usgs-304") == 1
        assert len(sink.payloads()) == 1
        # The feature is updated in the feed: a new message; the unchanged one is not again.
        feeds.publish_usgs(usgs_feature(Report("us1", NOW - 60, 38.2, 15.6, 10, 7.2,
                                               updated=NOW)))  # fmt: skip
        feeds.publish_usgs(usgs_feature(Report("us2", NOW - 30, 10.0, 120.0, 10, 6.0)))
        assert feed.poll_once(client, sink.deliver) is None
        assert len(sink.payloads()) == 3
        for mode, expect in (
            ("503", "HTTP 503"),
            ("truncate", "truncated or malformed"),
            ("drop", "RemoteProtocolError"),
            ("slow", "ReadTimeout"),
        ):
            feeds.fault(mode, count=1, delay=2.0)
            feeds.publish_usgs(usgs_feature(Report(f"x-{mode}", NOW, 1, 1, 1, 6.1)))
            error = feed.poll_once(client, sink.deliver)
            assert error is not None and expect in error, (mode, error)
        assert feed.poll_once(client, sink.deliver) is None  # the feed is back: catches up
        assert len(sink.payloads()) == 7  # 3 + the 4 published while it failed
    sink.store.close()


def test_usgs_run_backs_off_and_resumes_from_its_cursor(tmp_path: Path) -> None:
    sink = Sink(tmp_path)
    with running_feeds() as feeds:
        feeds.publish_usgs(usgs_feature(Report("us1", NOW - 60, 38.2, 15.6, 10, 7.0)))
        feeds.fault("503", count=3)
        stop = threading.Event()
        feed = UsgsFeed(feeds.usgs_url, poll=0.2, log=sink.lines.append,
                        cursor=sink.store.cursor, save_cursor=sink.store.save_cursor,
                        backoff=Backoff(base=0.05, cap=0.2))  # fmt: skip
        thread = threading.Thread(target=feed.run, args=(sink.deliver, stop))
        thread.start()
        try:
            assert until(lambda: len(sink.payloads()) == 1)
            assert until(lambda: any("back after 3 failed polls" in x for x in sink.lines))
        finally:
            stop.set()
            thread.join(5)
        failures = [x for x in sink.lines if "HTTP 503" in x]
        assert len(failures) == 3 and all("retrying in" in x for x in failures)
        assert json.loads(sink.store.cursor(feed.name) or "{}")["etag"]
        # A new listener on the same workspace asks with the saved ETag: 304, nothing new.
        before = feeds.stats().get("usgs-304", 0)
        with httpx.Client() as client:
            again = UsgsFeed(feeds.usgs_url, cursor=sink.store.cursor)
            assert again.poll_once(client, sink.deliver) is None
        assert feeds.stats().get("usgs-304", 0) == before + 1
    sink.store.close()


def test_sse_stream_resumes_after_the_last_stored_id(tmp_path: Path) -> None:
    sink = Sink(tmp_path)
    with running_feeds() as feeds:
        for i in range(3):
            feeds.publish_emsc(emsc_message(Report(f"e{i}", NOW - 60, 38, 15, 10, 6.5 + i / 10)))
        feeds.publish_emsc("{this is not json")  # malformed: stored, rejected downstream
        stop = threading.Event()
        stream = EmscStream(feeds.sse_url, log=sink.lines.append, cursor=sink.store.cursor,
                            backoff=Backoff(base=0.05, cap=0.2))  # fmt: skip
        thread = threading.Thread(target=stream.run, args=(sink.deliver, stop))
        thread.start()
        assert until(lambda: len(sink.payloads()) == 4)
        assert sink.store.cursor(stream.name) == "4"
        # The stream drops; two messages are published meanwhile; it reconnects with
        # Last-Event-ID 4 and gets exactly those two.
        feeds.fault("drop")
        time.sleep(1.5)
        feeds.fault("none")
        feeds.publish_emsc(emsc_message(Report("e1", NOW - 60, 38, 15, 10, 6.9, updated=NOW)))
        feeds.publish_emsc(emsc_message(Report("e9", NOW - 10, 40, 20, 10, 7.1)))
        assert until(lambda: len(sink.payloads()) == 6)
        stop.set()
        stream.close()
        thread.join(5)
        assert "{this is not json" in sink.payloads()
        assert sink.store.cursor(stream.name) == "6"
        assert feeds.stats()["emsc-connect"] >= 2
    sink.store.close()


def test_websocket_stream(tmp_path: Path) -> None:
    sink = Sink(tmp_path)
    with running_feeds(ws=True) as feeds:
        stop = threading.Event()
        stream = parse_source(f"emsc:{feeds.ws_url}", log=sink.lines.append)
        thread = threading.Thread(target=stream.run, args=(sink.deliver, stop))
        thread.start()
        assert until(lambda: feeds.stats().get("ws-connect", 0) >= 1)
        message = emsc_message(Report("w1", NOW - 30, 38, 15, 10, 7.0))
        feeds.publish_emsc(message)
        feeds.publish_emsc(message)  # sent twice by the feed: one delivery
        feeds.publish_emsc(emsc_message(Report("w1", NOW - 30, 38, 15, 10, 7.0), "update"))
        assert until(lambda: len(sink.payloads()) == 2)
        time.sleep(0.3)
        stop.set()
        stream.close()  # type: ignore[attr-defined]
        thread.join(5)
        assert len(sink.payloads()) == 2
        assert [json.loads(p)["action"] for p in sink.payloads()] == ["create", "update"]


def test_directory_each_file_content_once_and_partial_files_skipped(tmp_path: Path) -> None:
    sink = Sink(tmp_path)
    inbox = tmp_path / "inbox"
    watch = DirectoryWatch(inbox, settle=0.0, log=sink.lines.append)
    assert watch.scan(sink.deliver) == 0 and "cannot read the directory" in sink.lines[0]
    inbox.mkdir()
    (inbox / "a.xml").write_text(quakeml(Report("q1", NOW - 60, 38, 15, 10, 7.0, "INGV")))
    (inbox / "b.json").write_text(json.dumps({"type": "FeatureCollection", "features": [
        usgs_feature(Report("u1", NOW - 60, 38, 15, 10, 7.0)),
        usgs_feature(Report("u2", NOW - 50, 10, 100, 10, 6.0))]}))  # fmt: skip
    (inbox / ".c.json.tmp").write_text("{half")
    (inbox / "notes.txt").write_text("ignored")
    assert watch.scan(sink.deliver) == 3
    assert watch.scan(sink.deliver) == 0
    # A new watcher (a restarted listener) reads nothing again; a changed file once more.
    again = DirectoryWatch(inbox, settle=0.0)
    assert again.scan(sink.deliver) == 3 and len(sink.payloads()) == 3  # known deliveries
    (inbox / "a.xml").write_text(quakeml(Report("q1", NOW - 60, 38, 15, 10, 7.3, "INGV")))
    assert again.scan(sink.deliver) == 1 and len(sink.payloads()) == 4
    sink.store.close()
