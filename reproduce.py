"""Run a grid of tasks x methods x K x seeds and write the paper-style table.

    python reproduce.py --tasks=gen-pointmaze-umaze-diverse-v0,gen-pointmaze-large-diverse-v0 \
        --methods=iql,clue,clue-nocalib --num_experts=1,5 --seeds=0,1,2 \
        --out=./grid --workers=2 -- --max_steps=50000

    # Table 4 of the paper (offline imitation; 9 datasets x K = 1, 10 x 8 methods)
    python reproduce.py --methods=table4 --num_experts=1,10 --seeds=0,1,2,3,4,5,6,7,8,9 \
        --tasks=gen-hopper-medium-v0,gen-hopper-medium-replay-v0,gen-hopper-medium-expert-v0,\
gen-halfcheetah-medium-v0,gen-halfcheetah-medium-replay-v0,gen-halfcheetah-medium-expert-v0,\
gen-walker2d-medium-v0,gen-walker2d-medium-replay-v0,gen-walker2d-medium-expert-v0 \
        --out=./table4 --workers=2 --pin

Each cell is one process of `train_iql.py --labeller=...` (flags after `--` go
to every run, except a labeller's own flags, which go only to its cells), so a
grid is the same as a shell loop. Cells with a results.json are skipped; cells
with a checkpoint, CVAE or reward file are continued with --resume. Writes
<out>/results.csv (one row per run) and <out>/results.md (per run the mean of
its last 3 evaluations; mean +- std over seeds, one column per method and K, a
total row; then per column the interquartile mean and mean over every task and seed
with 95% stratified-bootstrap intervals, rliable) with results.png, their interval plot.
"""

import argparse
import csv
import json
import os
import queue
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

from clue_jax import experiments
from clue_jax.envs import registry
from clue_jax.experiments import flags as run_flags
from clue_jax.experiments import plugins, presets, runner
from clue_jax.experiments.settings import RunSettings
from clue_jax.rewards.labellers import LABELLERS

ROOT = Path(__file__).resolve().parent
# iql / td3bc: the learner on the dataset's true rewards;
# clue*/otr*: the sparse setting (the dataset's successful episodes are the experts),
# *-imitation: the imitation setting (gen-* datasets use their own demonstrations; for
# D4RL names pass `-- --expert_dataset=...`); *-nocalib: CLUE without calibration;
# oril / sqil: TD3+BC on those labellers' rewards; smodice / demodice / valuedice /
# iqlearn: the imitation learners (train_dice.py), always the imitation setting.
METHODS = {  # method -> (agent, labeller, setting, calibrate)
    "iql": ("iql", "true", "sparse", True),
    "clue": ("iql", "clue", "sparse", True),
    "clue-nocalib": ("iql", "clue", "sparse", False),
    "clue-imitation": ("iql", "clue", "imitation", True),
    "clue-imitation-nocalib": ("iql", "clue", "imitation", False),
    "otr": ("iql", "otr", "sparse", True),
    "otr-imitation": ("iql", "otr", "imitation", True),
    "td3bc": ("td3bc", "true", "sparse", True),
    "oril": ("oril", "oril", "imitation", True),
    "oril-dataset": ("td3bc", "oril", "imitation", True),
    "sqil": ("td3bc", "sqil", "imitation", True),
    "smodice": ("smodice", "oril", "imitation", True),
    "smodice-dataset": ("smodice", "oril", "imitation", True),
    "demodice": ("demodice", "none", "imitation", True),
    "valuedice": ("valuedice", "none", "imitation", True),
    "iqlearn": ("iqlearn", "none", "imitation", True),
    "iqlearn-offline": ("iqlearn", "none", "imitation", True),
}
# Baselines set up otherwise than their reference script: method -> (tag, expert selection,
# extra flags). ORIL and SMODICE on the dataset and the K demonstrations alone, with a
# discriminator that does not see the absorbing indicator (the set-up before the expert
# block); IQ-Learn's offline recipe (its code's `offline`, value_expert, chi on expert rows).
BASELINE_VARIANTS = {
    "oril-dataset": ("", "setting", ("--oril_config.absorbing=False",)),
    "smodice-dataset": ("dataset", "setting", ("--expert_block=0",
                                               "--oril_config.absorbing=False")),
    "iqlearn-offline": ("offline", "setting", ("--config.value_loss=value_expert",
                                               "--config.chi2_rows=expert",
                                               "--config.actor_states=expert")),
}
# The CLUE sparse-setting study (README "Calibration on the generated mazes"): one factor
# at a time from the defaults it started from (a random successful episode as the expert,
# r - 1, calibration summed over latent dims), each calibrated and not. method -> (tag,
# expert selection, CLUE config overrides); the run folder is named after the selection / tag.
# Every variant names its expert rule, so the study does not move with the default.
STUDY_VARIANTS = {
    "episodes": ("", "episodes", ()),
    "rr": ("rr", "episodes", ("--clue_config.reward_scaling=return_range",
                              "--clue_config.reward_shift=0.0")),
    "rr-shift": ("rr-shift", "episodes", ("--clue_config.reward_scaling=return_range",
                                          "--clue_config.reward_shift=-1.0")),
    "top": ("", "top_return", ()),
    "goal": ("", "goal_segments", ()),
    "calibmean": ("calibmean", "episodes", ("--clue_config.calib_reduction=mean",)),
    # the two that helped on large-diverse, together
    "goal-calibmean": ("calibmean", "goal_segments", ("--clue_config.calib_reduction=mean",)),
    # the chosen expert rule (today's default) with the averaged calibration
    "top-calibmean": ("calibmean", "top_return", ("--clue_config.calib_reduction=mean",)),
}
VARIANTS = {}  # method -> (tag, expert selection, extra flags)
for _name, _variant in STUDY_VARIANTS.items():
    VARIANTS[f"clue-{_name}"] = _variant
    METHODS[f"clue-{_name}"] = METHODS["clue"]
    if "calibmean" not in _name:  # without calibration the reduction does not matter
        VARIANTS[f"clue-{_name}-nocalib"] = _variant
        METHODS[f"clue-{_name}-nocalib"] = METHODS["clue-nocalib"]
STUDY_METHODS = tuple(VARIANTS)
VARIANTS.update(BASELINE_VARIANTS)
# Table 4 of the paper (offline imitation, K = 1 and 10): every method in its column order.
TABLE4_METHODS = presets.TABLE4_METHODS
try:  # learners and labellers of the user's own ($CLUE_JAX_PLUGINS) get methods too
    plugins.load_plugins()
except plugins.PluginError as _err:
    raise SystemExit(f"reproduce.py: {_err}")


def registered_methods() -> Dict[str, Tuple[str, str, str, bool]]:
    """Methods for every registered labeller and learner the table above does not name:
    a labeller L with experts gives 'L' (sparse, IQL) and 'L-imitation'; one without gives
    'L' (IQL on its rewards); a learner A gives 'A' (its own labeller, imitation, when it
    learns from demonstrations; else the dataset's true rewards)."""
    from clue_jax.experiments.agents import AGENTS
    used_labellers = {lab for _, lab, _, _ in METHODS.values()}
    used_agents = {agent for agent, _, _, _ in METHODS.values()}
    out = {}
    for name, labeller in LABELLERS.items():
        if name in used_labellers:
            continue
        out[name] = ("iql", name, "sparse", True)
        if labeller.needs_experts:
            out[f"{name}-imitation"] = ("iql", name, "imitation", True)
    for name, spec in AGENTS.items():
        if name not in used_agents:
            out[name] = ((name, spec.labellers[0], "imitation", True) if spec.labellers
                         else (name, "true", "sparse", True))
    return out


METHODS.update(registered_methods())
# Extra flags that only some labellers define go only to their cells (each labeller's
# config flag and `own_flags`, from the registry).
LABELLER_FLAGS = {name: ((f"--{lab.config_flag}",) if lab.config_flag else ()) + lab.own_flags
                  for name, lab in LABELLERS.items()
                  if lab.config_flag or lab.own_flags}
LAST_N = 3  # score = mean of the last LAST_N evaluations


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
        return runner.run_dir_for(s.save_dir, s.method(), s.env_name, s.seed)

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


def route_flags(extra: List[str], labeller: str) -> List[str]:
    """`extra` without the flags that belong to other labellers."""
    foreign = [f for name, fl in LABELLER_FLAGS.items() if name != labeller for f in fl]
    return [e for e in extra if not any(e == f or e.startswith(f + "=") or e.startswith(f + ".")
                                        for f in foreign)]


def column_name(method: str, k) -> str:
    """Table column: 'IQL' / 'TD3BC' for true rewards, else '<METHOD> (K=k)'."""
    return method.upper() if METHODS[method][1] == "true" else f"{method.upper()} (K={k})"


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
        cmd = self.cells[0].command(out, extra) + _resume(self.cells, out)
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
        members = [c.command(out, extra)[2:] + _resume([c], out) for c in self.cells]
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
STOPPED_EXIT = 3  # a run stopped cleanly at its deadline (experiments.flags.STOPPED_EXIT)


def _resume(cells: Sequence[Cell], out: Path) -> List[str]:
    """['--resume'] when any of the cells' folders holds work to continue from."""
    started = any((c.run_dir(out) / f).exists() for c in cells for f in STARTED)
    return ["--resume"] if started else []


_CHILDREN = set()  # the training processes running now, ended with this process


def _end_with_parent() -> None:
    """In a child before exec: get SIGTERM when reproduce.py dies, even by SIGKILL (Linux)."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def run_child(cmd: List[str], log) -> int:
    """Run one unit's command to its end, output to `log`; returns its exit status."""
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            preexec_fn=_end_with_parent if sys.platform == "linux" else None)
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
    cmd = cell.command(out, extra)
    if isinstance(cell, Cell):
        cmd += _resume([cell], out)
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
    """Run one cell in this process (same command line, parsed by experiments.flags)."""
    run_dir = cell.run_dir(out)
    if (run_dir / "results.json").exists():
        return f"skip (done) {cell}"
    cmd = cell.command(out, extra)[1:]  # the program and its flags, without the interpreter
    if any((run_dir / f).exists() for f in STARTED):
        cmd.append("--resume")
    try:
        experiments.run(run_flags.parse_settings(cmd))
    except Exception as err:  # noqa: BLE001 -- one failed cell must not stop the grid
        return f"FAILED ({type(err).__name__}: {err}) {cell}"
    return f"ok {cell}"


def collect(cells: List[Cell], out: Path) -> List[Dict]:
    rows = []
    for cell in cells:
        path = cell.run_dir(out) / "results.json"
        if path.exists():
            res = json.loads(path.read_text())
            scores = [s for _, s in res["history"][-LAST_N:]]
            rows.append({"task": cell.task, "method": cell.method, "k": cell.k or "",
                         "seed": cell.seed, "score": float(np.mean(scores)) if scores else None,
                         "final": res["final_normalized_score"],
                         "steps": res["steps"], "wall_time_s": res.get("wall_time_s")})
    return rows


def table(rows: List[Dict], cells: List[Cell], failed: Sequence[Cell] = (),
          k_rows: bool = False) -> str:
    """Markdown: tasks x columns of mean +- std over seeds, a total row, failed cells listed.

    A column's total is shown only when every task has a score in it (a partial sum
    would read like a worse method); empty cells are '–', never 0. With `k_rows`
    (the paper's Table 4 layout) rows are (K, task) and columns methods; a method
    without experts (true rewards) shows the same runs in every K's rows.
    """
    if k_rows:
        columns = list(dict.fromkeys(c.method.upper() for c in cells))
        ks = sorted({c.k for c in cells if c.k is not None})
        tasks = [f"K={k} {t}" for k in ks for t in dict.fromkeys(c.task for c in cells)]
    else:
        columns = list(dict.fromkeys(c.column for c in cells))
        tasks = list(dict.fromkeys(c.task for c in cells))
    by, unscored = {}, {}
    for r in rows:
        if r["score"] is None:  # a run without evaluations (--eval_episodes=0)
            key = (r["task"], column_name(r["method"], r["k"]) if not k_rows
                   else r["method"].upper())
            unscored[key] = unscored.get(key, 0) + 1
            continue
        if k_rows:
            for k in ([r["k"]] if r["k"] != "" else ks):
                by.setdefault((f"K={k} {r['task']}", r["method"].upper()), []).append(r["score"])
            continue
        col = column_name(r["method"], r["k"])
        by.setdefault((r["task"], col), []).append(r["score"])
    lines = ["| Dataset | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for task in tasks:
        cells_txt = []
        for col in columns:
            s = np.asarray(by.get((task, col), []), float)
            blank = unscored.get((task.split(" ", 1)[-1] if k_rows else task, col))
            cells_txt.append(f"{s.mean():.1f} ± {s.std():.1f} (n={s.size})" if s.size else
                             f"– ({blank} without evaluation)" if blank else "–")
        lines.append(f"| {task} | " + " | ".join(cells_txt) + " |")
    groups = ([(f"total K={k}", [t for t in tasks if t.startswith(f"K={k} ")]) for k in ks]
              if k_rows else [("total", tasks)])
    for label, group in groups:  # Table 4 sums each K's rows apart
        sums = []
        for col in columns:
            s = [np.mean(by[(t, col)]) for t in group if by.get((t, col))]
            sums.append(f"{sum(s):.1f}" if len(s) == len(group) else "–")
        lines.append(f"| {label} | " + " | ".join(sums) + " |")
    if failed:
        lines += ["", f"FAILED cells ({len(failed)}; see <out>/logs/):"]
        lines += [f"- {c.task} {c.method} K={c.k} seed {c.seed}" for c in failed]
    return "\n".join(lines) + "\n"


BOOTSTRAP_REPS = 5000


def score_matrices(rows: List[Dict], cells: List[Cell]) -> Dict[str, np.ndarray]:
    """Column -> (seeds, tasks) scores, for the columns every task of the grid has with the
    same seeds (rliable's stratified bootstrap needs a full matrix); others are left out."""
    tasks = list(dict.fromkeys(c.task for c in cells))
    by = {}
    for r in rows:
        if r["score"] is None:
            continue
        by.setdefault(column_name(r["method"], r["k"]), {}).setdefault(r["task"], {})[
            r["seed"]] = r["score"]
    out = {}
    for column, per_task in by.items():
        seeds = [set(per_task.get(t, {})) for t in tasks]
        if not seeds[0] or any(s != seeds[0] for s in seeds):
            continue
        out[column] = np.array([[per_task[t][s] for t in tasks] for s in sorted(seeds[0])],
                               np.float64)
    return out


def aggregates(matrices: Dict[str, np.ndarray], seed: int = 0
               ) -> Dict[str, Dict[str, Tuple[float, float, float]]]:
    """Column -> {'IQM', 'Mean'} -> (point, low, high): rliable's interquartile mean and mean
    over every (seed, task) score, 95% stratified-bootstrap percentile intervals."""
    if not matrices:
        return {}
    from rliable import library as rly, metrics  # heavy imports, only when aggregating
    funcs = {"IQM": metrics.aggregate_iqm, "Mean": metrics.aggregate_mean}
    result = {column: {} for column in matrices}
    saved = np.random.get_state()  # rliable resamples with NumPy's global RNG
    try:
        for name, func in funcs.items():
            np.random.seed(seed)
            points, intervals = rly.get_interval_estimates(
                matrices, lambda x, f=func: np.array([f(x)]), reps=BOOTSTRAP_REPS)
            for column in matrices:
                result[column][name] = (float(points[column][0]),
                                        float(intervals[column][0, 0]),
                                        float(intervals[column][1, 0]))
    finally:
        np.random.set_state(saved)
    return result


def aggregate_table(stats: Dict[str, Dict[str, Tuple[float, float, float]]],
                    matrices: Dict[str, np.ndarray]) -> str:
    if not stats:
        return ""
    lines = ["", f"Aggregates over tasks and seeds (rliable: interquartile mean and mean of every "
             f"run's score, 95% stratified-bootstrap intervals, {BOOTSTRAP_REPS} resamples; "
             "columns with every task and the same seeds only):", "",
             "| Method | runs | IQM [95% CI] | Mean [95% CI] |", "|---|---|---|---|"]
    for column, by_metric in stats.items():
        cells_txt = [f"{p:.1f} [{lo:.1f}, {hi:.1f}]" for p, lo, hi in
                     (by_metric["IQM"], by_metric["Mean"])]
        lines.append(f"| {column} | {matrices[column].size} | " + " | ".join(cells_txt) + " |")
    return "\n".join(lines) + "\n"


def plot_aggregates(stats, path: Path) -> None:
    """results.png: rliable's interval plot of the IQM and mean of every aggregated column."""
    import matplotlib
    matplotlib.use("Agg")
    from rliable import plot_utils
    columns = list(stats)
    points = {c: np.array([stats[c]["IQM"][0], stats[c]["Mean"][0]]) for c in columns}
    intervals = {c: np.array([[stats[c]["IQM"][1], stats[c]["Mean"][1]],
                              [stats[c]["IQM"][2], stats[c]["Mean"][2]]]) for c in columns}
    fig, axes = plot_utils.plot_interval_estimates(points, intervals, ["IQM", "Mean"],
                                                algorithms=columns,
                                                xlabel="Normalized score (x100)")
    # rliable puts the x label at a fixed figure fraction, which overlaps the tick labels
    # when there are few rows: hang it just below the tick labels instead
    fig.canvas.draw()
    ticks = np.ravel(axes)[0].xaxis.get_tightbbox(fig.canvas.get_renderer())
    label = fig.texts[-1]
    label.set_verticalalignment("top")
    label.set_y(fig.transFigure.inverted().transform((0, ticks.y0))[1] - 0.02)
    fig.savefig(path, bbox_inches="tight", dpi=120)
    import matplotlib.pyplot as plt
    plt.close(fig)


def write_outputs(rows: List[Dict], cells: List[Cell], out: Path, extra: List[str],
                  failed: Sequence[Cell] = (), k_rows: bool = False,
                  with_aggregates: bool = False) -> None:
    fields = ["task", "method", "k", "seed", "status", "score", "final", "steps", "wall_time_s"]
    failed_rows = [{"task": c.task, "method": c.method, "k": c.k or "", "seed": c.seed,
                    "status": "failed"} for c in failed]
    with open(out / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows([{**r, "status": "ok"} for r in rows] + failed_rows)
    shown = [e for e in extra if not e.startswith("--deadline=")]
    header = (f"Normalized scores (x100): per run the mean of its last {LAST_N} evaluations; "
              f"mean ± std over seeds (n = seeds finished); "
              f"extra flags: {' '.join(shown) or 'none'}\n\n")
    text = header + table(rows, cells, failed, k_rows)
    if with_aggregates:
        try:
            import rliable  # noqa: F401 -- optional where only the runs are wanted
        except ImportError:
            text += "\n(rliable is not installed here: no aggregates; rerun with --table_only "\
                    "where it is.)\n"
        else:
            matrices = score_matrices(rows, cells)
            stats = aggregates(matrices)
            text += aggregate_table(stats, matrices)
            if stats:
                plot_aggregates(stats, out / "results.png")
    (out / "results.md").write_text(text)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        epilog="Flags after `--` go to every run's train_iql.py command line (e.g. -- "
               "--max_steps=30000 --eval_episodes=5), except a labeller's own flags "
               f"({', '.join(f for fl in LABELLER_FLAGS.values() for f in fl)}), which go only "
               "to its cells. Methods: " + ", ".join(sorted(METHODS)) + ".")
    parser.add_argument("--preset", default=None, choices=sorted(presets.PRESETS),
                        help="one of the paper's tables: its tasks, methods and K (each "
                             "overridable by --tasks / --methods / --num_experts), at --budget")
    parser.add_argument("--budget", default="cpu", choices=("paper", "cpu"),
                        help="with --preset: 'paper' (1M updates, 10 seeds, 10 episodes, the "
                             "paper's per-task exceptions) or 'cpu' (the reduced budget this "
                             "project measures at); default cpu")
    parser.add_argument("--plan", action="store_true",
                        help="print the plan (runs, programs, a time estimate from the newest "
                             "bench figures) and exit without running anything")
    parser.add_argument("--tasks", default=None, help="comma-separated dataset names")
    parser.add_argument("--methods", default=None,
                        help="comma-separated methods, or 'table4' for every method of the "
                             "paper's Table 4 (then rows are K x task, as in the paper), or "
                             "'study' for the CLUE sparse-setting study (each variant of "
                             "STUDY_VARIANTS, calibrated and not); default iql,clue,clue-nocalib")
    parser.add_argument("--k_rows", action="store_true",
                        help="rows K x task, one column per method (Table 4's layout)")
    parser.add_argument("--num_experts", default=None,
                        help="comma-separated K values (default 1)")
    parser.add_argument("--seeds", default=None, help="comma-separated seeds (default 0,1,2)")
    parser.add_argument("--out", default="./grid")
    parser.add_argument("--workers", type=int, default=1, help="runs at the same time")
    parser.add_argument("--pin", action="store_true",
                        help="pin each worker's run to its own CPU core (taskset); on a "
                             "2-core machine two pinned runs beat two that share both cores")
    parser.add_argument("--in_process", action="store_true",
                        help="run the cells one after another in this process (no subprocess, "
                             "no pinning; for notebooks, debugging and tests)")
    parser.add_argument("--table_only", action="store_true", help="only rewrite the table")
    parser.add_argument("--group", default="none", choices=GROUPINGS,
                        help="none: one process per run; seeds: the unfinished seeds of each "
                             "(task, method, K) as one vmapped program; method: each (task, "
                             "method)'s K x seeds as one program; dataset: each task's runs as "
                             "one program (agents stacked where their settings allow, "
                             "evaluations stepped together)")
    parser.add_argument("--group_seeds", action="store_true", help="the same as --group=seeds")
    parser.add_argument("--time_limit", type=float, default=None,
                        help="seconds: every run stops cleanly at its last checkpoint before "
                             "then, and no unit starts after it; rerun the same command to "
                             "resume (exit status 3 while runs are unfinished)")
    parser.add_argument("--backend", choices=("pool", "ray"), default="pool",
                        help="pool: a local process pool (default); ray: each unit a Ray task "
                             "(a local Ray with --workers CPUs, or the cluster at --ray_address)")
    parser.add_argument("--ray_address", default=None,
                        help="with --backend=ray: a running cluster (e.g. 'auto' or "
                             "'ray://head:10001'); default: start a local Ray")
    parser.add_argument("--cpus_per_cell", type=float, default=1.0,
                        help="with --backend=ray: CPUs each unit's task asks for")
    parser.add_argument("--gpus_per_cell", type=float, default=0.0,
                        help="with --backend=ray: GPUs each unit's task asks for (e.g. 0.25 "
                             "packs 4 units on one GPU)")
    if "--" in argv:
        i = argv.index("--")
        args, extra = parser.parse_args(argv[:i]), argv[i + 1:]
    else:
        args, extra = parser.parse_args(argv), []
    if args.group_seeds:
        args.group = "seeds"
    if not args.tasks and not args.preset:
        parser.error("--tasks is required (or --preset=<table>)")
    for name in ("tasks", "methods", "num_experts", "seeds"):
        value = getattr(args, name)
        if value is not None and not [v for v in value.split(",") if v.strip()]:
            parser.error(f"--{name}= is empty: give comma-separated values, or drop the flag "
                         "for its default")
    if args.workers < 1:
        parser.error(f"--workers={args.workers}: expected at least 1 run at a time")
    if args.time_limit is not None and args.time_limit <= 0:
        parser.error(f"--time_limit={args.time_limit}: expected seconds > 0")
    return args, extra


class Grid(NamedTuple):
    """What a command line asks for: cells, the flags every cell gets, the table layout."""

    cells: List[Cell]
    extra: List[str]
    k_rows: bool
    title: str


def build_grid(args, extra: List[str]) -> Grid:
    """The cells of a preset (with --budget) or of --tasks / --methods / --num_experts / --seeds."""
    groups = {"table4": TABLE4_METHODS, "study": STUDY_METHODS}
    preset = presets.get(args.preset) if args.preset else None
    budget = preset.budgets[args.budget] if preset else None
    tasks = args.tasks.split(",") if args.tasks else list(preset.tasks)
    method_text = args.methods or (",".join(preset.methods) if preset else "iql,clue,clue-nocalib")
    methods = list(groups.get(method_text) or method_text.split(","))
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise SystemExit(f"--methods: unknown {unknown}; choose from {sorted(METHODS)}.")
    try:
        ks = [int(k) for k in args.num_experts.split(",")] if args.num_experts else (
            list(preset.num_experts) if preset else [1])
        seeds = [int(v) for v in args.seeds.split(",")] if args.seeds else (
            list(budget.seeds) if budget else [0, 1, 2])
    except ValueError as err:
        raise SystemExit(f"--num_experts / --seeds: expected comma-separated integers ({err}).")
    cell_flags = None
    if preset:
        extra = budget.flags() + list(preset.extra) + list(extra)  # the user's flags last: win
        cell_flags = lambda task, method, k: presets.cell_flags(  # noqa: E731
            preset, args.budget, task, method, k)
    cells = make_grid(tasks, methods, ks, seeds, cell_flags)
    if len(set(cells)) != len(cells):
        raise SystemExit("reproduce.py: the grid names a run twice (a task, method, K or seed "
                         "repeated in --tasks / --methods / --num_experts / --seeds); two "
                         "processes would write one run folder. Name each once.")
    k_rows = args.k_rows or method_text == "table4" or bool(preset and preset.k_rows)
    title = (f"preset {preset.name} ({preset.title}) at the {args.budget} budget: "
             f"{budget.note}" if preset else "")
    return Grid(cells, extra, k_rows, title)


def plan_text(grid: Grid, out: Path, args) -> str:
    """What `main` would run: runs, programs, updates, and a time estimate."""
    cells = grid.cells
    done = [c for c in cells if (c.run_dir(out) / "results.json").exists()]
    units = make_units(cells, out, args.group)
    todo = [u for u in units if not all((c.run_dir(out) / "results.json").exists()
                                        for c in unit_cells(u))]
    loop = run_flags.parse_settings(cells[0].command(out, grid.extra)[1:]) if cells else None
    tasks = list(dict.fromkeys(c.task for c in cells))
    methods = list(dict.fromkeys(c.method for c in cells))
    lines = ["Plan" + (f": {grid.title}" if grid.title else ""),
             f"  {len(cells)} runs: {len(tasks)} tasks x {len(methods)} methods "
             f"({', '.join(methods)}) x K {sorted({c.k for c in cells if c.k})} x "
             f"{len({c.seed for c in cells})} seeds (a method on true rewards has no K); "
             f"{len(done)} finished in {out}",
             f"  --group={args.group}: {len(todo)} programs to run, of sizes "
             f"{sorted({len(unit_cells(u)) for u in todo}) or '-'}"
             f" (--workers={args.workers})"]
    exceptions = sorted({(c.task, c.method, c.k, " ".join(c.flags)) for c in cells if c.flags})
    for task, method, k, flags in exceptions:
        lines.append(f"  exception: {task} {method} K={k}: {flags}")
    if loop is not None:
        steps = loop.max_steps or "the domain's default"
        lines.append(f"  per run: {steps} updates, {loop.eval_episodes} episodes every "
                     f"{loop.eval_interval} updates; flags: {' '.join(grid.extra) or 'none'}")
        clue_runs = sum(c.method.startswith("clue") for u in todo for c in unit_cells(u))
        lines += presets.estimate_lines([len(unit_cells(u)) for u in todo], loop,
                                        [registry.get_spec(t).max_episode_steps for t in tasks],
                                        args.workers, clue_runs=clue_runs)
    return "\n".join(lines)


def validate(cells: List[Cell], out: Path, extra: List[str]) -> None:
    """Every distinct (task, method, K, flags) parsed and checked as its run would check it,
    before anything is launched: SystemExit naming the cell and the problem."""
    from absl import flags as absl_flags
    seen = set()
    for cell in cells:
        key = (cell.task, cell.method, cell.k, cell.flags)
        if key in seen:
            continue
        seen.add(key)
        try:
            experiments.check(run_flags.parse_settings(cell.command(out, extra)[1:]))
        except (*run_flags.EXPECTED_ERRORS, absl_flags.Error, ValueError) as err:
            raise SystemExit(f"reproduce.py: {cell.task} {cell.method} K={cell.k}: {err} "
                             "(nothing was started)") from None


def main(argv=None):
    args, extra = parse_args(sys.argv[1:] if argv is None else argv)
    grid = build_grid(args, extra)
    cells, extra, k_rows = grid.cells, grid.extra, grid.k_rows
    out = Path(args.out).resolve()
    if args.plan:
        print(plan_text(grid, out, args))
        return
    if not args.table_only:
        validate(cells, out, extra)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        _main(args, grid, out)
    except KeyboardInterrupt:
        end_children()
        sys.exit(f"[reproduce] interrupted: the runs that were training stopped at their last "
                 f"checkpoint; rerun the same command to resume them (finished runs are "
                 f"skipped). Logs in {out / 'logs'}.")


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _main(args, grid: Grid, out: Path) -> None:
    cells, extra, k_rows = grid.cells, grid.extra, grid.k_rows
    out.mkdir(parents=True, exist_ok=True)
    failed, stopped = [], []
    deadline = None
    if args.time_limit is not None:
        deadline = time.time() + args.time_limit
        extra = extra + [f"--deadline={deadline:.0f}"]
    units = make_units(cells, out, args.group)

    def report(i, unit, status):
        print(f"[reproduce] {i}/{len(units)} {status}", flush=True)
        if status.startswith("FAILED"):
            failed.extend(unit_cells(unit))
        elif status.startswith("STOPPED"):
            stopped.extend(unit_cells(unit))
        write_outputs(collect(cells, out), cells, out, extra, failed, k_rows)

    if args.table_only:
        pass
    elif args.in_process:
        if args.group != "none":
            raise SystemExit("--in_process runs cells one by one: drop --group.")
        for i, cell in enumerate(cells, 1):
            report(i, cell, run_cell_in_process(cell, out, extra))
    elif args.backend == "ray":
        run_on_ray(units, out, extra, args.ray_address, args.workers, args.cpus_per_cell,
                   args.gpus_per_cell, report, deadline)
    else:
        with ThreadPoolExecutor(max_workers=args.workers) as pool:
            cores = None
            if args.pin:
                cores = queue.Queue()
                for core in sorted(os.sched_getaffinity(0))[:args.workers]:
                    cores.put(core)
            futures = {pool.submit(run_cell, u, out, extra, cores, deadline): u for u in units}
            try:
                for i, future in enumerate(as_completed(futures), 1):
                    report(i, futures[future], future.result())
            except KeyboardInterrupt:  # before the pool waits for its workers' children
                for future in futures:
                    future.cancel()
                end_children()
                raise
    rows = collect(cells, out)
    write_outputs(rows, cells, out, extra, failed, k_rows, with_aggregates=True)
    print((out / "results.md").read_text())
    if failed:
        sys.exit(f"[reproduce] {len(failed)} of {len(cells)} cells FAILED (listed in "
                 f"{out / 'results.md'}; logs in {out / 'logs'}).")
    if stopped:
        print(f"[reproduce] {len(stopped)} of {len(cells)} cells stopped at the time limit; "
              "rerun the same command to resume them.", file=sys.stderr)
        sys.exit(STOPPED_EXIT)


if __name__ == "__main__":
    main()
