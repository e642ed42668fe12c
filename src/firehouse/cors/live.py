"""The policy every process applies: an immutable snapshot, refreshed from the store.

``shared/spec/cors.md``, "Changing the policy at run time": every server
process applies a change within one second, without a restart. The request
path never touches the database: :meth:`LivePolicy.get` returns the current
snapshot, and a background thread asks the store for the policy's version (one
indexed read) every :data:`POLL_INTERVAL` seconds, reloading only when it
differs. A process that cannot read the store keeps its last good policy and
says so in the log; it never falls back to "allow all".

A thread rather than an asyncio task: it keeps its pace when the event loop is
busy serving requests, and the blocking database read never stalls the loop.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

from firehouse.cors.policy import CorsPolicy, warnings
from firehouse.cors.store import NEVER_STORED, STATE_NAME, StoredPolicy, UnreadablePolicy, load
from firehouse.storage.base import Storage

log = logging.getLogger("firehouse.cors")

POLL_INTERVAL = 0.25
# While the store stays unreadable, repeat the error this often, not every poll.
_REPEAT_FAILURE_LOG = 60.0
_NOTHING_LOADED = StoredPolicy(NEVER_STORED.policy, -1)


class PolicySource(Protocol):
    """What the app needs from the CORS policy's source (``create_app`` wires one)."""

    def get(self) -> CorsPolicy: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...


class FixedPolicy:
    """A policy that never changes (embedding, tests, and the benchmark's baseline)."""

    def __init__(self, policy: CorsPolicy) -> None:
        self._policy = policy

    def get(self) -> CorsPolicy:
        return self._policy

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


class LivePolicy:
    """The stored policy as this process applies it."""

    def __init__(self, storage: Storage, *, interval: float = POLL_INTERVAL) -> None:
        self._storage = storage
        self._interval = interval
        # Read without a lock on the request path: rebinding one attribute is
        # atomic, and the snapshot it names is immutable.
        self._current = _NOTHING_LOADED
        self._swap_lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing_since: float | None = None
        self._failure_logged_at = 0.0
        self._bad_version_logged: int | None = None
        self.refresh()

    def get(self) -> CorsPolicy:
        """The policy to apply to this request: no I/O, no lock."""
        return self._current.policy

    @property
    def current(self) -> StoredPolicy:
        """The applied policy with its version (-1 while nothing could be read yet)."""
        return self._current

    def refresh(self) -> bool:
        """Reload when the stored version differs from the applied one; True if swapped."""
        try:
            version = self._storage.state_version(STATE_NAME) or 0
            if version == self._current.version:
                self._recovered()
                return False
            stored = load(self._storage)
        except UnreadablePolicy as exc:
            self._recovered()
            if self._bad_version_logged != exc.version:
                self._bad_version_logged = exc.version
                log.error("%s; keeping %s", exc, self._describe_current())
            return False
        except Exception:
            self._failed()
            return False
        self._recovered()
        return self._swap(stored, only_newer=False)

    def applied(self, stored: StoredPolicy) -> None:
        """Apply a policy this process has just written, without waiting for the poll."""
        self._swap(stored, only_newer=True)

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="cors-policy-refresh", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while not self._stopping.wait(self._interval):
            self.refresh()

    def _swap(self, stored: StoredPolicy, *, only_newer: bool) -> bool:
        with self._swap_lock:
            previous = self._current
            if stored.version == previous.version or (
                only_newer and stored.version < previous.version
            ):
                return False
            # A version lower than the applied one is taken when it comes from
            # the store: the database was restored from a backup.
            self._current = stored
        if previous is _NOTHING_LOADED:
            log.debug("CORS policy version %d applied", stored.version)
        else:
            log.info(
                "CORS policy version %d applied (was version %d)", stored.version, previous.version
            )
        for warning in warnings(stored.policy):
            log.warning("CORS policy version %d: %s", stored.version, warning)
        return True

    def _failed(self) -> None:
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = now
        elif now - self._failure_logged_at < _REPEAT_FAILURE_LOG:
            return
        self._failure_logged_at = now
        log.error(
            "cannot read the stored CORS policy; keeping %s",
            self._describe_current(),
            exc_info=True,
        )

    def _recovered(self) -> None:
        if self._failing_since is not None:
            log.info(
                "the stored CORS policy is readable again after %.1f s",
                time.monotonic() - self._failing_since,
            )
            self._failing_since = None

    def _describe_current(self) -> str:
        if self._current is _NOTHING_LOADED:
            return "CORS off (no policy could be read yet)"
        return f"the last good policy, version {self._current.version}"
