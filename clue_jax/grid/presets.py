"""The paper's experiments as grids: tasks x methods x K x seeds, at the paper's budget or ours.

    python reproduce.py --preset=table3 --budget=paper --plan   # what it would run, how long
    python reproduce.py --preset=table3 --budget=paper --group=dataset --out=./table3

Each preset names the paper's table (clue-paper.md), its datasets and methods; a budget
names the updates, seeds, evaluation cadence and episodes. `--budget=paper` is the paper's
protocol (Sec. 8.2: 1M IQL updates (0.3M on 10% of the data), 10 seeds, 10 evaluation
episodes per seed, and its per-task learning-rate and dropout exceptions for CLUE);
`--budget=cpu` is the reduced budget this project measures its tables at on 2 CPU cores.
Where the paper is silent the choice is ours and said here:
- evaluation every 5e4 updates at the paper budget (score = mean of the last 3
  evaluations, at 9e5, 9.5e5 and 1e6); the reference IQL evaluates every 5e3.
- Tables 3 and 4 run on the project's generated locomotion data (gen-*-v0, with the
  shipped SAC expert's demonstrations); D4RL's files need demonstrations the project
  does not have. Tables 1 and 5 name D4RL's AntMaze files (antmaze-*-v2), which a user
  with D4RL's data has.
- Sec. 8.2's learning-rate and dropout exceptions are applied to CLUE's cells (the
  section describes CLUE's IQL); IQL and OTR keep the reference configuration. A learning
  rate sets IQL's actor, critic and value rates alike. The AntMaze datasets made here
  (gen-antmaze-<stem>-v0/v1) get the exceptions of their D4RL twins (antmaze-<stem>-v2): the
  same maze, task and recipe.
"""

import dataclasses
import json
import math
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

# bench/bench_e2e.py --json=<this> appends its figures here; --plan reads the newest.
BENCH_FILE = Path(__file__).resolve().parents[2] / "results" / "bench" / "e2e.json"

LOCOMOTION = tuple(f"gen-{env}-{quality}-v0" for env in ("halfcheetah", "hopper", "walker2d")
                   for quality in ("medium", "medium-replay", "medium-expert"))
ANTMAZE = tuple(f"antmaze-{stem}-v2" for stem in ("umaze", "umaze-diverse", "medium-play",
                                                  "medium-diverse", "large-play",
                                                  "large-diverse"))
TABLE4_METHODS = ("iql", "sqil", "iqlearn", "oril", "valuedice", "demodice", "smodice",
                  "clue-imitation")


@dataclasses.dataclass(frozen=True)
class Budget:
    """How long and how many: seeds, learner updates, evaluation cadence and episodes."""

    seeds: Tuple[int, ...]
    max_steps: int
    eval_interval: int
    eval_episodes: int
    log_interval: int = 1000
    note: str = ""

    def flags(self) -> List[str]:
        return [f"--max_steps={self.max_steps}", f"--eval_interval={self.eval_interval}",
                f"--eval_episodes={self.eval_episodes}", f"--log_interval={self.log_interval}"]


@dataclasses.dataclass(frozen=True)
class Preset:
    """One of the paper's tables as a grid.

    Attributes:
        name: 'table1', ...; title: what the paper's table shows.
        tasks, methods, num_experts: the grid (methods as reproduce.METHODS names).
        budgets: 'paper' and 'cpu'.
        k_rows: the table's layout has rows K x task (Table 4).
        extra: flags every cell gets (e.g. --dataset_fraction for Table 5).
    """

    name: str
    title: str
    tasks: Tuple[str, ...]
    methods: Tuple[str, ...]
    num_experts: Tuple[int, ...]
    budgets: Dict[str, Budget]
    k_rows: bool = False
    extra: Tuple[str, ...] = ()


_PAPER_LOCO = Budget(tuple(range(10)), 1_000_000, 50_000, 10, 5000,
                     "the paper's: 1M updates, 10 seeds, 10 episodes per evaluation")
_PAPER_10PCT = Budget(tuple(range(10)), 300_000, 15_000, 10, 5000,
                      "the paper's for 10% of the data: 0.3M updates, 10 seeds")

PRESETS: Dict[str, Preset] = {
    "table1": Preset(
        "table1", "sparse-reward AntMaze, K = 1 (IQL on the true rewards, OTR, CLUE)",
        ANTMAZE, ("iql", "otr", "clue"), (1,),
        {"paper": _PAPER_LOCO,
         "cpu": Budget((0, 1, 2), 30_000, 5000, 10, 1000, "3e4 updates, 3 seeds")}),
    "table3": Preset(
        "table3", "offline imitation on locomotion, K = 1, 5, 10 (IQL, OTR, CLUE)",
        LOCOMOTION, ("iql", "otr-imitation", "clue-imitation"), (1, 5, 10),
        {"paper": _PAPER_LOCO,
         "cpu": Budget((0, 1, 2), 30_000, 5000, 5, 1000, "3e4 updates, 3 seeds, 5 episodes")}),
    "table4": Preset(
        "table4", "offline imitation baselines on locomotion, K = 1 and 10",
        LOCOMOTION, TABLE4_METHODS, (1, 10),
        {"paper": _PAPER_LOCO,
         "cpu": Budget((0, 1, 2), 10_000, 2000, 5, 1000, "1e4 updates, 3 seeds, 5 episodes")},
        k_rows=True),
    "table5": Preset(
        "table5", "AntMaze with 10% of the data, K = 1 and 10 (IQL, OTR, CLUE)",
        ANTMAZE, ("iql", "otr", "clue"), (1, 10),
        {"paper": _PAPER_10PCT,
         "cpu": Budget((0, 1, 2), 30_000, 5000, 10, 1000, "3e4 updates, 3 seeds")},
        extra=("--dataset_fraction=0.1",)),
}

# Sec. 8.2's exceptions: (task, K) -> flags of CLUE's cells.
_LR = "--config.actor_lr={lr} --config.critic_lr={lr} --config.value_lr={lr}"
PAPER_EXCEPTIONS: Dict[Tuple[str, int], Tuple[str, ...]] = {
    ("gen-hopper-medium-expert-v0", 10): tuple(_LR.format(lr=1e-3).split()),
    ("antmaze-umaze-diverse-v2", 1): tuple(_LR.format(lr=5e-4).split()),
    ("antmaze-umaze-diverse-v2", 10): tuple(_LR.format(lr=5e-4).split()),
    ("antmaze-medium-play-v2", 1): ("--config.dropout_rate=0.2",),
    ("antmaze-medium-play-v2", 10): ("--config.dropout_rate=0.2",),
    ("antmaze-medium-diverse-v2", 1): ("--config.dropout_rate=0.2",),
    ("antmaze-large-play-v2", 10): ("--config.dropout_rate=0.2",),
}

# The AntMaze datasets made here -> the D4RL datasets they are made after.
D4RL_TWINS = {f"gen-{name[:-len('-v2')]}-{version}": name for name in ANTMAZE
              for version in ("v0", "v1")}


def cell_flags(preset: Preset, budget: str, task: str, method: str, k: Optional[int]
               ) -> Tuple[str, ...]:
    """The flags one cell of `preset` gets beyond the budget's (the paper's exceptions)."""
    if budget != "paper" or not method.startswith("clue") or k is None:
        return ()
    return PAPER_EXCEPTIONS.get((D4RL_TWINS.get(task, task), k), ())


def get(name: str) -> Preset:
    if name not in PRESETS:
        raise ValueError(f"--preset={name!r}: expected one of {sorted(PRESETS)}.")
    return PRESETS[name]


def newest_bench(path: Path = BENCH_FILE, device: Optional[str] = None) -> Optional[dict]:
    """The newest bench_e2e record (of `device`, e.g. 'gpu: NVIDIA H200 (x1)', when one
    exists for it), else None."""
    if not path.exists():
        return None
    records = json.loads(path.read_text())
    mine = [r for r in records if device and r.get("device") == device]
    return (mine or records or [None])[-1]


def _rate(record: dict, runs: int) -> float:
    """IQL seed-updates/s for a program of `runs` stacked runs: the bench's single-run and
    group figures, interpolated in log(runs) between them, held flat beyond the group's."""
    group = record["group_phases_s"]
    single = record["separate_phases_s"][-1]
    size = record["runs"]
    r_group = size * record["max_steps"] / max(group["training"] - group.get("evaluation", 0), 1e-9)
    r_one = record["max_steps"] / max(single["training"] - single.get("evaluation", 0), 1e-9)
    if runs >= size or size == 1:
        return r_group
    w = math.log(runs) / math.log(size)
    return math.exp((1 - w) * math.log(r_one) + w * math.log(r_group))


def estimate_lines(program_sizes: Sequence[int], settings: Any, episode_lengths: Sequence[int],
                   workers: int = 1, record: Optional[dict] = None, clue_runs: int = 0
                   ) -> List[str]:
    """A time estimate of programs of the given sizes from a bench_e2e record.

    Updates: the bench's IQL seed-updates/s at that program size (its env's network shapes).
    Evaluation: an upper bound, every episode to the longest time limit of the grid's envs,
    at the bench's measured seconds per env step. Labelling: the bench's CLUE labelling time
    per run times `clue_runs` (OTR is not estimated). Programs are spread over `workers`.
    """
    from clue_jax import evaluation  # noqa: F401 -- the device is the one jax sees
    import jax
    device = f"{jax.devices()[0].platform}: {jax.devices()[0].device_kind} (x{jax.device_count()})"
    record = record or newest_bench(device=device)
    if record is None:
        return ["  time: no bench figures yet (python bench/bench_e2e.py "
                f"--json={BENCH_FILE.relative_to(BENCH_FILE.parents[2])}); no estimate"]
    steps = settings.max_steps or 1_000_000
    evals = max(1, steps // settings.eval_interval)
    per_step = record["group_phases_s"].get("evaluation", 0) / max(record["group_eval_env_steps"], 1)
    longest = max(episode_lengths or [1000])
    label_per_run = record["group_phases_s"].get("labelling", 0) / record["runs"]
    updates_s = sum(n * steps / _rate(record, n) for n in program_sizes)
    eval_s = sum(evals * n * settings.eval_episodes * longest * per_step for n in program_sizes)
    label_s = label_per_run * clue_runs
    total = (updates_s + eval_s + label_s) / max(1, min(workers, len(program_sizes) or 1))
    same = " (this device)" if record["device"] == device else f" (not this device: {device})"
    return [f"  time estimate from bench_e2e of {record['date']} on {record['device']}{same}, "
            f"{record['env']}:",
            f"    updates {duration(updates_s)}, evaluation at most {duration(eval_s)} "
            f"({per_step * 1e6:.0f} us per env step, {longest} steps per episode), labelling "
            f"about {duration(label_s)} (CLUE's, OTR not estimated)",
            f"    total about {duration(total)} with --workers={workers} (network shapes, "
            "learners and envs other than the bench's change these figures)"]


def duration(seconds: float) -> str:
    """'44 s', '12.3 min' or '3.01 h'."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.2f} h"
