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
- Table 2 (Adroit) is the sparse setting as on AntMaze: the expert is the dataset's own
  trajectory with the best return among those with a reward > 0 (OTR's rule, the sparse
  default; Adroit's D4RL rewards are dense, so on these files that is the best-return
  trajectory), IQL takes the reference's Adroit configuration (kitchen's) and CLUE's CVAE
  Table 8's Adroit column.
- Tables 6 and 7 sweep CLUE's reward temperature c = 1..10 on AntMaze (K = 1 and 10) as
  ten methods, clue-c1 ... clue-c10 (run folders clue-sparse-K<k>-c<c>), each with the
  Sec. 8.2 exceptions of CLUE's cells.
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
from typing import Dict, List, Optional, Tuple

LOCOMOTION = tuple(f"gen-{env}-{quality}-v0" for env in ("halfcheetah", "hopper", "walker2d")
                   for quality in ("medium", "medium-replay", "medium-expert"))
ANTMAZE = tuple(f"antmaze-{stem}-v2" for stem in ("umaze", "umaze-diverse", "medium-play",
                                                  "medium-diverse", "large-play",
                                                  "large-diverse"))
ADROIT = tuple(f"{task}-{data}-v0" for task in ("door", "hammer", "pen", "relocate")
               for data in ("cloned", "human"))
TEMPERATURES = tuple(range(1, 11))  # Tables 6-7's c
TEMPERATURE_METHODS = tuple(f"clue-c{c}" for c in TEMPERATURES)
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
    "table2": Preset(
        "table2", "sparse-reward Adroit, K = 1 (IQL on the true rewards, OTR, CLUE)",
        ADROIT, ("iql", "otr", "clue"), (1,),
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
    "table6": Preset(
        "table6", "CLUE's reward temperature c = 1..10 on sparse-reward AntMaze, K = 1",
        ANTMAZE, TEMPERATURE_METHODS, (1,),
        {"paper": _PAPER_LOCO,
         "cpu": Budget((0, 1, 2), 30_000, 5000, 10, 1000, "3e4 updates, 3 seeds")}),
    "table7": Preset(
        "table7", "CLUE's reward temperature c = 1..10 on sparse-reward AntMaze, K = 10",
        ANTMAZE, TEMPERATURE_METHODS, (10,),
        {"paper": _PAPER_LOCO,
         "cpu": Budget((0, 1, 2), 30_000, 5000, 10, 1000, "3e4 updates, 3 seeds")}),
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
