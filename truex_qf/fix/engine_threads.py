"""Keep one Python thread state for the life of each QuickFIX engine thread.

QuickFIX calls into Python from threads it created in C++. The binding enters every callback
with ``PyGILState_Ensure`` and leaves with ``PyGILState_Release``. On a thread that Python did
not create, the release that brings the thread's count back to zero destroys its thread state.
So every callback built a new one (``PyThreadState_New``, and in CPython 3.11 a new 16 KB frame
stack chunk: ``mmap``, page faults, then ``munmap``). The ``munmap`` also interrupts the other
CPUs running the process's threads, to flush their TLBs. That is several system calls for each
message and each engine-log line: 18 % of the bench client's CPU during market data.

:func:`keep_thread_state` takes one more ``PyGILState_Ensure`` on such a thread and never
releases it. The count then stays above zero: each callback's release only detaches the thread
state and lets go of the GIL, and the next callback attaches the same one again. This is the
binding's own mechanism, used as the C API documents it, and it does nothing on threads that
Python started (they keep their thread state anyway).

The thread state (a few hundred bytes and its frame chunk) outlives its thread by design: the
interpreter clears it at exit. QuickFIX starts one thread per initiator start, or per accepted
connection, so the number kept is bounded by those.
"""

from __future__ import annotations

import ctypes
import threading

_ensure = ctypes.pythonapi.PyGILState_Ensure
_ensure.restype = ctypes.c_int
_ensure.argtypes = []

_this_thread = threading.local()  # lives in the thread state: a new state starts it empty


def keep_thread_state() -> None:
    """On a thread QuickFIX created, pin its thread state; elsewhere do nothing.

    Called at the top of every engine callback (:func:`truex_qf.fix.callbacks.guarded`); after
    the first call on a thread it costs one attribute lookup. The mark is a ``threading.local``
    rather than the thread's ident, because idents are reused: a new engine thread after a
    restart starts a new thread state, finds no mark, and is pinned in turn.
    """
    if getattr(_this_thread, "seen", False):
        return
    _this_thread.seen = True
    # A thread Python started is a threading.Thread; a foreign one gets a _DummyThread.
    if isinstance(threading.current_thread(), threading._DummyThread):
        _ensure()  # held for the thread's life: never released
