"""Wall-clock time per phase of a run (data, labelling, updates, evaluation), for reports.

    with timing.phase("evaluation"):
        ...
    timing.totals()   # {"evaluation": 12.3, ...} seconds since the last reset()
    timing.count("updates", 1000)     # a count beside the seconds (e.g. updates trained)
    before = timing.snapshot(); ...; timing.since(before)   # what one stretch added

One process-wide table (each program's entry point calls `reset()`, so a run's figures are
its own). Phases may nest: an inner phase's time is also counted in the outer one's (e.g.
"evaluation" inside "training"), so the figures are not meant to sum to the wall time.

StoppedAtDeadline is what a loop raises when it stops at a checkpoint because its next
stretch would pass a run's deadline (IQL's training loop, CLUE's CVAE).
"""

import contextlib
import time
from typing import Dict, Iterator, Optional

_TOTALS: Dict[str, float] = {}
_COUNTS: Dict[str, int] = {}


class StoppedAtDeadline(RuntimeError):
    """A loop stopped cleanly at a checkpoint: its next stretch would pass the deadline."""


def run_folders(run_dirs) -> str:
    """Where a stopped loop's checkpoints are, for its message: the folder, or 'S run folders'."""
    run_dirs = list(run_dirs)
    return str(run_dirs[0]) if len(run_dirs) == 1 else f"{len(run_dirs)} run folders"


def stop_before_deadline(deadline: Optional[float], now: float, stretch_s: float,
                         where: str) -> None:
    """StoppedAtDeadline when a loop at a checkpoint, at wall time `now`, would end its next
    `stretch_s` of training after `deadline` (None: no limit). `where` says where it stopped,
    e.g. 'stopped at update 10 of 20 (checkpoint saved in <run>)'."""
    if deadline is not None and now + stretch_s > deadline:
        raise StoppedAtDeadline(
            f"{where}: the next {stretch_s:.0f} s of training would pass the deadline. Rerun "
            "the same command with --resume to continue from there.")


@contextlib.contextmanager
def phase(name: str) -> Iterator[None]:
    """Add the wall time of the block to phase `name`."""
    start = time.perf_counter()
    try:
        yield
    finally:
        _TOTALS[name] = _TOTALS.get(name, 0.0) + time.perf_counter() - start


def count(name: str, n: int) -> None:
    """Add `n` to the count `name` (e.g. the updates a training loop made)."""
    _COUNTS[name] = _COUNTS.get(name, 0) + int(n)


def totals() -> Dict[str, float]:
    """Seconds per phase since the last `reset()`, rounded to 0.1 s."""
    return {k: round(v, 1) for k, v in _TOTALS.items()}


def snapshot() -> Dict[str, Dict[str, float]]:
    """The seconds and counts so far, unrounded, for `since`."""
    return {"seconds": dict(_TOTALS), "counts": dict(_COUNTS)}


def since(before: Dict[str, Dict[str, float]]) -> Dict[str, Dict[str, float]]:
    """What was added after `before` (a `snapshot()`): seconds per phase (0.1 s) and counts."""
    return {"seconds": {k: round(v - before["seconds"].get(k, 0.0), 1)
                        for k, v in _TOTALS.items() if v != before["seconds"].get(k, 0.0)},
            "counts": {k: v - before["counts"].get(k, 0) for k, v in _COUNTS.items()
                       if v != before["counts"].get(k, 0)}}


def reset() -> None:
    """Start every phase and count afresh (each program's entry point calls it)."""
    _TOTALS.clear()
    _COUNTS.clear()
