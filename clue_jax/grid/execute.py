"""Running a grid's units: one process each (a local pool, pinned to cores where asked),
each a Ray task, or cells in this process; every unit's output goes to <out>/logs/.

A unit's process gets SIGTERM when this one dies (Linux); `end_children` stops every
running unit at its last checkpoint (SIGINT).
"""

import os
import signal
import subprocess
import time
import queue
from pathlib import Path
from typing import List, Optional

from clue_jax import experiments
from clue_jax.grid.cells import (ROOT, Cell, Unit, launch_command, unit_cells, unit_name,
                                 unit_settings)

STOPPED_EXIT = 3  # a run stopped cleanly at its deadline (experiments.flags.STOPPED_EXIT)

_CHILDREN = set()  # the training processes running now, ended with this process


def _prepare_child() -> None:
    """In a child before exec: SIGINT back to its default, as `end_children` stops units with
    it (a grid started in the background of a script, e.g. `nohup python reproduce.py ... &`,
    has SIGINT ignored, and so would its units); and SIGTERM when reproduce.py dies, even by
    SIGKILL (Linux)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def run_child(cmd: List[str], log) -> int:
    """Run one unit's command to its end, output to `log`; returns its exit status."""
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            preexec_fn=_prepare_child if os.name == "posix" else None)
    _CHILDREN.add(proc)
    try:
        return proc.wait()
    finally:
        _CHILDREN.discard(proc)


def end_children(grace_s: float = 20.0) -> None:
    """SIGINT every running unit (each keeps its last checkpoint), SIGKILL what outlives
    `grace_s`."""
    for proc in list(_CHILDREN):
        proc.send_signal(signal.SIGINT)
    deadline = time.time() + grace_s
    for proc in list(_CHILDREN):
        try:
            proc.wait(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            proc.kill()


def run_cell(cell: Unit, out: Path, extra: List[str], cores: Optional[queue.Queue] = None,
             deadline: Optional[float] = None) -> str:
    """Run one unit (a cell or a group) as a process (pinned to a free core when `cores` is
    given); a unit whose turn comes after `deadline` is not started."""
    dirs = [c.run_dir(out) for c in unit_cells(cell)]
    if all((d / "results.json").exists() for d in dirs):
        return f"skip (done) {unit_name(cell)}"
    if deadline is not None and time.time() >= deadline:
        return f"STOPPED (not started: past the time limit) {unit_name(cell)}"
    cmd = launch_command(cell, out, extra)
    core = cores.get() if cores is not None else None
    if core is not None:
        cmd = ["taskset", "-c", str(core)] + cmd
    log = out / "logs" / f"{unit_name(cell)}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as f:
        f.write(" ".join(cmd) + "\n")
        f.flush()
        try:
            code = run_child(cmd, f)
        finally:
            if core is not None:
                cores.put(core)
    if code == STOPPED_EXIT:
        return f"STOPPED (at the time limit; rerun the command to resume) {unit_name(cell)}"
    return f"{'ok' if code == 0 else f'FAILED (exit {code}, see {log})'} {unit_name(cell)}"


def run_on_ray(units: List[Unit], out: Path, extra: List[str], address: Optional[str],
               num_cpus: int, cpus_per_cell: float, gpus_per_cell: float, report,
               deadline: Optional[float] = None) -> None:
    """Each unit as a Ray task running the same command as the process pool.

    `address` None starts a local Ray with `num_cpus` CPUs; otherwise it joins that
    cluster (every node must see this checkout and `out` at the same paths, e.g. a
    shared file system). Tasks ask for `cpus_per_cell` CPUs and `gpus_per_cell` GPUs.
    """
    import ray
    if address:
        ray.init(address=address, log_to_driver=False)
    else:
        ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
    try:
        task = ray.remote(num_cpus=cpus_per_cell, num_gpus=gpus_per_cell)(run_cell)
        pending = {task.remote(u, out, extra, None, deadline): u for u in units}
        i = 0
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                i += 1
                unit = pending.pop(ref)
                try:
                    status = ray.get(ref)
                except Exception as err:  # noqa: BLE001 -- a lost task fails its cells only
                    status = f"FAILED (ray: {type(err).__name__}: {err}) {unit}"
                report(i, unit, status)
    finally:
        ray.shutdown()


def run_cell_in_process(cell: Cell, out: Path, extra: List[str]) -> str:
    """Run one cell in this process (the settings its process would get)."""
    if (cell.run_dir(out) / "results.json").exists():
        return f"skip (done) {cell}"
    try:
        experiments.run(unit_settings(cell, out, extra)[0])
    except Exception as err:  # noqa: BLE001 -- one failed cell must not stop the grid
        return f"FAILED ({type(err).__name__}: {err}) {cell}"
    return f"ok {cell}"
