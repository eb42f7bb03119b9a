"""What a reproduce.py command line asks for: the grid of cells (a preset at a budget, or
tasks x methods x K x seeds), its plan (runs, programs, a time estimate) and its check
(every distinct cell parsed and planned as its run would, before anything starts)."""

from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

from clue_jax import experiments
from clue_jax.envs import registry
from clue_jax.experiments import flags as run_flags
from clue_jax.grid import estimate, presets
from clue_jax.grid.cells import Cell, cell_settings, make_grid, make_units, unit_cells
from clue_jax.grid.methods import METHODS, STUDY_METHODS, TABLE4_METHODS, VARIANTS
from clue_jax.rewards.labellers import LABELLERS


class Grid(NamedTuple):
    """What a command line asks for: cells, the flags every cell gets, the table layout."""

    cells: List[Cell]
    extra: List[str]
    k_rows: bool
    title: str


def build_grid(args, extra: List[str]) -> Grid:
    """The cells of a preset (with --budget) or of --tasks / --methods / --num_experts / --seeds."""
    groups = {"table4": TABLE4_METHODS, "study": STUDY_METHODS,
              "temperatures": presets.TEMPERATURE_METHODS}
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
    units = make_units(cells, out, args.group, grid.extra)
    todo = [u for u in units if not all((c.run_dir(out) / "results.json").exists()
                                        for c in unit_cells(u))]
    loop = cell_settings(cells[0], out, grid.extra) if cells else None
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
    exceptions: Dict[Tuple[str, Optional[int], str], List[str]] = {}
    for c in cells:
        if c.flags:
            names = exceptions.setdefault((c.task, c.k, " ".join(c.flags)), [])
            if c.method not in names:
                names.append(c.method)
    for (task, k, flags), names in sorted(exceptions.items(), key=lambda e: e[0][:2]):
        lines.append(f"  exception: {task} {','.join(names)} K={k}: {flags}")
    if loop is not None:
        steps = loop.max_steps or "the domain's default"
        lines.append(f"  per run: {steps} updates, {loop.eval_episodes} episodes every "
                     f"{loop.eval_interval} updates; flags: {' '.join(grid.extra) or 'none'}")
        costs = estimate.read_costs() + estimate.collect(c.run_dir(out) for c in done)
        lines += estimate.estimate_lines([unit_programs(u, out, grid.extra) for u in todo], loop,
                                         [registry.get_spec(t).max_episode_steps for t in tasks],
                                         args.workers, costs=costs)
    return "\n".join(lines)


def unit_programs(unit, out: Path = Path("."), extra: Sequence[str] = ()
                  ) -> List[estimate.Program]:
    """What one unit's process runs: its cells by learner (agent and labeller) and K (one
    labelling program each; the cells of one agent train as one vmapped program), with the
    models its labelling trains: one per run, but one for the runs that differ only in how
    a model labels (`Labeller.labelling_fields`, e.g. a sweep of c: one CVAE per seed), and
    one more for each run that also trains an uncalibrated CVAE (--compare_uncalibrated;
    `extra`: the flags every cell gets)."""
    sizes: Dict[Tuple[str, str, Optional[int]], int] = {}
    models: Dict[Tuple[str, str, Optional[int]], set] = {}
    for cell in unit_cells(unit):
        agent, labeller = METHODS[cell.method][:2]
        key = (cell.task, estimate.learner_key(agent, labeller), cell.k)
        sizes[key] = sizes.get(key, 0) + 1
        models.setdefault(key, set()).add(_model_key(cell))
        if _compares_uncalibrated(cell, out, extra):
            models[key].add(("uncalibrated", cell))
    return [estimate.Program(task, learner, runs, k, len(models[task, learner, k]))
            for (task, learner, k), runs in sizes.items()]


def _compares_uncalibrated(cell: Cell, out: Path, extra: Sequence[str]) -> bool:
    """Whether the cell's run trains a second, uncalibrated CVAE beside its own."""
    settings = cell_settings(cell, out, extra)
    if settings.labeller != "clue" or not settings.compare_uncalibrated:
        return False
    return bool(experiments.make_plan(settings).labeller_config.calibrate)


def _model_key(cell: Cell) -> Tuple:
    """What a cell's labelling model depends on: equal keys train one model in a group."""
    _, labeller, setting, calibrate = METHODS[cell.method]
    flags = VARIANTS.get(cell.method, ("", "setting", ()))[2]
    lab = LABELLERS[labeller]
    own = tuple(f for f in (*flags, *cell.flags) if not lab.sets_labelling_field(f))
    if not lab.labelling_fields:
        own += (cell.method,)  # a model per run
    rule = cell.settings(Path(".")).expert_rule()  # the experts (clue and clue-top: alike)
    return (setting, calibrate, rule, cell.seed, own)


def validate(cells: List[Cell], out: Path, extra: List[str]) -> None:
    """Every distinct (task, method, K, flags) parsed and checked as its run would check it,
    before anything is launched: SystemExit naming the cell and the problem."""
    from absl import flags as absl_flags
    seen = set()
    for cell in cells:
        # a labeller's preflight may read each seed's inputs (the constant's level_from)
        per_seed = LABELLERS[METHODS[cell.method][1]].preflight is not None
        key = (cell.task, cell.method, cell.k, cell.flags, cell.seed if per_seed else None)
        if key in seen:
            continue
        seen.add(key)
        try:
            folder = experiments.make_plan(cell_settings(cell, out, extra)).run_dir
        except (*run_flags.EXPECTED_ERRORS, absl_flags.Error, ValueError) as err:
            raise SystemExit(f"reproduce.py: {cell.task} {cell.method} K={cell.k}: {err} "
                             "(nothing was started)") from None
        if folder != cell.run_dir(out):  # the grid finds, skips and tables runs by their folder
            raise SystemExit(f"reproduce.py: {cell.task} {cell.method} K={cell.k}: the flags "
                             f"after -- move its run to {folder}, where the grid expects "
                             f"{cell.run_dir(out)}; drop the flag that names the folder "
                             "(--tag, --save_dir, --setting, --num_expert) and give a variant "
                             "its own --out (nothing was started)")
