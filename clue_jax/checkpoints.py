"""Atomic checkpoints of any pytree (flax msgpack), written then renamed."""

import contextlib
import glob
import os
import tempfile
from pathlib import Path
from typing import Any, Dict, Iterator, Optional

from flax import serialization

CHECKPOINT_NAME = "checkpoint.msgpack"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_stale_temps(path) -> int:
    """Delete the temp files of `path` left by writers that were killed (SIGKILL, power loss).

    Temp names carry the writer's pid (.<name>.<pid>.<random>.tmp); only those
    whose process is gone are removed, so a concurrent live writer is untouched.
    Returns the number removed.
    """
    path = Path(path)
    removed = 0
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        pid = tmp.name[len(path.name) + 2:].split(".", 1)[0]
        if pid.isdigit() and not _pid_alive(int(pid)):
            tmp.unlink(missing_ok=True)
            removed += 1
    return removed


@contextlib.contextmanager
def atomic_file(path) -> Iterator[str]:
    """Yield a temp path beside `path`; on success fsync it and rename it onto `path`.

    Readers never see a half-written file, and a failure leaves no temp file; a
    killed writer's temp file is removed by the next write of the same path.
    The file gets the usual permissions (0666 less the umask), not mkstemp's 0600.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.",
                               suffix=".tmp")
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def atomic_write_bytes(path, data: bytes) -> None:
    """Write `data` to `path` atomically (see `atomic_file`)."""
    with atomic_file(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)


def save(path, state: Dict[str, Any]) -> None:
    """Serialize a dict of pytrees / arrays / numbers to `path` atomically."""
    atomic_write_bytes(path, serialization.msgpack_serialize(serialization.to_state_dict(state)))


def load_raw(path) -> Dict[str, Any]:
    """The saved state dict (nested dicts of numpy arrays)."""
    path = Path(path)
    try:
        return serialization.msgpack_restore(path.read_bytes())
    except FileNotFoundError:
        raise FileNotFoundError(f"checkpoint {path} does not exist; start without --resume.")
    except Exception as e:  # a truncated or foreign file
        raise ValueError(f"checkpoint {path} cannot be read ({e}); delete it to start over.") from e


def restore(path, template: Dict[str, Any]) -> Dict[str, Any]:
    """Restore into the structure of `template` (e.g. a freshly created agent)."""
    return serialization.from_state_dict(template, load_raw(path))


def find(run_dir) -> Optional[Path]:
    """The run's checkpoint file if one exists."""
    path = Path(run_dir) / CHECKPOINT_NAME
    return path if path.exists() else None
