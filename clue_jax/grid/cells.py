"""A grid's cells (task, method, K, seed) and the units that run them.

A cell is one run: `Cell.command` its train_iql.py command line (the same as a shell
loop's, shown in the plan and the logs), `cell_settings` the RunSettings that command
line parses to (parsed once, in the grid's process), `Cell.run_dir` its folder. A unit is
what one process runs: a Cell, a SeedGroup (the seeds of one cell, one vmapped program) or a
CellGroup (cells of one dataset, one program). A unit's process gets its runs' settings,
not command lines: `launch_command` writes them to the unit's plan file
(<out>/plans/<unit>.json) and starts `train_iql.py --plan_file=<it>`.
"""

import dataclasses
import sys
import threading
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

from clue_jax.experiments import flags as run_flags
from clue_jax.experiments.plan import run_dir_for
from clue_jax.experiments.settings import RunSettings, write_plan_file
from clue_jax.grid.methods import METHODS, VARIANTS, column_name, route_flags, uses_experts

ROOT = Path(__file__).resolve().parents[2]  # the checkout: train_iql.py lives here
PROGRAM = "train_iql.py"  # every unit's program (its --agent picks the learner)


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
        """The run's method, K, seed and folder (the grid's flags not applied: for those,
        `cell_settings`)."""
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
        return [sys.executable, str(ROOT / PROGRAM), *flags, *route_flags(extra, s.labeller),
                *self.flags]


def make_grid(tasks, methods, ks, seeds, cell_flags=None) -> List[Cell]:
    """Every (task, method, K, seed); `cell_flags(task, method, k)` gives a cell's own flags."""
    cells = []
    for task in tasks:
        for method in methods:
            for k in (ks if uses_experts(method) else [None]):
                flags = tuple(cell_flags(task, method, k)) if cell_flags else ()
                cells.extend(Cell(task, method, k, seed, flags) for seed in seeds)
    return cells


class SeedGroup(NamedTuple):
    """The seeds of one (task, method, K) run as one vmapped program (as `--seeds=...`)."""

    task: str
    method: str
    k: Optional[int]
    seeds: Tuple[int, ...]

    flags: Tuple[str, ...] = ()

    @property
    def cells(self) -> List[Cell]:
        return [Cell(self.task, self.method, self.k, s, self.flags) for s in self.seeds]

    @property
    def name(self) -> str:
        return f"{self.task}_{self.method}_K{self.k}_seed{'-'.join(map(str, self.seeds))}"


class CellGroup(NamedTuple):
    """Cells of one dataset (any methods, K and seeds) as one program."""

    task: str
    label: str  # the method, or 'all' for a whole dataset
    cells: Tuple[Cell, ...]

    @property
    def name(self) -> str:
        return f"{self.task}_{self.label}_{len(self.cells)}runs"


Unit = Union[Cell, SeedGroup, CellGroup]
GROUPINGS = ("none", "seeds", "method", "dataset")


def make_units(cells: List[Cell], out: Path, group: str, extra: Sequence[str] = ()
               ) -> List[Unit]:
    """The cells as run units. group 'none': one per cell; 'seeds': the unfinished seeds of
    each (task, method, K) as one vmapped program; 'method': each (task, method)'s unfinished
    K and seeds as one program; 'dataset': each task's unfinished cells as one program. A
    lone unfinished cell stays a Cell, and so does a cell on a fraction of the data
    (--dataset_fraction < 1: each seed keeps its own trajectories, so it shares no dataset)."""
    if group not in GROUPINGS:
        raise ValueError(f"--group={group!r}: expected one of {GROUPINGS}.")
    if group == "none":
        return list(cells)
    alone = [c for c in cells if (c.run_dir(out) / "results.json").exists()
             or cell_settings(c, out, extra).dataset_fraction < 1.0]
    keys = {"seeds": lambda c: (c.task, c.method, c.k, c.flags),
            "method": lambda c: (c.task, c.method), "dataset": lambda c: (c.task,)}[group]
    groups: Dict[Tuple, List[Cell]] = {}
    for c in cells:
        if c not in alone:
            groups.setdefault(keys(c), []).append(c)
    units: List[Unit] = list(alone)
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


def started(cell: Cell, out: Path) -> bool:
    """Whether the cell's folder holds work to continue from (its run then gets --resume)."""
    return any((cell.run_dir(out) / f).exists() for f in STARTED)


_PARSED: Dict[Tuple, RunSettings] = {}
_PARSED_LOCK = threading.Lock()


def cell_settings(cell: Cell, out: Path, extra: Sequence[str]) -> RunSettings:
    """The RunSettings of the cell's command line, parsed once per cell but the seed (the
    seed is the only field the seed flag sets)."""
    key = (cell._replace(seed=0), str(out), tuple(extra))
    with _PARSED_LOCK:
        if key not in _PARSED:
            _PARSED[key] = run_flags.parse_settings(key[0].command(out, list(extra))[1:])
    return dataclasses.replace(_PARSED[key], seed=cell.seed)


def unit_settings(unit: Unit, out: Path, extra: Sequence[str]) -> List[RunSettings]:
    """The settings of each run of the unit, with --resume where a run has started."""
    return [dataclasses.replace(cell_settings(c, out, extra), resume=started(c, out))
            for c in unit_cells(unit)]


def launch_command(unit: Unit, out: Path, extra: Sequence[str]) -> List[str]:
    """Write the unit's plan file (its runs' settings, and the command lines they equal) and
    return the command that runs it: `train_iql.py --plan_file=<out>/plans/<unit>.json`."""
    runs = unit_settings(unit, out, extra)
    commands = [c.command(out, list(extra))[1:] + (["--resume"] if s.resume else [])
                for c, s in zip(unit_cells(unit), runs)]
    path = out / "plans" / f"{unit_name(unit)}.json"
    write_plan_file(path, runs, commands)
    return [sys.executable, str(ROOT / PROGRAM), f"--plan_file={path}"]
