"""Ctrl-C (SIGINT) that a run cannot lose, and that never lands inside JAX.

Python raises KeyboardInterrupt in whatever the main thread is running when the signal
arrives. Two places are bad:

- A garbage-collector callback (JAX registers one at import), a `__del__` or a weakref
  callback: the exception is printed as "Exception ignored in ..." and dropped, and the
  program carries on as if no Ctrl-C had come. Under load that is common while a script is
  importing or compiling (measured: 4 of 6 SIGINTs sent 0.6-1.2 s after a train_iql.py
  start were dropped, and those runs went on training).
- JAX's own Python code, e.g. right after XLA returns a compiled executable: the exception
  tears through JAX's half-done bookkeeping, and the process then crashed at exit with a
  segmentation fault (exit -11 instead of 130). Measured on 2 loaded cores, two train_iql.py
  at a time: 10 of 45 SIGINTs sent 5-11 s after the start crashed, and 20 of 40 sent 5.5-8 s
  after it (the first compile), each raised as `backend.compile_and_load` returned.

`install()` replaces Python's handler with one that remembers the request. When the main
thread is inside JAX (any frame of the `jax`, `jaxlib` or `jax_plugins` packages on its
stack), the handler raises nothing and asks again `RETRY_S` later (through
`_thread.interrupt_main`, no new OS signal), until the thread is back in code that can take
the exception. The long loops (training, the CVAE, OTR's labelling, SAC, evaluation,
dataset generation, the grid's wait) also call `check()`, which raises KeyboardInterrupt
when a request was dropped elsewhere (e.g. in another library's `__del__`).
A script installs it before its heavy imports with `raise_now=False`: a Ctrl-C during the
imports is only remembered, and `arm()` raises it once the script can end cleanly (one line,
exit 130) rather than with a traceback from inside an import. Stdlib only.
"""

import _thread
import signal
import threading

RETRY_S = 0.05  # how soon a Ctrl-C that came inside JAX is tried again
UNSAFE_PACKAGES = ("jax", "jaxlib", "jax_plugins")

_requested = False  # an interrupt came (and is not gone with the program yet)
_raised = False  # a KeyboardInterrupt for it was raised: the program is ending
_raise_now = True
_retry_scheduled = False  # a retry is pending
_retrying = False  # the next handler call is our retry, not a new signal


def _in_unsafe_code(frame) -> bool:
    """Whether the main thread's stack, from `frame` outwards, passes through JAX."""
    while frame is not None:
        if frame.f_globals.get("__name__", "").partition(".")[0] in UNSAFE_PACKAGES:
            return True
        frame = frame.f_back
    return False


def _retry_later(signum: int) -> None:
    """Deliver `signum` to the main thread's Python handler again in RETRY_S seconds."""
    global _retry_scheduled
    if _retry_scheduled:
        return
    _retry_scheduled = True

    def fire():
        global _retry_scheduled, _retrying
        _retry_scheduled = False
        if _requested and not _raised:
            _retrying = True
            _thread.interrupt_main(signum)

    timer = threading.Timer(RETRY_S, fire)
    timer.daemon = True
    timer.start()


def _raise() -> None:
    global _raised
    _raised = True
    raise KeyboardInterrupt


def _handler(signum, frame):
    global _requested, _retrying
    retry, _retrying = _retrying, False
    if retry and _raised:
        return  # the interrupt was raised meanwhile (at a check()): the program is ending
    _requested = True
    if not _raise_now:
        return
    if _in_unsafe_code(frame):
        _retry_later(signum)
        return
    _raise()


def install(*signums: int, raise_now: bool = True) -> None:
    """Route SIGINT (and any further `signums`, e.g. SIGTERM) through the remembering handler,
    with no interrupt remembered yet.

    Args:
        signums: further signals to treat as Ctrl-C.
        raise_now: False to only remember interrupts until `arm()`.
    SIGINT is left alone when its handler is not Python's default (ignored by the parent
    shell, or set by an embedding program).
    """
    global _requested, _raised, _raise_now
    _requested, _raised, _raise_now = False, False, raise_now
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _handler)
    for signum in signums:
        signal.signal(signum, _handler)


def arm() -> None:
    """From now on an interrupt raises at once; one remembered before raises here."""
    global _raise_now
    _raise_now = True
    check()


def check() -> None:
    """Raise KeyboardInterrupt when an interrupt arrived, even one that was dropped."""
    if _requested:
        _raise()
