"""Fixtures of the executor tests: the mock DLS / image-creation server (a real process)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "support"))

from mock_services import MockServices, start_mock_services  # noqa: E402


@pytest.fixture(scope="session")
def mock_server() -> Iterator[MockServices]:
    yield from start_mock_services()


@pytest.fixture()
def services(mock_server: MockServices) -> MockServices:
    """The server, reset to its default behaviour."""
    mock_server.configure()
    return mock_server
