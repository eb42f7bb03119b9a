"""A grid's cells (task, method, K, seed) and the units that run them.

A cell is one run: `Cell.settings` its RunSettings, `Cell.command` its train_iql.py
command line (the same as a shell loop's), `Cell.run_dir` its folder. A unit is what one
process runs: a Cell, a SeedGroup (the seeds of one cell as one vmapped program,
`--seeds`) or a CellGroup (cells of one dataset as one program, `--group_file`).
"""

import json
import sys
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

from clue_jax.experiments.plan import run_dir_for
from clue_jax.experiments.settings import RunSettings
from clue_jax.grid.methods import METHODS, VARIANTS, column_name, route_flags

ROOT = Path(__file__).resolve().parents[2]  # the checkout: train_iql.py lives here


class Cell(NamedTuple):
    task: str
    method: str
    k: Optional[int]  # None for IQL (true rewards, no experts)
    seed: int
    flags: Tuple[str, ...] = ()  # this cell's own flags (a preset's per-task exceptions)

    @property
    def column(self) -> str:
        return column_name(self.method, self.k)

    def settings(self, out: Path) -> RunSettings:
        agent, labeller, setting, calibrate = METHODS[self.method]
        tag, selection, _ = VARIANTS.get(self.method, ("", "setting", ()))
        return RunSettings(env_name=self.task, agent=agent, labeller=labeller, setting=setting,
                           num_expert=self.k or 1, calibrate=calibrate, seed=self.seed,
                           save_dir=str(out), tag=tag, expert_selection=selection)

    def run_dir(self, out: Path) -> Path:
        s = self.settings(out)
        return run_dir_for(s.save_dir, s.method(), s.env_name, s.seed)

    def command(self, out: Path, extra: List[str]) -> List[str]:
        s = self.settings(out)
        flags = [f"--agent={s.agent}", f"--labeller={s.labeller}", f"--env_name={self.task}",
                 f"--seed={self.seed}",
                 f"--save_dir={out}", "--notqdm"]
        if s.labeller != "true":
            flags += [f"--setting={s.setting}", f"--num_expert={s.num_expert}"]
        if not s.calibrate:
            flags.append("--nocalibrate")
        if self.method in VARIANTS:
            flags += [f"--tag={s.tag}", f"--expert_selection={s.expert_selection}",
                      *VARIANTS[self.method][2]]
        return [sys.executable, str(ROOT / "train_iql.py"), *flags, *route_flags(extra, s.labeller),
                *self.flags]


def make_grid(tasks, methods, ks, seeds, cell_flags=None) -> List[Cell]:
    """Every (task, method, K, seed); `cell_flags(task, method, k)` gives a cell's own flags."""
    cells = []
    for task in tasks:
        for method in methods:
            for k in ([None] if METHODS[method][1] == "true" else ks):
                flags = tuple(cell_flags(task, method, k)) if cell_flags else ()
                cells.extend(Cell(task, method, k, seed, flags) for seed in seeds)
    return cells


class SeedGroup(NamedTuple):
    """The seeds of one (task, method, K) run as one vmapped program (`--seeds=...`)."""

    task: str
    method: str
    k: Optional[int]
    seeds: Tuple[int, ...]

    flags: Tuple[str, ...] = ()

    @property
    def cells(self) -> List[Cell]:
        return [Cell(self.task, self.method, self.k, s, self.flags) for s in self.seeds]

    def command(self, out: Path, extra: List[str]) -> List[str]:
        cmd = self.cells[0].command(out, extra) + resume_flags(self.cells, out)
        return [f"--seeds={','.join(map(str, self.seeds))}" if c.startswith("--seed=") else c
                for c in cmd]

    @property
    def name(self) -> str:
        return f"{self.task}_{self.method}_K{self.k}_seed{'-'.join(map(str, self.seeds))}"


class CellGroup(NamedTuple):
    """Cells of one dataset (any methods, K and seeds) as one program: `train_iql.py
    --group_file=<out>/groups/<name>.json`, the file listing each cell's command line."""

    task: str
    label: str  # the method, or 'all' for a whole dataset
    cells: Tuple[Cell, ...]

    @property
    def name(self) -> str:
        return f"{self.task}_{self.label}_{len(self.cells)}runs"

    def command(self, out: Path, extra: List[str]) -> List[str]:
        members = [c.command(out, extra)[2:] + resume_flags([c], out) for c in self.cells]
        path = out / "groups" / f"{self.name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(members, indent=1) + "\n")
        return [sys.executable, str(ROOT / "train_iql.py"), f"--group_file={path}", "--notqdm"]


Unit = Union[Cell, SeedGroup, CellGroup]
GROUPINGS = ("none", "seeds", "method", "dataset")


def make_units(cells: List[Cell], out: Path, group: str) -> List[Unit]:
    """The cells as run units. group 'none': one per cell; 'seeds': the unfinished seeds of
    each (task, method, K) as one vmapped program (train_iql.py --seeds); 'method': each
    (task, method)'s unfinished K and seeds as one program; 'dataset': each task's unfinished
    cells as one program (train_iql.py --group_file). A lone unfinished cell stays a Cell."""
    if group not in GROUPINGS:
        raise ValueError(f"--group={group!r}: expected one of {GROUPINGS}.")
    if group == "none":
        return list(cells)
    done = [c for c in cells if (c.run_dir(out) / "results.json").exists()]
    keys = {"seeds": lambda c: (c.task, c.method, c.k, c.flags),
            "method": lambda c: (c.task, c.method), "dataset": lambda c: (c.task,)}[group]
    groups: Dict[Tuple, List[Cell]] = {}
    for c in cells:
        if c not in done:
            groups.setdefault(keys(c), []).append(c)
    units: List[Unit] = list(done)
    for key, members in groups.items():
        if len(members) == 1:
            units.append(members[0])
        elif group == "seeds":
            first = members[0]
            units.append(SeedGroup(first.task, first.method, first.k,
                                   tuple(c.seed for c in members), first.flags))
        else:
            units.append(CellGroup(key[0], key[1] if group == "method" else "all",
                                   tuple(members)))
    return units


def unit_cells(unit: Unit) -> List[Cell]:
    return list(unit.cells) if isinstance(unit, (SeedGroup, CellGroup)) else [unit]


def unit_name(unit: Unit) -> str:
    if isinstance(unit, Cell):
        return f"{unit.task}_{unit.method}_K{unit.k}_seed{unit.seed}"
    return unit.name


STARTED = ("checkpoint.msgpack", "cvae.msgpack", "rewards.npz")


def resume_flags(cells: Sequence[Cell], out: Path) -> List[str]:
    """['--resume'] when any of the cells' folders holds work to continue from."""
    started = any((c.run_dir(out) / f).exists() for c in cells for f in STARTED)
    return ["--resume"] if started else []
