"""Worker processes that die with their parent.

`nlp.pipe(n_process=N)` forks N workers. If the parent is killed (kill -9,
OOM killer), nothing tells them, and they would wait on their queues
forever. A child forked while `workers_die_with_parent` is active asks the
Linux kernel to kill it when its parent dies (prctl PR_SET_PDEATHSIG), and
elsewhere polls its parent id from a daemon thread.
"""
import ctypes
import os
import signal
import sys
import threading
import time
from contextlib import contextmanager
from typing import Iterator, Optional

PR_SET_PDEATHSIG = 1
_parent: Optional[int] = None


def _watch_parent(parent: int) -> None:
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0:
                # The parent may have died between the fork and the prctl.
                if os.getppid() != parent:
                    os._exit(1)
                return
        except (OSError, AttributeError):
            pass

    def poll() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=poll, daemon=True, name="watch-parent").start()


def _after_fork_in_child() -> None:
    parent = _parent
    if parent is not None:
        _set(None)
        _watch_parent(parent)


def _set(value: Optional[int]) -> None:
    global _parent
    _parent = value


os.register_at_fork(after_in_child=_after_fork_in_child)


@contextmanager
def workers_die_with_parent(active: bool = True) -> Iterator[None]:
    """While active, every process forked from this one dies with it.

    active (bool): Whether to watch at all (not needed without workers).
    """
    if not active:
        yield
        return
    _set(os.getpid())
    try:
        yield
    finally:
        _set(None)
