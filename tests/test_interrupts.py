"""A Ctrl-C that Python drops (raised inside a gc callback) still ends the program."""

import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def sigint_default():
    """A child's SIGINT as an interactive shell leaves it (a background job of a script
    starts with it ignored, and Python then installs no handler)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)

DROPPED_IN_GC = """
import gc, os, signal, sys
from clue_jax import interrupts
interrupts.install({install})

def callback(phase, info):  # as JAX's _xla_gc_callback: any Python code run by the collector
    if phase == "start":
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(1000):  # the handler runs here; its KeyboardInterrupt is dropped
            pass

gc.callbacks.append(callback)
gc.collect()
gc.callbacks.remove(callback)
print("carried on", flush=True)
try:
    interrupts.{then}()
except KeyboardInterrupt:
    sys.exit(130)
"""


def _run(install: str, then: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", DROPPED_IN_GC.format(install=install, then=then)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60,
                          preexec_fn=sigint_default)


def test_a_ctrl_c_dropped_in_a_gc_callback_raises_at_the_next_check():
    proc = _run("", "check")
    assert "Exception ignored" in proc.stderr and "KeyboardInterrupt" in proc.stderr
    assert proc.stdout == "carried on\n" and proc.returncode == 130


def test_a_ctrl_c_before_arm_is_kept_and_raised_by_arm():
    proc = _run("raise_now=False", "arm")
    assert "Exception ignored" not in proc.stderr  # only remembered: nothing raised in gc
    assert proc.stdout == "carried on\n" and proc.returncode == 130


def test_without_the_handler_python_loses_it():
    """The failure the module exists for: Python's own handler, the same callback."""
    script = DROPPED_IN_GC.format(install="", then="check").replace(
        "interrupts.install()", "pass")
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, preexec_fn=sigint_default)
    assert "Exception ignored" in proc.stderr and proc.returncode == 0
