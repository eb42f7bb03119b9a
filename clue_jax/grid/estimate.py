"""How long a grid will take: `reproduce.py --plan`'s time estimate, per learner.

    costs = estimate.collect([Path("grid_t4")])         # what finished runs cost
    estimate.write_costs(costs, estimate.COSTS_FILE)     # scripts/run_costs.py does this
    estimate.estimate_lines(programs, loop, [1000], workers=2, costs=costs)

Two sources, both measured on a named device:
- Finished runs. Each run's results.json keeps `timing` (clue_jax.experiments.group): its
  labelling program (members, seconds, and the models it trained where a labeller counts
  them) and its training program (members, seconds of training and of the evaluation
  within it, updates per member and evaluation env steps made in that process). `collect`
  turns each into a `Cost`: seconds per update of its training program, labelling seconds
  (and models), seconds per evaluation env step. The project's
  measured costs ship in results/bench/run_costs.json (scripts/run_costs.py); the grid's
  own finished runs are read as well.
- bench_e2e (results/bench/e2e.json): IQL's seed-updates/s alone and vmapped. It scales a
  cost to a program of another size, and prices a learner no finished run on this device
  has measured (then at IQL's rate, and the plan says so).

A process's runs of one agent (IQL on true, CLUE's and OTR's rewards alike) train as one
program; m of them for S updates are priced S x (seconds per update of the cost's program)
x (m / rate(m)) / (r / rate(r)), where r is the cost's program size and rate() the bench's
seed-updates/s at that size (without a bench: m / r), plus evaluation (every episode to the
longest time limit, at the cost's seconds per env step) and, per labeller, labelling (the
cost's labelling seconds per model x the models the program trains: one per run, but one
for the runs of a process that differ only in how a model labels, e.g. a sweep of CLUE's c
with --group=dataset trains one CVAE per seed). Costs of the same task are preferred, then of
the same environment (hopper, antmaze, ...: network shapes and episodes alike), then any;
several matching costs give their median, and labelling prefers costs of the same K.

A record written before the per-program figures (no `training` entry) reads its group as
one program. It is skipped when its last process was a resume (its config.json's settings
say so), because how many updates that process made was not recorded.

What a cost does not see: compilation is counted in the updates (short runs overstate
them), labeller budgets (CVAE or discriminator steps) other than the cost's, and start-up.
"""

import dataclasses
import json
import math
import statistics
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from clue_jax import training
from clue_jax.experiments import records

ROOT = Path(__file__).resolve().parents[2]
# bench/bench_e2e.py --json=<this> appends its figures here; --plan reads the newest.
BENCH_FILE = ROOT / "results" / "bench" / "e2e.json"
# scripts/run_costs.py writes the costs of the project's measured runs here.
COSTS_FILE = ROOT / "results" / "bench" / "run_costs.json"


@dataclasses.dataclass(frozen=True)
class Cost:
    """What one finished run's programs cost, on `device`."""

    device: str
    task: str
    learner: str           # '<agent>+<labeller>', e.g. 'iql+clue', 'demodice+none'
    train_runs: int        # members of its training program
    update_s: float        # seconds per update of that program (evaluation excluded)
    label_runs: int        # members of its labelling program
    label_s: Optional[float]  # that program's labelling seconds (None: resumed, unknown)
    eval_step_s: Optional[float]  # seconds per evaluation env step (None: no evaluation)
    source: str            # the run folder
    k: Optional[int] = None  # the experts it used (labelling may grow with them: OTR)
    label_models: Optional[int] = None  # models its labelling program trained (None: one a run)

    @property
    def label_s_per_model(self) -> Optional[float]:
        """Labelling seconds per model its program trained (None: not known)."""
        if self.label_s is None:
            return None
        return self.label_s / (self.label_models or self.label_runs)


def learner_key(agent: str, labeller: str) -> str:
    return f"{agent}+{labeller}"


def run_cost(run_dir: Path) -> Optional[Cost]:
    """The Cost of a finished run folder, or None (unfinished, unreadable, no timing or
    device, or no update made in its last process)."""
    try:
        return _run_cost(run_dir)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # a file this reader does not know: no figures, not a failed plan


def _run_cost(run_dir: Path) -> Optional[Cost]:
    results = json.loads((run_dir / "results.json").read_text())
    config = json.loads((run_dir / "config.json").read_text())
    timing, device = results.get("timing"), config.get("provenance", {}).get("device")
    if not timing or not device or "agent" not in results:
        return None
    if "training" in timing:
        train, label = timing["training"], timing.get("labelling", {})
        runs, updates = train["runs"], train.get("updates", 0)
        train_s = train.get("training", 0.0) - train.get("evaluation", 0.0)
        eval_s, env_steps = train.get("evaluation", 0.0), train.get("eval_env_steps", 0)
        label_runs = label.get("runs", runs)
        label_models = label.get("models")
        # a resumed run may have read its labels back: its labelling time says nothing
        label_s = label.get("labelling", 0.0) if updates >= results["steps"] else None
    else:  # written before the per-program figures: the group as one program
        if config.get("settings", {}).get("resume"):
            return None  # its last process may have made any part of its updates
        seconds, runs = timing["seconds"], timing["runs_in_group"]
        updates, label_runs, label_models = results["steps"], runs, None
        train_s = seconds.get("training", 0.0) - seconds.get("evaluation", 0.0)
        eval_s, label_s = seconds.get("evaluation", 0.0), seconds.get("labelling", 0.0)
        env_steps = runs * training.evaluation_env_steps(run_dir)
    if updates <= 0 or train_s <= 0:
        return None
    return Cost(device=device, task=results["env_name"],
                learner=learner_key(results["agent"], results.get("labeller", "true")),
                train_runs=int(runs), update_s=train_s / updates, label_runs=int(label_runs),
                label_s=label_s if label_models != 0 else None, label_models=label_models,
                eval_step_s=eval_s / env_steps if env_steps else None,
                source=str(run_dir), k=results.get("num_expert_used"))


def collect(paths: Iterable[Path]) -> List[Cost]:
    """The costs of every finished run folder under `paths` (a run folder itself counts)."""
    out = []
    for path in paths:
        for results in sorted(Path(path).rglob("results.json")):
            cost = run_cost(results.parent)
            if cost is not None:
                out.append(cost)
    return out


def read_costs(path: Path = COSTS_FILE) -> List[Cost]:
    if not path.exists():
        return []
    return [Cost(**record) for record in json.loads(path.read_text())]


def write_costs(costs: Sequence[Cost], path: Path = COSTS_FILE) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([dataclasses.asdict(c) for c in costs], indent=1) + "\n")


def newest_bench(path: Path = BENCH_FILE, device: Optional[str] = None) -> Optional[dict]:
    """The newest bench_e2e record (of `device`, e.g. 'gpu: NVIDIA H200 (x1)', when given:
    another device's rates would be off by orders of magnitude), else None."""
    if not path.exists():
        return None
    records = [r for r in json.loads(path.read_text())
               if device is None or r.get("device") == device]
    return records[-1] if records else None


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


def _size_scale(bench: Optional[dict], runs: int, measured: int) -> float:
    """Seconds per update of a program of `runs` members over one of `measured` members."""
    if bench is None:
        return runs / measured
    return (runs / _rate(bench, runs)) / (measured / _rate(bench, measured))


@dataclasses.dataclass(frozen=True)
class Program:
    """`runs` members of one learner with `k` experts on `task` in one process of the plan
    (one labelling program; the process's members of one agent train as one program)."""

    task: str
    learner: str
    runs: int
    k: Optional[int] = None
    models: Optional[int] = None  # the models its labelling trains (None: one a run)

    @property
    def label_models(self) -> int:
        return self.runs if self.models is None else self.models


def _nearest(costs: Sequence[Cost], task: str, match) -> Tuple[List[Cost], str]:
    """The matching costs of `task`, else of its environment, else any; and which."""
    mine = [c for c in costs if match(c)]
    for pick, where in (([c for c in mine if c.task == task], "its task"),
                        ([c for c in mine if environment(c.task) == environment(task)],
                         "its environment"), (mine, "other environments")):
        if pick:
            return pick, f"runs on {where}"
    return [], "no finished run"


def agent_of(learner: str) -> str:
    return learner.split("+")[0]


def price(process: Sequence[Program], steps: int, eval_steps: int, costs: Sequence[Cost],
          bench: Optional[dict]) -> List[Tuple[str, str, Optional[float], str]]:
    """(phase, what, seconds or None, where from) of one process: labelling per learner
    program (its labeller), updates and evaluation (at most) per training program (its
    programs of one agent on one task stack as one vmapped program). `eval_steps`: the env
    steps of every evaluation of one run."""
    items = []
    for p in process:
        pick, where = _nearest(costs, p.task, lambda c: c.learner == p.learner)
        pick = [c for c in pick if c.k == p.k] or pick  # the same K where measured
        labels = [c.label_s_per_model for c in pick if c.label_s is not None]
        if p.learner.endswith(("+true", "+none")):  # the dataset's rewards, or none
            seconds, where = 0.0, "nothing to label"
        elif labels:
            seconds = p.label_models * statistics.median(labels)
        elif p.learner == learner_key("iql", "clue") and bench is not None:
            seconds = (p.label_models * bench["group_phases_s"].get("labelling", 0)
                       / bench["runs"])
            where = "bench_e2e"
        else:
            seconds, where = None, "no finished run"
        items.append(("labelling", p.learner, seconds, where))
    stacks: Dict[Tuple[str, str], int] = {}
    for p in process:
        key = (p.task, agent_of(p.learner))
        stacks[key] = stacks.get(key, 0) + p.runs
    for (task, agent), runs in stacks.items():
        pick, where = _nearest(costs, task, lambda c: agent_of(c.learner) == agent)
        per_step = [c.eval_step_s for c in pick if c.eval_step_s is not None]
        step_s = statistics.median(per_step) if per_step else _bench_step_s(bench)
        if pick:
            seconds = steps * statistics.median([c.update_s * _size_scale(bench, runs, c.train_runs)
                                       for c in pick])
        elif bench is not None:
            seconds, where = runs * steps / _rate(bench, runs), "IQL's rate in bench_e2e"
        else:
            seconds = None
        items.append(("updates", agent, seconds, where))
        items.append(("evaluation", agent, None if step_s is None else runs * eval_steps * step_s,
                      where))
    return items


def environment(task: str) -> str:
    """A dataset's environment, the first word of its name: hopper, antmaze, pointmaze..."""
    return task.removeprefix("gen-").split("-")[0]


def _bench_step_s(bench: Optional[dict]) -> Optional[float]:
    if bench is None:
        return None
    return bench["group_phases_s"].get("evaluation", 0) / max(bench["group_eval_env_steps"], 1)


def makespan(durations: Sequence[float], workers: int) -> float:
    """Wall time of `durations` on `workers` processes, longest first to the least loaded
    (as a process pool takes them when the longest are listed first; the grid's order may
    differ)."""
    loads = [0.0] * max(1, workers)
    for d in sorted(durations, reverse=True):
        loads[loads.index(min(loads))] += d
    return max(loads)


def estimate_lines(programs: Sequence[Sequence[Program]], settings: Any,
                   episode_lengths: Sequence[int], workers: int = 1,
                   costs: Optional[Sequence[Cost]] = None, bench: Any = "newest",
                   device: Optional[str] = None) -> List[str]:
    """The plan's time estimate: `programs` are the grid's processes, each the programs it
    runs; `costs` default to the shipped ones, `bench` ("newest") to the newest bench_e2e
    record of this device (None: no bench), `device` to the one jax sees (figures of other
    devices are not used)."""
    if device is None:
        from clue_jax import evaluation  # noqa: F401 -- the device is the one jax sees
        device = records.device_name()
    if bench == "newest":
        bench = newest_bench(device=device)
    costs = [c for c in (read_costs() if costs is None else costs) if c.device == device]
    costs = list({c.source: c for c in costs}.values())  # a run read twice counts once
    steps = settings.max_steps or 1_000_000
    eval_steps = (max(1, steps // settings.eval_interval) * settings.eval_episodes
                  * max(episode_lengths or [1000]))
    totals = {"updates": 0.0, "labelling": 0.0, "evaluation": 0.0}
    sources: Dict[str, Dict[Tuple[str, str], int]] = {"updates": {}, "labelling": {}}
    unpriced = set()
    walls = []
    for process in programs:
        wall = 0.0
        for phase, what, seconds, where in price(process, steps, eval_steps, costs, bench):
            if phase in sources and where != "nothing to label":
                sources[phase][(what, where)] = sources[phase].get((what, where), 0) + 1
            if seconds is None:
                unpriced.add(f"{phase} of {what}")
            else:
                totals[phase] += seconds
                wall += seconds
        walls.append(wall)
    if not walls:
        return ["  time: nothing to run"]
    if bench is None and not costs:
        return [f"  time: no figures of {device} yet (finished runs on it, or python "
                f"bench/bench_e2e.py --json={BENCH_FILE.relative_to(ROOT)}); no estimate"]
    lines = [f"  time estimate on {device}"
             + (f", sizes scaled by bench_e2e of {bench['date']}" if bench else
                ", no bench_e2e record of it (sizes scaled linearly)") + ":"]
    for phase, by in sources.items():
        for place in dict.fromkeys(where for _, where in sorted(by, key=lambda k: k[1])):
            lines.append(f"    {phase} priced from {place}: " + ", ".join(
                f"{what} x{n}" for (what, where), n in sorted(by.items()) if where == place))
    lines.append(f"    updates {duration(totals['updates'])}, evaluation at most "
                 f"{duration(totals['evaluation'])} ({max(episode_lengths or [1000])} steps "
                 f"per episode), labelling about {duration(totals['labelling'])}")
    if unpriced:
        lines.append(f"    not estimated (no figures): {', '.join(sorted(unpriced))}")
    lines.append(f"    total about {duration(makespan(walls, workers))} with --workers={workers}"
                 " (start-up, data and compilation beyond the measured runs' not counted)")
    return lines


def duration(seconds: float) -> str:
    """'44 s', '12.3 min' or '3.01 h'."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.2f} h"
