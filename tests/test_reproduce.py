"""The grid runner: cells, commands, skip/resume, and the markdown table by hand."""

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import reproduce  # noqa: E402
from clue_jax import experiments  # noqa: E402
from clue_jax.grid import build, execute, methods, tables  # noqa: E402
from clue_jax.grid import cells as grid_cells  # noqa: E402
from clue_jax.experiments import flags as run_flags  # noqa: E402
from clue_jax.experiments.settings import read_plan_file  # noqa: E402


def planned(cmd):
    """The settings a unit's process gets: its --plan_file's."""
    return read_plan_file(next(a for a in cmd if a.startswith("--plan_file=")).split("=", 1)[1])


def test_grid_has_one_iql_cell_per_task_and_seed():
    cells = grid_cells.make_grid(["a", "b"], ["iql", "clue", "clue-nocalib", "constant"], [1, 5],
                                 [0, 1, 2])
    assert len(cells) == 2 * (1 + 2 + 2 + 1) * 3  # no K for the labellers without experts
    assert {c.column for c in cells} == {"IQL", "CLUE (K=1)", "CLUE (K=5)",
                                         "CLUE-NOCALIB (K=1)", "CLUE-NOCALIB (K=5)", "CONSTANT"}


def test_commands_and_run_dirs(tmp_path):
    iql = grid_cells.Cell("t", "iql", None, 3)
    nocal = grid_cells.Cell("t", "clue-nocalib", 5, 1)
    assert iql.run_dir(tmp_path) == tmp_path / "iql-true" / "t" / "seed_3"
    assert nocal.run_dir(tmp_path) == tmp_path / "clue-sparse-K5-nocalib" / "t" / "seed_1"
    cmd = nocal.command(tmp_path, ["--max_steps=10"])
    assert cmd[1].endswith("train_iql.py") and "--labeller=clue" in cmd and "--num_expert=5" in cmd
    assert "--nocalibrate" in cmd and cmd[-1] == "--max_steps=10"
    assert "--labeller=true" in iql.command(tmp_path, [])
    td3bc = grid_cells.Cell("t", "td3bc", None, 0)
    assert td3bc.column == "TD3BC" and "--agent=td3bc" in td3bc.command(tmp_path, [])
    assert td3bc.run_dir(tmp_path) == tmp_path / "td3bc-true" / "t" / "seed_0"
    otr = grid_cells.Cell("t", "otr-imitation", 1, 2)
    assert otr.run_dir(tmp_path) == tmp_path / "otr-imitation-K1" / "t" / "seed_2"
    assert "--labeller=otr" in otr.command(tmp_path, []) and "--setting=imitation" in otr.command(
        tmp_path, [])
    imitation = grid_cells.Cell("t", "clue-imitation", 10, 0)
    assert imitation.run_dir(tmp_path) == tmp_path / "clue-imitation-K10" / "t" / "seed_0"
    cmd = imitation.command(tmp_path, [])
    assert "--setting=imitation" in cmd and "--nocalibrate" not in cmd
    assert "--setting=sparse" in grid_cells.Cell("t", "clue", 1, 0).command(tmp_path, [])


def test_study_cells_name_their_variant_and_parse_to_it(tmp_path):
    """Each study method has its own run folder, and its command line parses to settings
    whose method name is that folder's and whose CLUE config holds the variant."""
    cells = [grid_cells.Cell("gen-pointmaze-large-diverse-v0", m, 1, 0)
             for m in methods.STUDY_METHODS]
    dirs = [c.run_dir(tmp_path) for c in cells]
    assert len(set(dirs)) == len(cells) == 13
    for cell, run_dir in zip(cells, dirs):
        settings = run_flags.parse_settings(cell.command(tmp_path, [])[1:],
                                            default_labeller="true")
        assert settings.method() == run_dir.parts[-3], cell.method
        assert settings.calibrate == (not cell.method.endswith("nocalib"))
    rr = run_flags.parse_settings(grid_cells.Cell("gen-pointmaze-large-diverse-v0", "clue-rr-shift",
                                                 1, 0).command(tmp_path, [])[1:])
    assert (rr.labeller_config.reward_scaling, rr.labeller_config.reward_shift) == (
        "return_range", -1.0)
    assert grid_cells.Cell("t", "clue-goal", 1, 0).run_dir(tmp_path).parts[-3] == \
        "clue-sparse-K1-goal_segments"
    both = run_flags.parse_settings(grid_cells.Cell(
        "gen-pointmaze-large-diverse-v0", "clue-goal-calibmean", 1, 0).command(tmp_path, [])[1:])
    assert (both.expert_selection, both.labeller_config.calib_reduction) == (
        "goal_segments", "mean")
    assert grid_cells.Cell("t", "clue-top-calibmean", 1, 0).run_dir(tmp_path).parts[-3] == \
        "clue-sparse-K1-top_return-calibmean"


def test_sampled_cells_label_with_a_sample_of_the_encoder(tmp_path):
    for method, folder in (("clue-sampled", "clue-sparse-K1-sampled"),
                           ("clue-imitation-sampled", "clue-imitation-K1-sampled")):
        cell = grid_cells.Cell("gen-pointmaze-umaze-diverse-v0", method, 1, 0)
        assert cell.run_dir(tmp_path).parts[-3] == folder
        settings = run_flags.parse_settings(cell.command(tmp_path, [])[1:],
                                            default_labeller="true")
        assert settings.method() == folder and settings.calibrate
        assert settings.labeller_config.use_mean is False
    plain = run_flags.parse_settings(grid_cells.Cell(
        "gen-pointmaze-umaze-diverse-v0", "clue", 1, 0).command(tmp_path, [])[1:])
    assert plain.labeller_config is None or plain.labeller_config.use_mean is True


def test_bc_cells_run_iql_with_every_advantage_weight_one(tmp_path):
    bc = grid_cells.Cell("gen-antmaze-umaze-v0", "bc", None, 0)
    assert bc.column == "BC" and bc.run_dir(tmp_path).parts[-3] == "iql-true-bc"
    settings = run_flags.parse_settings(bc.command(tmp_path, [])[1:], default_labeller="true")
    assert settings.method() == "iql-true-bc" and settings.labeller == "true"
    config = settings.agent_config  # the antmaze config (expectile 0.9, dropout none), beta 0
    assert (config.temperature, config.expectile, config.dropout_rate) == (0.0, 0.9, None)


def test_labeller_flags_go_only_to_their_cells(tmp_path):
    extra = ["--max_steps=10", "--cvae_steps=5", "--clue_config.temperature=3",
             "--otr_config.epsilon=0.1"]
    assert grid_cells.Cell("t", "iql", None, 0).command(tmp_path, extra)[-1] == "--max_steps=10"
    clue = grid_cells.Cell("t", "clue", 1, 0).command(tmp_path, extra)
    assert clue[-3:] == ["--max_steps=10", "--cvae_steps=5", "--clue_config.temperature=3"]
    otr = grid_cells.Cell("t", "otr", 1, 0).command(tmp_path, extra)
    assert otr[-2:] == ["--max_steps=10", "--otr_config.epsilon=0.1"]
    level = ["--max_steps=10", "--constant_config.value=0.5"]
    assert grid_cells.Cell("t", "constant", None, 0).command(tmp_path, level)[-2:] == level
    assert grid_cells.Cell("t", "iql", None, 0).command(tmp_path, level)[-1] == "--max_steps=10"


def test_run_cell_skips_done_and_resumes_started(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(execute, "run_child", lambda cmd, log: calls.append(cmd) or 0)
    done = grid_cells.Cell("t", "iql", None, 0)
    done.run_dir(tmp_path).mkdir(parents=True)
    (done.run_dir(tmp_path) / "results.json").write_text("{}")
    assert execute.run_cell(done, tmp_path, []).startswith("skip")
    started = grid_cells.Cell("t", "clue", 1, 0)
    started.run_dir(tmp_path).mkdir(parents=True)
    (started.run_dir(tmp_path) / "checkpoint.msgpack").write_bytes(b"")
    assert execute.run_cell(started, tmp_path, []).startswith("ok")
    fresh = grid_cells.Cell("t", "clue", 1, 1)
    execute.run_cell(fresh, tmp_path, [])
    assert planned(calls[0])[0].resume and not planned(calls[1])[0].resume


def test_table_mean_std_and_total(tmp_path):
    cells = grid_cells.make_grid(["a", "b"], ["iql", "clue"], [1], [0, 1])
    scores = {("a", "iql"): [10.0, 30.0], ("a", "clue"): [50.0, 50.0], ("b", "iql"): [0.0, 100.0],
              ("b", "clue"): [40.0, 60.0]}
    for cell in cells:
        run_dir = cell.run_dir(tmp_path)
        run_dir.mkdir(parents=True)
        final = scores[(cell.task, cell.method)][cell.seed]
        # score = mean of the last 3 evaluations: (x - 6, x + 3, x + 3) averages to x
        (run_dir / "results.json").write_text(json.dumps(
            {"final_normalized_score": final + 3, "steps": 5,
             "history": [[1, -50.0], [2, final - 6], [3, final + 3], [4, final + 3]]}))
    rows = tables.collect(cells, tmp_path)
    text = tables.table(rows, cells)
    assert "| a | 20.0 ± 10.0 (n=2) | 50.0 ± 0.0 (n=2) |" in text
    assert "| b | 50.0 ± 50.0 (n=2) | 50.0 ± 10.0 (n=2) |" in text
    assert "| total | 70.0 | 100.0 |" in text
    tables.write_outputs(rows, cells, tmp_path, [])
    assert (tmp_path / "results.csv").read_text().count("\n") == 1 + len(cells)


def test_table4_layout_rows_are_k_and_task(tmp_path):
    cells = grid_cells.make_grid(["a"], ["iql", "demodice"], [1, 10], [0])
    assert [c.method for c in cells].count("iql") == 1  # true rewards: no K
    for cell, final in zip(cells, [10.0, 20.0, 30.0]):
        run_dir = cell.run_dir(tmp_path)
        run_dir.mkdir(parents=True)
        (run_dir / "results.json").write_text(json.dumps(
            {"final_normalized_score": final, "steps": 5, "history": [[1, final]]}))
    text = tables.table(tables.collect(cells, tmp_path), cells, k_rows=True)
    assert "| Dataset | IQL | DEMODICE |" in text
    assert "| K=1 a | 10.0 ± 0.0 (n=1) | 20.0 ± 0.0 (n=1) |" in text
    assert "| K=10 a | 10.0 ± 0.0 (n=1) | 30.0 ± 0.0 (n=1) |" in text
    assert "| total K=1 | 10.0 | 20.0 |" in text and "| total K=10 | 10.0 | 30.0 |" in text
    demodice = cells[1].settings(tmp_path)
    assert (demodice.agent, demodice.labeller, demodice.setting) == ("demodice", "none",
                                                                      "imitation")
    assert cells[1].run_dir(tmp_path).parts[-3] == "demodice-imitation-K1"
    assert set(methods.TABLE4_METHODS) <= set(methods.METHODS)


def test_unknown_method_is_refused():
    with pytest.raises(SystemExit, match="unknown"):
        reproduce.main(["--tasks=a", "--methods=gail", "--out=/tmp/unused", "--table_only"])


@pytest.mark.slow
def test_in_process_grid_equals_the_command_lines(tmp_path):
    """--in_process runs the same command lines (parsed by experiments.flags) in this process."""
    from clue_jax.generation import generated
    maze = generated.ensure_generated("gen-pointmaze-umaze-diverse-v0",
                                      cache_dir=str(tmp_path / "data"), size=3000, seed=0)
    extra = [f"--dataset_path={maze}", "--max_steps=20", "--log_interval=10", "--eval_interval=10",
             "--eval_episodes=1", "--batch_size=16", "--config=configs/antmaze_config.py",
             "--config.hidden_dims=(8,8)"]
    reproduce.main(["--tasks=gen-pointmaze-umaze-diverse-v0", "--methods=iql,otr", "--seeds=0",
                    f"--out={tmp_path / 'grid'}", "--in_process", "--", *extra])
    rows = (tmp_path / "grid" / "results.csv").read_text().splitlines()
    assert len(rows) == 3 and rows[1].startswith("gen-pointmaze-umaze-diverse-v0,iql,,0,")
    import csv
    iql_row, otr_row = csv.DictReader(rows)  # both learned from one file; only OTR has experts
    assert iql_row["data"] == otr_row["data"] and len(iql_row["data"]) == 16
    assert iql_row["experts"] == "" and len(otr_row["experts"]) == 16
    assert "MIXED DATA" not in (tmp_path / "grid" / "results.md").read_text()
    results = json.loads((tmp_path / "grid" / "otr-sparse-K1" / "gen-pointmaze-umaze-diverse-v0"
                          / "seed_0" / "results.json").read_text())
    assert results["steps"] == 20 and results["labeller"] == "otr"


def test_failed_cells_exit_nonzero_and_are_marked(tmp_path, monkeypatch):
    monkeypatch.setattr(execute, "run_child", lambda cmd, log: 2)
    monkeypatch.setattr(build, "validate", lambda *a: None)
    with pytest.raises(SystemExit, match="2 of 2 cells FAILED"):
        reproduce.main(["--tasks=a", "--methods=iql", "--seeds=0,1", f"--out={tmp_path}"])
    text = (tmp_path / "results.md").read_text()
    assert "| a | – |" in text and "| total | – |" in text and "0.0" not in text
    assert "- a iql K=None seed 1" in text
    rows = (tmp_path / "results.csv").read_text().splitlines()
    assert len(rows) == 3 and all(",failed," in r for r in rows[1:])


def test_joined_tables_name_a_task_whose_runs_learned_from_different_data(tmp_path):
    """scripts/table_from_csv.py keeps each row's data fingerprint (none in files older than
    the fingerprints) and results.md names a task whose runs' fingerprints differ."""
    import csv
    import subprocess
    head = "task,method,k,seed,status,score,final,steps,wall_time_s"
    old = tmp_path / "old.csv"  # written before the fingerprints: no data / experts columns
    old.write_text(head + "\na,iql,,0,ok,10.0,11.0,100,1.0\nb,iql,,0,ok,20.0,21.0,100,1.0\n")
    new = tmp_path / "new.csv"
    new.write_text(head + ",data,experts\n"
                   "a,iql,,1,ok,30.0,31.0,100,1.0,aaaa,\n"
                   "b,iql,,1,ok,40.0,41.0,100,1.0,bbbb,\n"
                   "b,otr,1,0,ok,50.0,51.0,100,1.0,cccc,eeee\n"
                   "b,otr,1,1,ok,60.0,61.0,100,1.0,cccc,ffff\n")
    proc = subprocess.run([sys.executable, "scripts/table_from_csv.py", str(old), str(new),
                           "--tasks=a,b", "--methods=iql,otr", "--seeds=0,1",
                           f"--out={tmp_path / 'joined'}"], cwd=Path(__file__).parents[1],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    with open(tmp_path / "joined" / "results.csv") as f:
        rows = {(r["task"], r["method"], r["seed"]): r for r in csv.DictReader(f)}
    assert rows[("a", "iql", "0")]["data"] == "" and rows[("a", "iql", "1")]["data"] == "aaaa"
    assert rows[("b", "otr", "1")]["experts"] == "ffff"
    text = (tmp_path / "joined" / "results.md").read_text()
    assert "MIXED DATA" in text
    assert "- b: the runs learned from 2 different datasets (by fingerprints: bbbb: 1 run, " \
        "cccc: 2 runs;" in text
    assert "- a:" not in text  # one fingerprint (the old row has none to compare)
    # files between: transition counts but no fingerprints (runs older than them)
    for rows_a1 in ("999", "998"):
        new.write_text(head + ",data_rows\na,iql,,1,ok,30.0,31.0,100,1.0," + rows_a1 + "\n")
        mid = tmp_path / "mid.csv"
        mid.write_text(head + ",data_rows\na,iql,,0,ok,10.0,11.0,100,1.0,999\n")
        proc = subprocess.run([sys.executable, "scripts/table_from_csv.py", str(mid), str(new),
                               "--tasks=a", "--methods=iql", "--seeds=0,1",
                               f"--out={tmp_path / 'joined'}"], cwd=Path(__file__).parents[1],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        text = (tmp_path / "joined" / "results.md").read_text()
        assert ("- a: the runs learned from 2 different datasets (by transition counts: 999: "
                "1 run, 998: 1 run;" in text) == (rows_a1 == "998"), text


def test_joined_tables_give_each_rows_difference_between_two_methods(tmp_path):
    """--differences=A:B: per task and K, A's seeds against B's as scripts/compare_runs.py
    compares them (tables.difference); a method without demonstrations (iql) has one run per
    seed for every K; a pair that is not two of --methods fails before any output."""
    import subprocess
    head = "task,method,k,seed,status,score,final,steps,wall_time_s\n"
    runs = tmp_path / "runs.csv"
    lines = [f"a,iql,,{s},ok,{10.0 + s},0,100,1.0" for s in range(3)]
    lines += [f"a,otr,{k},{s},ok,{20.0 + k + 2 * s},0,100,1.0" for k in (1, 10) for s in range(3)]
    runs.write_text(head + "\n".join(lines) + "\n")
    args = [sys.executable, "scripts/table_from_csv.py", str(runs), "--tasks=a",
            "--methods=iql,otr", "--num_experts=1,10", "--seeds=0,1,2", "--k_rows",
            f"--out={tmp_path / 'joined'}"]
    proc = subprocess.run(args + ["--differences=otr:iql"], cwd=Path(__file__).parents[1],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / "joined" / "results.md").read_text()
    for k in (1, 10):
        want = tables.difference([20.0 + k + 2 * s for s in range(3)], [10.0 + s for s in range(3)])
        assert (f"| K={k} a | otr - iql | {want['difference']:+.1f} [{want['low']:+.1f}, "
                f"{want['high']:+.1f}] | {want['welch_p']:.3f} | "
                f"{want['p_improvement']:.2f} |") in text, text
    proc = subprocess.run(args + ["--differences=otr:clue"], cwd=Path(__file__).parents[1],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "--differences: otr:clue is not two of --methods joined by ':'" in proc.stderr


def test_aggregates_equal_rliables_own_functions(tmp_path):
    from rliable import library as rly, metrics
    cells = grid_cells.make_grid(["a", "b", "c"], ["iql", "clue"], [1], [0, 1, 2, 3])
    rng = np.random.default_rng(0)
    rows = [{"task": c.task, "method": c.method, "k": c.k or "", "seed": c.seed,
             "score": float(rng.uniform(0, 100))} for c in cells]
    rows = [r for r in rows if not (r["method"] == "clue" and r["task"] == "c" and r["seed"] == 3)]
    matrices = tables.score_matrices(rows, cells)
    assert list(matrices) == ["IQL"] and matrices["IQL"].shape == (4, 3)  # CLUE lacks a run
    full = [{**r, "score": 1.0} for r in reversed(rows)] + [
        {"task": "c", "method": "clue", "k": 1, "seed": 3, "score": 1.0}]
    assert list(tables.score_matrices(full, cells)) == ["IQL", "CLUE (K=1)"]  # the grid's order
    stats = tables.aggregates(matrices)
    assert stats == tables.aggregates(matrices)  # reproducible
    want = matrices["IQL"]
    assert stats["IQL"]["IQM"][0] == pytest.approx(metrics.aggregate_iqm(want))
    assert stats["IQL"]["Mean"][0] == pytest.approx(want.mean())
    np.random.seed(tables.column_seed("IQL"))  # rliable resamples with NumPy's global RNG
    _, intervals = rly.get_interval_estimates(
        {"IQL": want}, lambda x: np.array([metrics.aggregate_iqm(x)]),
        reps=tables.BOOTSTRAP_REPS)
    assert stats["IQL"]["IQM"][1:] == pytest.approx(tuple(intervals["IQL"][:, 0]))
    # a column's intervals do not depend on the table's other columns
    more = tables.aggregates({"OTHER": want[::-1] + 1.0, **matrices})
    assert more["IQL"] == stats["IQL"]
    text = tables.aggregate_table(stats, matrices)
    assert "| IQL | 12 |" in text
    tables.plot_aggregates(stats, tmp_path / "results.png")
    assert (tmp_path / "results.png").stat().st_size > 1000


def _csv_without_times(path):
    import csv
    with open(path) as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        row.pop("wall_time_s")
    return rows


@pytest.mark.slow
def test_ray_backend_and_seed_groups_give_the_process_pools_results(tmp_path):
    """The same tiny grid through the process pool, a local Ray (2 CPUs) and vmapped seed
    groups: the same results.csv (scores of vmapped seeds to float tolerance)."""
    pytest.importorskip("ray")
    from clue_jax.generation import generated
    maze = generated.ensure_generated("gen-pointmaze-umaze-diverse-v0",
                                      cache_dir=str(tmp_path / "data"), size=3000, seed=0)
    extra = [f"--dataset_path={maze}", "--max_steps=20", "--log_interval=10", "--eval_interval=10",
             "--eval_episodes=2", "--batch_size=16", "--config=configs/antmaze_config.py",
             "--config.hidden_dims=(8,8)"]
    grid = ["--tasks=gen-pointmaze-umaze-diverse-v0", "--methods=iql", "--seeds=0,1",
            "--workers=2"]
    outputs = {}
    for name, flags in (("pool", []), ("ray", ["--backend=ray"]), ("grouped", ["--group_seeds"]),
                        ("ray-dataset", ["--backend=ray", "--group=dataset"])):
        reproduce.main([*grid, f"--out={tmp_path / name}", *flags, "--", *extra])
        outputs[name] = _csv_without_times(tmp_path / name / "results.csv")
    assert len(outputs["pool"]) == 2 and outputs["ray"] == outputs["pool"]
    for name in ("grouped", "ray-dataset"):
        for grouped, pool in zip(outputs[name], outputs["pool"]):
            for key in ("task", "method", "seed", "steps", "status"):
                assert grouped[key] == pool[key]
            assert float(grouped["score"]) == pytest.approx(float(pool["score"]), abs=1e-6)
    assert list((tmp_path / "ray-dataset" / "plans").glob("*_all_2runs.json"))
    log = next((tmp_path / "grouped" / "logs").glob("*seed0-1.log")).read_text()
    assert "--plan_file=" in log and "seed0-1.json" in log


def test_seed_groups_hold_only_unfinished_seeds(tmp_path):
    cells = grid_cells.make_grid(["t"], ["iql", "clue"], [1], [0, 1, 2])
    done = cells[1].run_dir(tmp_path)  # iql seed 1 finished
    done.mkdir(parents=True)
    (done / "results.json").write_text("{}")
    units = grid_cells.make_units(cells, tmp_path, "seeds")
    assert grid_cells.Cell("t", "iql", None, 1) in units
    assert grid_cells.SeedGroup("t", "iql", None, (0, 2)) in units
    group = grid_cells.SeedGroup("t", "clue", 1, (0, 1, 2))
    assert group in units and len(units) == 3
    cmd = grid_cells.launch_command(group, tmp_path, [])
    assert cmd[1].endswith("train_iql.py") and cmd[2:] == [
        f"--plan_file={tmp_path / 'plans' / 't_clue_K1_seed0-1-2.json'}"]
    runs = read_plan_file(cmd[2].split("=", 1)[1])
    assert [s.seed for s in runs] == [0, 1, 2] and {s.labeller for s in runs} == {"clue"}


def test_cells_on_a_fraction_of_the_data_run_alone(tmp_path):
    """Each seed keeps its own trajectories: no program shares them."""
    cells = grid_cells.make_grid(["t"], ["iql"], [1], [0, 1])
    units = grid_cells.make_units(cells, tmp_path, "seeds", ["--dataset_fraction=0.1"])
    assert units == cells
    assert len(grid_cells.make_units(cells, tmp_path, "seeds", [])) == 1


def test_dataset_and_method_groups_hold_the_unfinished_cells(tmp_path):
    cells = grid_cells.make_grid(["t", "u"], ["iql", "clue"], [1, 5], [0, 1])
    done = cells[0].run_dir(tmp_path)  # t iql seed 0 finished
    done.mkdir(parents=True)
    (done / "results.json").write_text("{}")
    units = grid_cells.make_units(cells, tmp_path, "dataset")
    groups = [u for u in units if isinstance(u, grid_cells.CellGroup)]
    assert [len(g.cells) for g in groups] == [5, 6] and cells[0] in units
    by_method = grid_cells.make_units(cells, tmp_path, "method")
    assert sorted(len(grid_cells.unit_cells(u)) for u in by_method) == [1, 1, 2, 4, 4]
    started = cells[3].run_dir(tmp_path)  # t clue K=1 seed 1 has a checkpoint
    started.mkdir(parents=True)
    (started / "checkpoint.msgpack").write_bytes(b"x")
    cmd = grid_cells.launch_command(groups[0], tmp_path, ["--max_steps=10"])
    assert cmd[1].endswith("train_iql.py") and cmd[2].startswith("--plan_file=")
    path = Path(cmd[2].split("=", 1)[1])
    runs = read_plan_file(path)
    assert len(runs) == 5 and all(s.max_steps == 10 and s.env_name == "t" for s in runs)
    assert [s.resume for s in runs] == [False, False, True, False, False]
    assert [s.method() for s in runs] == [c.settings(tmp_path).method() for c in groups[0].cells]
    commands = json.loads(path.read_text())["commands"]  # the command line each run equals
    for line, settings in zip(commands, runs):
        assert run_flags.parse_settings(line.split()) == settings
        assert ("--resume" in line) == settings.resume


def test_stopped_units_are_not_failures_and_exit_3(tmp_path, monkeypatch):
    monkeypatch.setattr(execute, "run_child", lambda cmd, log: 3)
    monkeypatch.setattr(build, "validate", lambda *a: None)
    with pytest.raises(SystemExit) as stop:
        reproduce.main(["--tasks=a", "--methods=iql", "--seeds=0,1", f"--out={tmp_path}",
                        "--time_limit=60"])
    assert stop.value.code == execute.STOPPED_EXIT == 3
    assert "FAILED" not in (tmp_path / "results.md").read_text()
    plan = next((tmp_path / "plans").glob("*.json"))
    assert all(s.deadline is not None for s in read_plan_file(plan))
    status = execute.run_cell(grid_cells.Cell("a", "iql", None, 5), tmp_path, [],
                                deadline=0.0)
    assert status.startswith("STOPPED (not started")


def test_presets_plan_the_papers_grids(capsys):
    reproduce.main(["--preset=table3", "--budget=paper", "--plan", "--group=dataset"])
    text = capsys.readouterr().out
    assert "630 runs: 9 tasks x 3 methods" in text and "K [1, 5, 10] x 10 seeds" in text
    assert "9 programs to run, of sizes [70]" in text
    assert "--max_steps=1000000" in text and "--eval_episodes=10" in text
    assert ("exception: gen-hopper-medium-expert-v0 clue-imitation K=10: "
            "--config.actor_lr=0.001 --config.critic_lr=0.001 --config.value_lr=0.001") in text
    reproduce.main(["--preset=table1", "--budget=paper", "--plan"])
    text = capsys.readouterr().out
    assert "180 runs: 6 tasks" in text and "antmaze-large-play" not in text.split("exception")[-1]
    assert "exception: antmaze-medium-play-v2 clue K=1: --config.dropout_rate=0.2" in text
    # the AntMaze data made here get their D4RL twins' exceptions; the cpu budget none
    reproduce.main(["--preset=table1", "--budget=paper", "--tasks=gen-antmaze-umaze-diverse-v0",
                    "--plan"])
    text = capsys.readouterr().out
    assert ("exception: gen-antmaze-umaze-diverse-v0 clue K=1: --config.actor_lr=0.0005 "
            "--config.critic_lr=0.0005 --config.value_lr=0.0005") in text
    reproduce.main(["--preset=table1", "--budget=cpu", "--tasks=gen-antmaze-umaze-diverse-v0",
                    "--plan"])
    assert "exception" not in capsys.readouterr().out
    reproduce.main(["--preset=table4", "--budget=cpu", "--plan"])
    text = capsys.readouterr().out
    assert "8 methods" in text and "x 3 seeds" in text and "--max_steps=10000" in text
    reproduce.main(["--preset=table5", "--budget=paper", "--plan"])
    text = capsys.readouterr().out
    assert "--dataset_fraction=0.1" in text and "--max_steps=300000" in text
    reproduce.main(["--preset=table2", "--budget=paper", "--plan"])
    text = capsys.readouterr().out
    assert "240 runs: 8 tasks x 3 methods (iql, otr, clue) x K [1] x 10 seeds" in text
    assert "exception" not in text  # Sec. 8.2's Adroit rate is the reference's 3e-4
    for name, k in (("table6", 1), ("table7", 10)):
        reproduce.main([f"--preset={name}", "--budget=paper", "--plan"])
        text = capsys.readouterr().out
        assert (f"600 runs: 6 tasks x 10 methods (clue-c1, clue-c2, clue-c3, clue-c4, clue-c5, "
                f"clue-c6, clue-c7, clue-c8, clue-c9, clue-c10) x K [{k}] x 10 seeds") in text
        # every c's cells get the exceptions of CLUE's, one line per task
        lr = ("--config.actor_lr=0.0005 --config.critic_lr=0.0005 --config.value_lr=0.0005")
        assert (f"exception: antmaze-umaze-diverse-v2 "
                f"{','.join(f'clue-c{c}' for c in range(1, 11))} K={k}: {lr}") in text


def test_temperature_methods_sweep_c_in_their_own_folders(tmp_path):
    """clue-c<c> is CLUE (sparse) at --temperature=c, its run folder tagged c<c>; the
    'temperatures' group names the ten of Tables 6-7."""
    args, extra = reproduce.parse_args(["--tasks=gen-pointmaze-umaze-diverse-v0",
                                        "--methods=temperatures", "--num_experts=10",
                                        "--seeds=0"])
    grid = build.build_grid(args, extra)
    assert [c.method for c in grid.cells] == [f"clue-c{c}" for c in range(1, 11)]
    folders = {c.run_dir(tmp_path).parent.parent.name for c in grid.cells}
    assert folders == {f"clue-sparse-K10-c{c}" for c in range(1, 11)}
    for cell in grid.cells:
        plan = experiments.make_plan(grid_cells.cell_settings(cell, tmp_path, grid.extra))
        assert plan.labeller_config.temperature == float(cell.method[len("clue-c"):])
        assert plan.method == f"clue-sparse-K10-{cell.method[len('clue-'):]}"
        assert plan.run_dir == cell.run_dir(tmp_path)  # where the grid finds it


def test_the_plan_prices_one_model_for_runs_that_differ_only_in_how_it_labels(tmp_path):
    """A dataset group of a sweep of c trains one CVAE per seed (and calibration, experts,
    model flags), so --plan prices its labelling per CVAE; OTR's runs each label their own."""
    from types import SimpleNamespace
    from clue_jax.grid import estimate
    from clue_jax.rewards.labellers import LABELLERS
    clue, otr = LABELLERS["clue"], LABELLERS["otr"]
    assert clue.sets_labelling_field("--temperature=3")
    assert clue.sets_labelling_field("--clue_config.use_mean=False")
    assert not clue.sets_labelling_field("--clue_config.calibrate=False")
    assert not clue.sets_labelling_field("--config.temperature=0.0")  # IQL's beta
    assert not clue.sets_labelling_field("--cvae_steps=5")
    assert not otr.sets_labelling_field("--otr_config.temperature=3")
    args, extra = reproduce.parse_args(["--tasks=gen-pointmaze-umaze-diverse-v0",
                                        "--methods=clue-c1,clue-c2,clue-c3,clue-sampled,"
                                        "clue-nocalib,clue-top,otr", "--seeds=0,1"])
    cells = build.build_grid(args, extra).cells
    (unit,) = grid_cells.make_units(cells, tmp_path, "dataset")
    programs = {p.learner: p for p in build.unit_programs(unit)}
    # per seed: c1 = c2 = c3 = sampled = top (the sparse setting's own expert rule), and
    # nocalib: 2 CVAEs
    assert (programs["iql+clue"].runs, programs["iql+clue"].label_models) == (12, 4)
    assert (programs["iql+otr"].runs, programs["iql+otr"].label_models) == (2, 2)
    (unit,) = grid_cells.make_units([c for c in cells if c.seed == 0 and c.method == "clue-c2"],
                                    tmp_path, "seeds")
    assert build.unit_programs(unit)[0].label_models == 1
    # --compare_uncalibrated: each calibrated run trains one more CVAE of its own
    args, extra = reproduce.parse_args(["--tasks=gen-pointmaze-umaze-diverse-v0",
                                        "--methods=clue-c1,clue-c2,clue-nocalib", "--seeds=0,1",
                                        "--", "--compare_uncalibrated"])
    grid = build.build_grid(args, extra)
    (unit,) = grid_cells.make_units(grid.cells, tmp_path, "dataset", grid.extra)
    (program,) = build.unit_programs(unit, tmp_path, grid.extra)
    assert (program.runs, program.label_models) == (6, 2 + 2 + 4)
    assert build.unit_programs(unit)[0].label_models == 4  # without the flag
    # priced per model: a cost of 4 runs that trained 2 CVAEs in 20 s is 10 s a CVAE
    cost = estimate.Cost(device="dev", task="t", learner="iql+clue", train_runs=4,
                         update_s=0.01, label_runs=4, label_s=20.0, eval_step_s=0.001,
                         source="a", label_models=2)
    settings = SimpleNamespace(max_steps=100, eval_interval=100, eval_episodes=1)
    text = "\n".join(estimate.estimate_lines([[estimate.Program("t", "iql+clue", 12, None, 3)]],
                                             settings, [10], costs=[cost], bench=None,
                                             device="dev"))
    assert "labelling about 30 s" in text


def _adroit_v0_file(path, episodes=6, seed=0):
    """A D4RL-layout Adroit v0 file (no timeouts: cut every 100 rows, as d4rl does) of
    random actions in the pen env, with the env's own (dense) rewards."""
    from clue_jax.data.d4rl_io import save_hdf5
    from clue_jax.envs import registry
    env = registry.make_env("pen-human-v0", seed)
    rng = np.random.default_rng(seed)
    obs, acts, rews = [], [], []
    for episode in range(episodes):
        o, _ = env.reset(seed=seed + episode)
        for _ in range(registry.get_spec("pen-human-v0").max_episode_steps):
            a = rng.uniform(-1, 1, env.action_space.shape).astype(np.float32)
            obs.append(o)
            o, r, _, _, _ = env.step(a)
            acts.append(a)
            rews.append(r)
    n = len(obs)
    return save_hdf5(str(path), {"observations": np.asarray(obs, np.float32),
                                 "actions": np.asarray(acts, np.float32),
                                 "rewards": np.asarray(rews, np.float32),
                                 "terminals": np.zeros(n, bool)})


@pytest.mark.slow
def test_table2_preset_trains_iql_otr_and_clue_on_an_adroit_file(tmp_path, monkeypatch):
    """--preset=table2 on a pen-human-v0 file in D4RL's layout (random actions, the env's
    rewards) where D4RL's cache keeps it, one seed, tiny budget, --group=dataset: the three
    train with the reference's Adroit IQL settings, CLUE with Table 8's Adroit CVAE
    settings, each scored."""
    from clue_jax.data.d4rl_io import d4rl_path
    monkeypatch.setenv("D4RL_DATASET_DIR", str(tmp_path / "d4rl"))
    monkeypatch.setenv("CLUE_JAX_OFFLINE", "1")
    (tmp_path / "d4rl").mkdir()
    _adroit_v0_file(d4rl_path("pen-human-v0"))  # pen-v0_demos_clipped.hdf5, as d4rl names it
    reproduce.main(["--preset=table2", "--tasks=pen-human-v0", "--group=dataset", "--seeds=0",
                    f"--out={tmp_path / 'grid'}", "--", "--max_steps=20", "--log_interval=10", "--eval_interval=10",
                    "--eval_episodes=2", "--batch_size=16", "--config.hidden_dims=(8,8)",
                    "--clue_config.num_steps=20", "--clue_config.hidden_dims=(8,8)"])
    rows = _csv_without_times(tmp_path / "grid" / "results.csv")
    assert sorted(r["method"] for r in rows) == ["clue", "iql", "otr"]
    assert all(r["status"] == "ok" and r["steps"] == "20" and r["score"] for r in rows)
    run = tmp_path / "grid" / "clue-sparse-K1" / "pen-human-v0" / "seed_0"
    config = json.loads((run / "config.json").read_text())
    agent, labeller = config["iql"], config["labeller_config"]
    assert (agent["expectile"], agent["temperature"], agent["dropout_rate"]) == (0.7, 0.5, 0.1)
    assert (labeller["domain"], labeller["batch_size"], labeller["learning_rate"],
            labeller["calib_weight"], labeller["reward_scaling"]) == (
                "adroit", 128, 1e-4, 0.1, "return_range")


def test_every_paper_exception_parses_into_the_learner_config():
    from clue_jax.grid import presets
    for (task, k), flags in presets.PAPER_EXCEPTIONS.items():
        settings = run_flags.parse_settings(
            ["train_iql.py", f"--env_name={task}", "--labeller=clue", *flags])
        config = settings.agent_config
        if "--config.dropout_rate=0.2" in flags:
            assert config.dropout_rate == 0.2
        else:
            assert config.actor_lr == config.critic_lr == config.value_lr > 3e-4


@pytest.mark.slow
def test_a_tiny_preset_grid_runs_end_to_end_as_one_program(tmp_path, capsys):
    """--preset=table1 on the point maze, one seed, tiny budget, --group=dataset: IQL, OTR
    and CLUE train as one program and the table has all three; the plan of more seeds then
    prices them from these finished runs."""
    from clue_jax.generation import generated
    maze = generated.ensure_generated("gen-pointmaze-umaze-diverse-v0",
                                      cache_dir=str(tmp_path / "data"), size=3000, seed=0)
    grid = ["--preset=table1", "--tasks=gen-pointmaze-umaze-diverse-v0", "--group=dataset",
            f"--out={tmp_path / 'grid'}"]
    flags = ["--", f"--dataset_path={maze}", "--max_steps=20", "--log_interval=10",
             "--eval_interval=10", "--eval_episodes=2", "--batch_size=16",
             "--config=configs/antmaze_config.py", "--config.hidden_dims=(8,8)",
             "--clue_config.num_steps=20", "--clue_config.hidden_dims=(8,8)"]
    reproduce.main([*grid, "--seeds=0", *flags])
    rows = _csv_without_times(tmp_path / "grid" / "results.csv")
    assert sorted(r["method"] for r in rows) == ["clue", "iql", "otr"]
    assert all(r["status"] == "ok" and r["steps"] == "20" for r in rows)
    log = next((tmp_path / "grid" / "logs").glob("*_all_3runs.log")).read_text()
    assert "iql: 3 runs train as one vmapped program" in log
    capsys.readouterr()
    reproduce.main([*grid, "--seeds=0,1", "--plan", *flags])
    text = capsys.readouterr().out
    assert "3 finished" in text and "updates priced from runs on its task: iql x1" in text
    assert "labelling priced from runs on its task: iql+clue x1, iql+otr x1" in text


def test_a_grid_is_validated_before_anything_starts(tmp_path, monkeypatch):
    started = []
    monkeypatch.setattr(execute, "run_child", lambda cmd, log: started.append(cmd) or 0)
    with pytest.raises(SystemExit, match="names a run twice"):
        reproduce.main(["--tasks=gen-pointmaze-umaze-diverse-v0", "--methods=iql",
                        "--seeds=0,0", f"--out={tmp_path / 'a'}"])
    with pytest.raises(SystemExit, match=r"clue K=1: .*hidden_dimz.*nothing was started"):
        reproduce.main(["--tasks=gen-pointmaze-umaze-diverse-v0", "--methods=iql,clue",
                        "--seeds=0", f"--out={tmp_path / 'b'}", "--",
                        "--clue_config.hidden_dimz=(8,8)"])
    with pytest.raises(SystemExit, match=r"constant K=None: the flags after -- move its run "
                       r"to .*constant-sparse-K1-half.*--tag"):  # the grid would never find it
        reproduce.main(["--tasks=gen-pointmaze-umaze-diverse-v0", "--methods=constant",
                        "--seeds=0", f"--out={tmp_path / 'e'}", "--",
                        "--constant_config.value=0.5", "--tag=half"])
    seed_0 = tmp_path / "src" / "gen-pointmaze-umaze-diverse-v0" / "seed_0"  # a level, no seed_1
    seed_0.mkdir(parents=True)
    (seed_0 / "config.json").write_text(json.dumps({"settings": {"env_name": seed_0.parent.name}}))
    (seed_0 / "results.json").write_text('{"labels": {"reward_mean": 0.5}}')
    with pytest.raises(SystemExit, match=r"constant K=None: --constant_config.level_from=.*"
                       r"seed_1: no such run folder.*nothing was started"):  # every seed's source
        reproduce.main(["--tasks=gen-pointmaze-umaze-diverse-v0", "--methods=iql,constant",
                        "--seeds=0,1", f"--out={tmp_path / 'f'}", "--",
                        f"--constant_config.level_from={tmp_path}/src/{{task}}/seed_{{seed}}"])
    with pytest.raises(SystemExit, match=r"shuffled K=None: --shuffled_config.rewards_from="
                       r".*seed_0: no rewards.npz there.*nothing was started"):  # a level only
        reproduce.main(["--tasks=gen-pointmaze-umaze-diverse-v0", "--methods=shuffled",
                        "--seeds=0", f"--out={tmp_path / 'g'}", "--",
                        f"--shuffled_config.rewards_from={tmp_path}/src/{{task}}/seed_{{seed}}"])
    with pytest.raises(SystemExit, match=r"shuffled K=None: --shuffled_config.rewards_from: not "
                       r"set; name the run whose rewards to shuffle"):
        reproduce.main(["--tasks=gen-pointmaze-umaze-diverse-v0", "--methods=shuffled",
                        "--seeds=0", f"--out={tmp_path / 'h'}"])
    shutil.rmtree(tmp_path / "src")
    with pytest.raises(SystemExit, match="Unknown environment 'gen-pointmaze-umaze-v0'"):
        reproduce.main(["--tasks=gen-pointmaze-umaze-v0", "--methods=iql", "--seeds=0",
                        f"--out={tmp_path / 'c'}"])
    for bad, named in (("--workers=0", "--workers=0"), ("--time_limit=-5", "--time_limit"),
                       ("--seeds=", "--seeds= is empty")):
        with pytest.raises(SystemExit):
            reproduce.main(["--tasks=gen-pointmaze-umaze-diverse-v0", "--methods=iql", bad,
                            f"--out={tmp_path / 'd'}"])
    assert not started and not any(tmp_path.iterdir())


@pytest.mark.slow
@pytest.mark.parametrize("sigint", ["default", "ignored"])
def test_ending_reproduce_ends_its_training_processes(tmp_path, sigint):
    """SIGTERM to reproduce.py: its running unit gets SIGINT and stops at its last checkpoint
    (its log says so), reproduce says how to resume and exits non-zero; nothing is left
    running. Also when reproduce.py starts with SIGINT ignored, as a script's background job
    (`nohup python reproduce.py ... &`) does: its units get SIGINT back."""
    import os
    import signal
    import subprocess
    import time
    handler = signal.SIG_IGN if sigint == "ignored" else signal.SIG_DFL
    proc = subprocess.Popen(
        [sys.executable, "reproduce.py", "--tasks=gen-pointmaze-umaze-diverse-v0",
         "--methods=iql", "--seeds=0", f"--out={tmp_path}", "--", "--max_steps=1000000",
         "--config.hidden_dims=(8,8)", "--eval_interval=500", "--eval_episodes=1"],
        cwd=Path(__file__).resolve().parents[1], stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, handler))
    log = tmp_path / "logs"
    for _ in range(600):  # until the training process has written a checkpoint
        if list(tmp_path.glob("iql-true/*/seed_0/checkpoint.msgpack")):
            break
        time.sleep(0.2)
    child = [int(p) for p in subprocess.run(["pgrep", "-f", "--", f"plan_file={tmp_path}"],
                                            capture_output=True, text=True).stdout.split()]
    assert child and log.exists()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0 and "rerun the same command to resume" in err
    for pid in child:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert "train_iql.py: interrupted" in "".join(p.read_text() for p in log.iterdir())


def test_the_plans_time_estimate_by_hand():
    """bench: 10 stacked runs did 10 x 1000 updates in 10 s of training outside evaluation
    (1000 seed-updates/s), one run 250/s, 10,000 env steps in 10 s (1 ms each); CLUE
    labelled for 3 s a run. A learner without a finished run is priced at IQL's rate."""
    from types import SimpleNamespace
    from clue_jax.grid import estimate
    record = {"date": "d", "device": "dev", "env": "e", "runs": 10, "max_steps": 1000,
              "group_phases_s": {"training": 20.0, "evaluation": 10.0, "labelling": 30.0},
              "separate_phases_s": [{"training": 5.0, "evaluation": 1.0}],
              "group_eval_env_steps": 10_000}
    assert estimate._rate(record, 10) == pytest.approx(1000.0)
    assert estimate._rate(record, 1) == pytest.approx(250.0)
    assert estimate._rate(record, 100) == pytest.approx(1000.0)  # held flat beyond the bench
    settings = SimpleNamespace(max_steps=1000, eval_interval=500, eval_episodes=2)
    clue = [[estimate.Program("t", "iql+clue", 10)]]
    lines = estimate.estimate_lines(clue, settings, [100], bench=record, costs=[], device="dev")
    # updates 10 s; evaluation 2 x 10 runs x 2 episodes x 100 steps x 1 ms = 4 s; labels 30 s
    assert lines[1] == "    updates priced from IQL's rate in bench_e2e: iql x1"
    assert lines[2] == "    labelling priced from bench_e2e: iql+clue x1"
    assert "updates 10 s, evaluation at most 4 s" in lines[3]
    assert "labelling about 30 s" in lines[3] and "total about 44 s" in lines[4]
    # a labeller the bench has not timed is said to be unpriced, not counted as free
    oril = [[estimate.Program("t", "oril+oril", 1)]]
    lines = estimate.estimate_lines(oril, settings, [100], bench=record, costs=[], device="dev")
    assert "not estimated (no figures): labelling of oril+oril" in "\n".join(lines)
    lines = estimate.estimate_lines(oril, settings, [100], bench=None, costs=[], device="dev")
    assert "no figures of dev yet" in lines[0]


def test_the_plans_time_estimate_from_finished_runs_by_hand():
    """A finished run's cost: a 2-run program took 0.01 s per update, labelled for 6 s, and
    evaluated at 2 ms per env step; another task's run of the learner took 0.1 s per update,
    and a run on another device 1 s. A 4-run program of 1000 updates is priced from the
    same task's run, scaled linearly without a bench: 20 s of updates, 12 s of labelling,
    2 evaluations x 4 runs x 2 episodes x 100 steps x 2 ms = 3.2 s."""
    from types import SimpleNamespace
    from clue_jax.grid import estimate
    cost = dict(device="dev", learner="smodice+oril", train_runs=2, label_runs=2,
                label_s=6.0, eval_step_s=0.002)
    costs = [estimate.Cost(task="t", update_s=0.01, source="a", **cost),
             estimate.Cost(task="u", update_s=0.1, source="b", **cost),
             estimate.Cost(**{**cost, "device": "other"}, task="t", update_s=1.0, source="c")]
    settings = SimpleNamespace(max_steps=1000, eval_interval=500, eval_episodes=2)
    programs = [[estimate.Program("t", "smodice+oril", 4)]]
    lines = estimate.estimate_lines(programs, settings, [100], costs=costs, bench=None,
                                    device="dev")
    text = "\n".join(lines)
    assert "updates priced from runs on its task: smodice x1" in text
    assert "labelling priced from runs on its task: smodice+oril x1" in text
    assert "updates 20 s, evaluation at most 3 s" in text and "labelling about 12 s" in text
    assert "total about 35 s with --workers=1" in text
    # labelling prefers the runs of the same K (OTR's grows with K): 30 s a run at K = 10
    k10 = estimate.Cost(task="t", update_s=0.01, source="d", k=10, **{**cost, "label_s": 60.0})
    text = "\n".join(estimate.estimate_lines(
        [[estimate.Program("t", "smodice+oril", 4, k=10)]], settings, [100], bench=None,
        costs=[*costs, k10], device="dev"))
    assert "labelling about 2.0 min" in text
    # another task's run when this task has none; two programs on two workers
    programs = [[estimate.Program("v", "smodice+oril", 2)]] * 2
    text = "\n".join(estimate.estimate_lines(programs, settings, [100], workers=2,
                                              costs=costs, bench=None, device="dev"))
    assert "priced from runs on other environments: smodice x2" in text  # 0.055 s: 55 s each
    assert "updates 110 s" in text and "total about 63 s with --workers=2" in text
    assert estimate.makespan([10, 5, 5, 4], 2) == 14 and estimate.makespan([], 3) == 0


def test_a_runs_cost_is_read_from_either_record_and_a_resume_keeps_no_labelling(tmp_path):
    from clue_jax.grid import estimate

    def run(name, timing, steps=100, device="dev", resume=False):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps({"provenance": {"device": device},
                                                        "settings": {"resume": resume}}))
        (folder / "results.json").write_text(json.dumps(
            {"env_name": "t", "agent": "iql", "labeller": "clue", "steps": steps,
             "timing": timing}))
        (folder / "evaluation_episodes.jsonl").write_text(
            json.dumps({"step": 50, "lengths": [10, 20]}) + "\n"
            + json.dumps({"step": 100, "lengths": [30, 40]}) + "\n")
        return folder

    program = {"runs_in_group": 3, "seconds": {"training": 9.0, "evaluation": 3.0,
                                               "labelling": 4.0}}
    new = {**program, "labelling": {"runs": 2, "labelling": 4.0},
           "training": {"runs": 3, "training": 9.0, "evaluation": 3.0, "updates": 100,
                        "eval_env_steps": 300}}
    a = estimate.run_cost(run("new", new))
    assert (a.learner, a.train_runs, a.update_s, a.label_runs, a.label_s) == (
        "iql+clue", 3, pytest.approx(0.06), 2, 4.0)
    assert a.label_models is None  # no count: a model a run
    shared = estimate.run_cost(run("shared", {**new, "labelling": {"runs": 2, "models": 1,
                                                                   "labelling": 4.0}}))
    assert shared.label_models == 1
    assert a.eval_step_s == pytest.approx(0.01)
    # a resumed run (50 of its 100 updates in this process): no labelling figure
    resumed = {**new, "training": {**new["training"], "updates": 50}}
    b = estimate.run_cost(run("resumed", resumed))
    assert b.update_s == pytest.approx(0.12) and b.label_s is None
    # an older record: the group as one program of its runs, its env steps from its file x 3
    c = estimate.run_cost(run("old", program))
    assert (c.train_runs, c.update_s, c.label_runs, c.label_s) == (3, pytest.approx(0.06), 3, 4.0)
    assert c.eval_step_s == pytest.approx(3.0 / 300)
    # an older record of a resumed process says nothing of how many updates it made
    assert estimate.run_cost(run("old_resumed", program, resume=True)) is None
    assert estimate.run_cost(run("no_device", new, device=None)) is None
    assert estimate.run_cost(tmp_path / "missing") is None
    assert estimate.run_cost(run("odd", {"seconds": "?"})) is None  # unknown: no figures
    assert sorted(Path(x.source).name for x in estimate.collect([tmp_path])) == [
        "new", "old", "resumed", "shared"]
    # scripts/run_costs.py: sources relative to the folder's parent; a second folder's records
    # join the first's; a rerun on a folder replaces its records; bad input writes nothing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    import run_costs
    out = tmp_path / "costs.json"
    run_costs.main([str(tmp_path / "new"), f"--out={out}"])
    run_costs.main([str(tmp_path / "old"), f"--out={out}"])
    run_costs.main([str(tmp_path / "new"), f"--out={out}"])
    assert sorted(c.source for c in estimate.read_costs(out)) == ["new", "old"]
    for bad in ([str(tmp_path / "nowhere")], [str(tmp_path / "no_device")]):
        with pytest.raises(SystemExit, match="nothing was written"):
            run_costs.main([*bad, f"--out={tmp_path / 'bad.json'}"])
    assert not (tmp_path / "bad.json").exists()


def test_runs_without_evaluations_are_tabled_not_crashed_on(tmp_path, monkeypatch):
    def fake_run(cmd, log):  # a finished run whose --eval_episodes was 0
        save, seed = planned(cmd)[0].save_dir, planned(cmd)[0].seed
        run_dir = Path(save) / "iql-true" / "gen-pointmaze-umaze-diverse-v0" / f"seed_{seed}"
        run_dir.mkdir(parents=True)
        (run_dir / "results.json").write_text(json.dumps(
            {"history": [], "final_normalized_score": None, "steps": 10}))
        return 0
    monkeypatch.setattr(execute, "run_child", fake_run)
    reproduce.main(["--tasks=gen-pointmaze-umaze-diverse-v0", "--methods=iql", "--seeds=0,1",
                    f"--out={tmp_path}", "--", "--eval_episodes=0"])
    text = (tmp_path / "results.md").read_text()
    assert "– (2 without evaluation)" in text and "| total | – |" in text


def test_plan_files_give_back_the_settings_exactly(tmp_path):
    """Every preset's cells (configs with tuples, lists, nested groups, overrides) written to a
    plan file and read back: the same settings, field for field and type for type."""
    from clue_jax.experiments.settings import write_plan_file
    from clue_jax.grid import presets
    runs = []
    for name in presets.PRESETS:
        args = reproduce.parse_args([f"--preset={name}", "--budget=cpu"])[0]
        grid = build.build_grid(args, ["--config.hidden_dims=(8,8)", "--deadline=1.5e9",
                                       "--clue_config.hidden_dims=(8,8)"])
        seen = {}
        for cell in grid.cells:
            seen.setdefault((cell.task, cell.method, cell.k, cell.flags), cell)
        runs += [grid_cells.cell_settings(c, tmp_path, grid.extra) for c in seen.values()]
    assert len(runs) > 50 and any(s.labeller_config is not None for s in runs)
    write_plan_file(tmp_path / "all.json", runs)
    back = read_plan_file(tmp_path / "all.json")
    assert back == runs
    for a, b in zip(back, runs):
        for field in ("agent_config", "labeller_config"):
            x, y = getattr(a, field), getattr(b, field)
            if y is not None:
                assert x.to_dict() == y.to_dict()
                assert {k: type(v) for k, v in x.items()} == {k: type(v) for k, v in y.items()}


def test_run_score_reads_the_last_three_evaluations_at_or_before_a_step():
    result = {"history": [[10, 0.0], [20, 30.0], [30, 60.0], [40, 90.0], [50, 0.0]]}
    assert tables.run_score(result) == pytest.approx(50.0)  # (60 + 90 + 0) / 3
    assert tables.run_score(result, at_step=40) == pytest.approx(60.0)  # (30 + 60 + 90) / 3
    assert tables.run_score(result, at_step=15) == 0.0  # one evaluation so far
    assert tables.run_score({"history": []}) is None


def test_difference_by_hand():
    a, b = [10.0, 20.0, 60.0], [0.0, 10.0]
    d = tables.difference(a, b, resamples=2000, seed=1)
    assert d["difference"] == pytest.approx(30.0 - 5.0)
    # Welch: t = 25 / sqrt(700 / 3 + 50 / 2) with Welch-Satterthwaite's degrees of freedom
    from scipy import stats
    va, vb = 700.0 / 3, 50.0 / 2
    t = 25.0 / np.sqrt(va + vb)
    df = (va + vb) ** 2 / (va ** 2 / 2 + vb ** 2 / 1)
    assert d["welch_p"] == pytest.approx(2 * stats.t.sf(t, df))
    # P(A > B) over the 6 pairs: 10 > 0, 10 = 10 (half), and the other 4 -> 5.5 / 6
    assert d["p_improvement"] == pytest.approx(5.5 / 6)
    # every bootstrap difference lies between the smallest and the largest possible
    assert 10.0 - 10.0 <= d["low"] < d["difference"] < d["high"] <= 60.0 - 0.0
    assert d == tables.difference(a, b, resamples=2000, seed=1)  # seeded
    with pytest.raises(ValueError, match="at least 2 scores"):
        tables.difference([1.0], b)


def _fake_run(folder, env, seed, history, steps=None):
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps(
        {"env_name": env, "seed": seed, "steps": steps or history[-1][0], "history": history}))


def test_compare_runs_script(tmp_path):
    import subprocess
    root = Path(__file__).resolve().parents[1]
    for seed, (x, y) in enumerate([(50.0, 10.0), (70.0, 20.0), (90.0, 60.0)]):
        _fake_run(tmp_path / "a" / f"seed_{seed}", "t", seed, [[1, 0.0], [2, x], [3, x], [4, x]])
        _fake_run(tmp_path / ("b" if seed < 2 else "b2") / f"seed_{seed}", "t", seed,
                  [[1, y], [2, y], [3, y], [4, 0.0]], steps=8)

    def compare(*args):
        return subprocess.run([sys.executable, "scripts/compare_runs.py", *args], cwd=root,
                              capture_output=True, text=True, timeout=300)

    proc = compare(f"A={tmp_path / 'a'}", f"B={tmp_path / 'b'}", f"B={tmp_path / 'b2'}",
                   "--at_step=3", "--resamples=500")
    assert proc.returncode == 0, proc.stderr
    assert "| A | 0,1,2 | 33.3, 46.7, 60.0 | 46.7 ± 10.9 | 4 |" in proc.stdout  # (0 + x + x) / 3
    assert "| B | 0,1,2 | 10.0, 20.0, 60.0 | 30.0 ± 21.6 | 8 |" in proc.stdout
    assert "| A - B | +16.7 [" in proc.stdout
    assert "MIXED DATA" not in proc.stdout  # these runs record no data fingerprint
    # runs that record their data: b2's seed learned from another file than the others
    for folder, sha in [("a/seed_0", "aaaa"), ("a/seed_1", "aaaa"), ("b/seed_0", "aaaa"),
                        ("b2/seed_2", "bbbb")]:
        (tmp_path / folder / "config.json").write_text(json.dumps(
            {"provenance": {"data": {"name": "t", "rows": 5, "sha256": sha}}}))
    proc = compare(f"A={tmp_path / 'a'}", f"B={tmp_path / 'b'}", f"B={tmp_path / 'b2'}",
                   "--at_step=3", "--resamples=500")
    assert proc.returncode == 0, proc.stderr
    assert "MIXED DATA" in proc.stdout
    assert "- t: the runs learned from 2 different datasets (by fingerprints: aaaa: 3 runs, " \
        "bbbb: 1 run; the runs' config.json files (provenance.data, dataset_size) say" in proc.stdout
    for args, message in [
            ([f"A={tmp_path / 'a'}", f"B={tmp_path / 'a'}", f"B={tmp_path / 'b'}"],
             "seed 0 twice"),
            ([f"A={tmp_path / 'a'}", f"B={tmp_path / 'b'}", "--at_step=9"], "before --at_step=9"),
            ([f"A={tmp_path / 'a'}", f"B={tmp_path / 'nowhere'}"], "is not a folder"),
            ([f"A={tmp_path / 'a'}", f"{tmp_path / 'b'}"], "expected NAME=FOLDER"),
            ([f"A={tmp_path / 'a'}"], "name at least two")]:
        proc = compare(*args)
        assert proc.returncode != 0 and message in proc.stderr, (args, proc.stderr)
    _fake_run(tmp_path / "c" / "seed_0", "other", 0, [[1, 0.0]])
    proc = compare(f"A={tmp_path / 'a'}", f"C={tmp_path / 'c'}")
    assert proc.returncode != 0 and "span tasks other, t" in proc.stderr


def _unfinished_run(folder, seed, history, checkpoint_history=None):
    """A run stopped before its end (8 planned updates): config.json, the score file, and a
    last checkpoint with `checkpoint_history` when given (results/ keeps no checkpoints)."""
    from clue_jax import checkpoints
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(
        {"settings": {"seed": seed, "env_name": "t", "max_steps": 8}}))
    np.savetxt(folder / f"{seed}.txt", history, fmt=["%d", "%.1f"])
    if checkpoint_history is not None:
        checkpoints.save(folder / "checkpoint.msgpack",
                         {"step": checkpoint_history[-1][0],
                          "history": np.asarray(checkpoint_history, np.float64)})


def test_compare_runs_scores_unfinished_runs_at_an_update_they_reached(tmp_path):
    """A run stopped early (time limit, Ctrl-C) has no results.json: compare_runs.py scores it
    from its checkpoint's history (full precision) or its <seed>.txt, only with --at_step."""
    import subprocess
    root = Path(__file__).resolve().parents[1]
    for seed in range(2):
        _fake_run(tmp_path / "done" / f"seed_{seed}", "t", seed,
                  [[1, 10.0], [2, 20.0], [3, 30.0 + seed], [4, 0.0]], steps=8)
    _unfinished_run(tmp_path / "stopped" / "seed_0", 0, [[1, 0.0], [2, 0.0], [3, 0.0]],
                    checkpoint_history=[[1, 50.0], [2, 50.0], [3, 50.0]])  # the checkpoint wins
    _unfinished_run(tmp_path / "stopped" / "seed_1", 1, [[1, 70.0], [2, 70.0], [3, 70.0]])
    _unfinished_run(tmp_path / "stopped" / "seed_1.prev-20261206-010203", 1,
                    [[1, 0.0]])  # moved aside by a fresh start: not a run

    def compare(*args):
        return subprocess.run([sys.executable, "scripts/compare_runs.py", *args], cwd=root,
                              capture_output=True, text=True, timeout=300)

    proc = compare(f"S={tmp_path / 'stopped'}", f"D={tmp_path / 'done'}", "--at_step=3",
                   "--resamples=500")
    assert proc.returncode == 0, proc.stderr
    # seed 0 from its checkpoint, seed 1 (no checkpoint) from 1.txt
    assert "| S | 0,1 | 50.0, 70.0 | 60.0 ± 10.0 | 8 (unfinished: seed 0,1) |" in proc.stdout
    assert "| D | 0,1 | 20.0, 20.3 | 20.2 ± 0.2 | 8 |" in proc.stdout
    assert "| S - D | +39.8 [" in proc.stdout
    proc = compare(f"S={tmp_path / 'stopped'}", f"D={tmp_path / 'done'}")
    assert proc.returncode != 0 and "unfinished (evaluated up to update 3 of 8)" in proc.stderr
    proc = compare(f"S={tmp_path / 'stopped'}", f"D={tmp_path / 'done'}", "--at_step=4")
    assert proc.returncode != 0 and "before --at_step=4" in proc.stderr
