"""What the admin plane's handlers share, wired once by :func:`firehouse.admin.admin_routes`."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from firehouse.admin.auth import AdminAuth
from firehouse.cors.live import LivePolicy
from firehouse.cors.store import Saved
from firehouse.storage.base import Storage


@dataclass(frozen=True)
class AdminContext:
    auth: AdminAuth
    storage: Storage
    # None when the app was given a policy that does not follow the store.
    live: LivePolicy | None
    # The public origin from --base-url: forms posted through a proxy come from there.
    public_origins: tuple[str, ...] = ()

    def applied(self, saved: Saved) -> None:
        """Let this process apply its own write at once; the others poll for it."""
        if saved.changed and self.live is not None:
            self.live.applied(saved.stored)


def public_origins(base_url: str) -> tuple[str, ...]:
    if not base_url:
        return ()
    parts = urlsplit(base_url)
    return (f"{parts.scheme}://{parts.netloc}".lower(),)
