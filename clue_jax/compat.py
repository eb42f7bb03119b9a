"""Known-bad version pairs of the JAX stack, named with the fix when an import fails.

GPU machines often come with their own JAX stack (clusters, offline nodes); the project
runs on its pins (requirements.txt) and on such stacks, e.g. jax 0.11.2 + flax 0.12.10
with CUDA 13. One pair is known not to work: jax >= 0.11 with flax < 0.12.10, where
`import ott` fails inside flax.nnx (jax.experimental.hijax has no HiPrimitive).
"""

import importlib.metadata
from typing import Dict, Optional, Tuple


def _version(package: str) -> Optional[Tuple[int, ...]]:
    try:
        text = importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None
    parts = []
    for part in text.split(".")[:3]:
        digits = "".join(c for c in part if c.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def stack_problem(versions: Optional[Dict[str, Optional[Tuple[int, ...]]]] = None
                  ) -> Optional[str]:
    """A known-bad combination among the installed versions (or `versions`), with the fix."""
    versions = versions or {p: _version(p) for p in ("jax", "flax")}
    jax, flax = versions.get("jax"), versions.get("flax")
    if jax and flax and jax >= (0, 11) and flax < (0, 12, 10):
        return (f"jax {'.'.join(map(str, jax))} needs flax >= 0.12.10 (found "
                f"{'.'.join(map(str, flax))}: flax.nnx imports jax.experimental.hijax's "
                "HiPrimitive, which this jax lacks); fix: pip install 'flax>=0.12.10', or "
                "the pinned pair: pip install -r requirements.txt")
    return None


def explain(err: BaseException) -> BaseException:
    """`err` again, or an ImportError naming the known-bad pair behind it."""
    problem = stack_problem()
    return ImportError(problem) if problem else err
