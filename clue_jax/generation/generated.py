"""Datasets this project generates itself, and their cache.

`GENERATED` maps a dataset name to a `GeneratedSpec` whose `generate(size,
seed)` returns D4RL-layout arrays and metadata. `ensure_generated(name)` makes
the file on first use under $CLUE_JAX_DATA_DIR (default
~/.cache/clue_jax/datasets), written atomically by `d4rl_io.save_hdf5` with a
SHA-256 of its arrays and the generator version in its metadata; a later call
verifies both and regenerates a file that is unreadable, corrupt or stale.

A new family (e.g. locomotion) adds one entry to `_FAMILIES`: a module with a
`generators()` function (name -> generate(size, seed)) and a
`GENERATOR_VERSION` string, or calls `register_generated` itself. Optional
module dicts: `DEFAULT_SIZES` (name -> size), `FINGERPRINTS` (name -> a
function hashing the generator's inputs, e.g. policy files; a fingerprint is
appended to the version, so a cached file made from other inputs is remade) and
`REQUIRES` (name -> a function that raises when an input is missing, called
before anything is announced or generated).
"""

import contextvars
import dataclasses
import hashlib
import importlib
import os
import sys
import time
from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np

from clue_jax.data import d4rl_io
from clue_jax.data.dataset import DatasetError

DEFAULT_SIZE = 1_000_000
DEFAULT_SEED = 0
_FAMILIES = ("clue_jax.generation.pointmaze_datasets", "clue_jax.generation.locomotion_datasets",
             "clue_jax.generation.antmaze_datasets")

Generator = Callable[[int, int], Tuple[Dict[str, np.ndarray], Dict[str, Any]]]
# The cache folder ensure_generated is filling, for generators made of other datasets.
_ACTIVE_CACHE: contextvars.ContextVar[Optional[str]] = contextvars.ContextVar(
    "clue_jax_generation_cache", default=None)


@dataclasses.dataclass(frozen=True)
class GeneratedSpec:
    """A generated dataset.

    Attributes:
        name: dataset name (starts with 'gen-').
        generate: (size, seed) -> (data, metadata) in the D4RL layout.
        version: generator version; a cached file of another version is remade.
        default_size: transitions made when no size is asked for.
        default_seed: seed used when none is asked for.
        fingerprint: optional () -> str hash of the generator's inputs (files it reads).
        requires: optional () -> None that raises (e.g. PolicyNotFoundError) when an input
            the generator needs is missing; called before generating.
    """

    name: str
    generate: Generator
    version: str
    default_size: int = DEFAULT_SIZE
    default_seed: int = DEFAULT_SEED
    fingerprint: Optional[Callable[[], str]] = None
    requires: Optional[Callable[[], None]] = None

    def current_version(self) -> str:
        """`version`, plus '+<fingerprint of the inputs>' when the spec has a fingerprint."""
        return self.version if self.fingerprint is None else f"{self.version}+{self.fingerprint()}"


GENERATED: Dict[str, GeneratedSpec] = {}


def register_generated(spec: GeneratedSpec, overwrite: bool = False) -> None:
    """Add `spec` to GENERATED (an existing name needs overwrite=True)."""
    if spec.name in GENERATED and not overwrite:
        raise ValueError(f"register_generated: {spec.name!r} is already registered; "
                         "pass overwrite=True to replace it.")
    GENERATED[spec.name] = spec


def is_generated(name: str) -> bool:
    """Whether `name` is a dataset this project generates."""
    return name in GENERATED


def get_generated(name: str) -> GeneratedSpec:
    """The GeneratedSpec of `name`; raises DatasetError listing the known names."""
    if name not in GENERATED:
        raise DatasetError(f"'{name}' is not a generated dataset; known names: "
                           f"{sorted(GENERATED)}.")
    return GENERATED[name]


def default_cache_dir() -> str:
    """$CLUE_JAX_DATA_DIR, else ~/.cache/clue_jax/datasets (not created)."""
    return os.environ.get("CLUE_JAX_DATA_DIR") or os.path.expanduser("~/.cache/clue_jax/datasets")


def dataset_path(name: str, cache_dir: Optional[str] = None, size: Optional[int] = None,
                 seed: Optional[int] = None) -> str:
    """Cache file of `name`: '<name>.hdf5' at the defaults, else '<name>-n<size>-s<seed>.hdf5'."""
    spec = get_generated(name)
    size = spec.default_size if size is None else int(size)
    seed = spec.default_seed if seed is None else int(seed)
    stem = name if (size, seed) == (spec.default_size, spec.default_seed) \
        else f"{name}-n{size}-s{seed}"
    return os.path.join(cache_dir or default_cache_dir(), f"{stem}.hdf5")


def array_checksum(data: Dict[str, np.ndarray]) -> str:
    """SHA-256 (hex) of every array outside 'metadata/', with its key, dtype and shape."""
    digest = hashlib.sha256()
    for key in sorted(k for k in data if not k.startswith("metadata/")):
        value = np.ascontiguousarray(data[key])
        digest.update(f"{key}|{value.dtype.str}|{value.shape}|".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def check_cached(path: str, spec: GeneratedSpec) -> Optional[str]:
    """Why the file at `path` cannot be used for `spec`, or None when it can."""
    if not os.path.isfile(path):
        return "not generated yet"
    try:
        data = d4rl_io.load_hdf5(path)
    except (DatasetError, OSError) as e:
        return f"unreadable ({e})"
    version, current = str(data.get("metadata/generator_version", "")), spec.current_version()
    if version != current:
        return f"made by generator version {version!r}, now {current!r}"
    if str(data.get("metadata/checksum", "")) != array_checksum(data):
        return "checksum mismatch (corrupt file)"
    return None


def ensure_generated(name: str, cache_dir: Optional[str] = None, size: Optional[int] = None,
                     seed: Optional[int] = None) -> str:
    """Path of dataset `name`, generating (or regenerating) it when needed.

    Args:
        name: a name in GENERATED.
        cache_dir: folder of the cache; default $CLUE_JAX_DATA_DIR or
            ~/.cache/clue_jax/datasets.
        size: number of transitions (default: the spec's, 1M).
        seed: generation seed (default: the spec's, 0).

    Returns:
        Path of a verified D4RL-layout HDF5 file.
    """
    spec = get_generated(name)
    size = spec.default_size if size is None else int(size)
    seed = spec.default_seed if seed is None else int(seed)
    path = dataset_path(name, cache_dir, size, seed)
    problem = check_cached(path, spec)
    if problem is None:
        return path
    if spec.requires is not None:
        spec.requires()
    print(f"[clue_jax] generating {name} ({size} transitions, seed {seed}) into {path} "
          f"({problem}); this happens once", file=sys.stderr, flush=True)
    start = time.perf_counter()
    token = _ACTIVE_CACHE.set(cache_dir)
    try:
        data, metadata = spec.generate(size, seed)
    finally:
        _ACTIVE_CACHE.reset(token)
    metadata = dict(metadata, name=name, size=size, seed=seed,
                    generator_version=spec.current_version(),
                    checksum=array_checksum(data))
    d4rl_io.save_hdf5(path, data, metadata)
    problem = check_cached(path, spec)
    if problem is not None:
        raise DatasetError(f"{name}: the freshly written {path} fails its check ({problem}); the "
                           "generator's arrays do not survive the HDF5 round trip (dtype or "
                           "(N, 1) shape): fix the generator.")
    print(f"[clue_jax] {name} generated in {time.perf_counter() - start:.0f} s", file=sys.stderr,
          flush=True)
    return path


def generated_part(name: str, size: int, seed: int) -> Tuple[Dict[str, np.ndarray],
                                                             Dict[str, Any]]:
    """(data, metadata) of another generated dataset, for a generator made of parts.

    Reads it from the cache that the running `ensure_generated` fills (made and
    verified there first if needed), so e.g. medium-expert reuses the medium
    and expert files instead of rolling the policies out again.
    """
    raw = d4rl_io.load_hdf5(ensure_generated(name, cache_dir=_ACTIVE_CACHE.get(), size=size,
                                             seed=seed))
    meta = {k[len("metadata/"):]: v for k, v in raw.items() if k.startswith("metadata/")}
    return {k: v for k, v in raw.items() if not k.startswith("metadata/")}, meta


def _register_families() -> None:
    for module_name in _FAMILIES:
        module = importlib.import_module(module_name)
        sizes = getattr(module, "DEFAULT_SIZES", {})
        fingerprints = getattr(module, "FINGERPRINTS", {})
        requires = getattr(module, "REQUIRES", {})
        for name, generate in module.generators().items():
            register_generated(GeneratedSpec(name, generate, module.GENERATOR_VERSION,
                                             default_size=sizes.get(name, DEFAULT_SIZE),
                                             fingerprint=fingerprints.get(name),
                                             requires=requires.get(name)),
                               overwrite=True)


_register_families()
