"""The live policy of one process (shared/spec/cors.md, "Changing the policy at run time").

Two storage objects on one SQLite file stand for two processes: one writes,
the other's :class:`LivePolicy` must apply the change on its next poll, and
keep its last good policy when the store cannot be read.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from firehouse.cors.live import LivePolicy
from firehouse.cors.policy import CORS_OFF
from firehouse.cors.store import STATE_NAME, load, merge, replace
from firehouse.storage import open_storage
from firehouse.storage.base import Storage

A, B = "https://a.example", "https://b.example"


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "live.db"


@pytest.fixture
def writer(path: Path) -> Iterator[Storage]:
    store = open_storage(f"sqlite:///{path}")
    store.migrate()
    yield store
    store.close()


@pytest.fixture
def reader(path: Path, writer: Storage) -> Iterator[Storage]:
    store = open_storage(f"sqlite:///{path}")
    yield store
    store.close()


def wait_for(condition: object, timeout: float = 2.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if callable(condition) and condition():
            return time.monotonic() - started
        time.sleep(0.005)
    raise AssertionError("condition not met in time")


def test_it_starts_with_the_stored_policy(writer: Storage, reader: Storage) -> None:
    replace(writer, {"origins": [A]}, expected_version=0, actor="a")
    live = LivePolicy(reader)
    assert live.get().origins == (A,) and live.current.version == 1


def test_nothing_stored_means_cors_off(reader: Storage) -> None:
    live = LivePolicy(reader)
    assert live.get() == CORS_OFF and live.current.version == 0


def test_a_refresh_applies_a_change_written_elsewhere_and_only_then_swaps(
    writer: Storage, reader: Storage
) -> None:
    live = LivePolicy(reader)
    before = live.get()
    assert live.refresh() is False and live.get() is before  # same version: same snapshot
    replace(writer, {"origins": [A]}, expected_version=0, actor="a")
    assert live.refresh() is True
    assert live.get().origins == (A,)


def test_the_refresher_thread_applies_a_change_within_its_interval(
    writer: Storage, reader: Storage
) -> None:
    live = LivePolicy(reader, interval=0.05)
    live.start()
    try:
        for version in range(1, 6):
            origin = f"https://n{version}.example"
            replace(writer, {"origins": [origin]}, expected_version=version - 1, actor="a")
            took = wait_for(lambda origin=origin: live.get().origins == (origin,))
            assert took < 0.5
    finally:
        live.stop()


def test_the_default_interval_applies_a_change_well_within_a_second(
    writer: Storage, reader: Storage
) -> None:
    live = LivePolicy(reader)
    live.start()
    try:
        replace(writer, {"origins": [A]}, expected_version=0, actor="a")
        assert wait_for(lambda: live.get().origins == (A,), timeout=1.0) < 1.0
    finally:
        live.stop()


def test_stop_ends_the_thread(reader: Storage) -> None:
    live = LivePolicy(reader, interval=0.01)
    live.start()
    live.stop()
    assert not any(t.name == "cors-policy-refresh" for t in threading.enumerate())


def test_its_own_write_is_applied_at_once_but_never_an_older_one(
    writer: Storage, reader: Storage
) -> None:
    live = LivePolicy(reader)
    first = replace(writer, {"origins": [A]}, expected_version=0, actor="a")
    second = merge(writer, {"origins": [B]}, expected_version=1, actor="a")
    live.applied(second.stored)
    assert live.get().origins == (B,)
    live.applied(first.stored)
    assert live.get().origins == (B,)


def test_an_unreadable_stored_value_keeps_the_last_good_policy_and_logs_once(
    writer: Storage, reader: Storage, caplog: pytest.LogCaptureFixture
) -> None:
    replace(writer, {"origins": [A]}, expected_version=0, actor="a")
    live = LivePolicy(reader)
    writer.write_state(STATE_NAME, "{not json", expected_version=1, actor="hand")
    with caplog.at_level(logging.ERROR, "firehouse.cors"):
        assert live.refresh() is False
        assert live.refresh() is False
    assert live.get().origins == (A,)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "version 2 is unreadable" in errors[0].getMessage()
    assert "keeping the last good policy, version 1" in errors[0].getMessage()
    # A good version after the bad one is applied.
    replace(writer, {"origins": [B]}, expected_version=2, actor="a")
    assert live.refresh() is True and live.get().origins == (B,)


def test_a_database_that_cannot_be_read_keeps_the_last_good_policy(
    path: Path, writer: Storage, reader: Storage, caplog: pytest.LogCaptureFixture
) -> None:
    replace(writer, {"origins": ["*"]}, expected_version=0, actor="a")
    live = LivePolicy(reader)
    with sqlite3.connect(path) as raw:
        raw.execute("ALTER TABLE server_state RENAME TO server_state_gone")
    with caplog.at_level(logging.INFO, "firehouse.cors"):
        assert live.refresh() is False
        assert live.get().origins == ("*",)  # the last good policy, not something else
        with sqlite3.connect(path) as raw:
            raw.execute("ALTER TABLE server_state_gone RENAME TO server_state")
        live.refresh()
    assert "cannot read the stored CORS policy; keeping the last good policy, version 1" in (
        caplog.text
    )
    assert "readable again" in caplog.text


def test_a_process_that_can_read_nothing_at_start_keeps_cors_off(
    path: Path, writer: Storage, reader: Storage
) -> None:
    replace(writer, {"origins": ["*"], "methods": ["*"]}, expected_version=0, actor="a")
    with sqlite3.connect(path) as raw:
        raw.execute("ALTER TABLE server_state RENAME TO server_state_gone")
    live = LivePolicy(reader)
    # Never "allow all": with nothing read, CORS stays off.
    assert live.get() == CORS_OFF and not live.get().enabled
    with sqlite3.connect(path) as raw:
        raw.execute("ALTER TABLE server_state_gone RENAME TO server_state")
    assert live.refresh() is True and live.get().any_origin


def test_a_restored_older_database_is_followed(writer: Storage, reader: Storage) -> None:
    replace(writer, {"origins": [A]}, expected_version=0, actor="a")
    merge(writer, {"origins": [B]}, expected_version=1, actor="a")
    live = LivePolicy(reader)
    assert live.current.version == 2
    # What a restore from a backup looks like to the poll: a lower version.
    live._current = type(live.current)(live.current.policy, 7)  # pretend we had seen v7
    assert live.refresh() is True and live.current.version == 2
    assert load(writer).policy.origins == (B,)


def test_a_star_policy_is_logged_as_a_security_risk(
    writer: Storage, reader: Storage, caplog: pytest.LogCaptureFixture
) -> None:
    live = LivePolicy(reader)
    replace(writer, {"origins": ["*"]}, expected_version=0, actor="a")
    with caplog.at_level(logging.WARNING, "firehouse.cors"):
        live.refresh()
    assert "CORS policy version 1: security risk: origins is *" in caplog.text
