"""Process exit and ``os.fork()``.

At exit every live client is shut down within its deadline (``atexit``; in a
``multiprocessing`` child, which leaves through ``os._exit``, a ``multiprocessing``
finalizer does it). After ``os.fork()`` the child has a copy of each client whose
background thread did not survive the fork: the copy is abandoned (leaked, never
waited for) and a new client with the same settings takes its place.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time
import weakref
from typing import List

from ._protocols import ExitParticipant

_clients: "weakref.WeakSet[ExitParticipant]" = weakref.WeakSet()
_pending: List[threading.Thread] = []
_exited = False
_mp_hooked = False


def register(client: ExitParticipant) -> None:
    """Keeps track of a client, for exit and fork."""
    _clients.add(client)


def track_pending(thread: threading.Thread) -> None:
    """A background shutdown (of ``disable()``) that exit waits for, within its deadline."""
    _pending[:] = [t for t in _pending if t.is_alive()]
    _pending.append(thread)


def shutdown_all() -> None:
    """Shuts every live client down, each within its exit timeout, all within the longest."""
    global _exited
    if _exited:
        return
    _exited = True
    clients = list(_clients)
    longest = max([c._exit_timeout() for c in clients] + [0.0])
    deadline = time.monotonic() + longest
    for thread in list(_pending):
        thread.join(max(0.0, deadline - time.monotonic()))
    for client in clients:
        remaining = max(0.0, min(client._exit_timeout(), deadline - time.monotonic()))
        try:
            client._shutdown_for_exit(remaining)
        except Exception:  # noqa: BLE001 - exit never fails because of telemetry
            pass


atexit.register(shutdown_all)


def _multiprocessing_child(_: object) -> None:
    """In a ``multiprocessing`` child (after its own after-fork hooks ran): flush at its exit."""
    global _exited
    _exited = False
    util = sys.modules.get("multiprocessing.util")
    if util is not None:
        util.Finalize(None, shutdown_all, exitpriority=100)


class _Hook:
    """An object for ``multiprocessing.util.register_after_fork`` to hold weakly."""


_hook = _Hook()


def _before_fork() -> None:
    global _mp_hooked
    if _mp_hooked or "multiprocessing" not in sys.modules:
        return
    import multiprocessing.util as util

    util.register_after_fork(_hook, _multiprocessing_child)
    _mp_hooked = True


def _after_fork_in_child() -> None:
    global _exited
    _exited = False
    _pending.clear()
    for client in list(_clients):
        try:
            client._after_fork()
        except Exception:  # noqa: BLE001 - a fork never fails because of telemetry
            pass


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)
