"""Generated AntMaze datasets (generation/antmaze_datasets.py): rules per dataset, the
planner's waypoints on each maze, the D4RL layout of a small file made with a stand-in
actor, determinism, and the missing-policy message."""

from pathlib import Path

import numpy as np
import pytest

from clue_jax.agents import sac_actor
from clue_jax.data import d4rl_io
from clue_jax.envs import antgoal, antmaze, maze_planner
from clue_jax.generation import antmaze_datasets as gen
from clue_jax.generation.locomotion_datasets import PolicyNotFoundError


@pytest.fixture(scope="module")
def actor():
    return sac_actor.random_actor(0, antgoal.OBS_DIM, antgoal.ACT_DIM, hidden_dims=(16, 16))


def test_rules_per_dataset():
    assert set(gen.RULES) == {"umaze", "umaze-diverse", "medium-play", "medium-diverse",
                              "large-play", "large-diverse"}
    np.testing.assert_array_equal(gen.goal_cells("umaze", "umaze"), [[3, 1]])
    np.testing.assert_array_equal(gen.start_cells("umaze", "umaze"), [[1, 1]])
    for maze in ("medium", "large"):
        grid = antmaze.maze_grid(maze)
        play = gen.goal_cells(maze, "play")
        assert np.all(grid[play[:, 0], play[:, 1]] == 0)  # hand-picked goals lie in free cells
        np.testing.assert_array_equal(gen.start_cells(maze, "play"), [[1, 1]])
        free = maze_planner.free_cells(grid)
        np.testing.assert_array_equal(gen.goal_cells(maze, "diverse"), free)
        np.testing.assert_array_equal(gen.start_cells(maze, "diverse"), free)
    with pytest.raises(ValueError, match="rule"):
        gen.goal_cells("umaze", "random")


def test_cells_and_positions():
    cells = np.array([[1, 1], [3, 1], [7, 9]])
    xy = antmaze.cell_xy(cells)
    np.testing.assert_array_equal(xy, [[0, 0], [0, 8], [32, 24]])
    np.testing.assert_array_equal(gen.cell_of(xy), cells)
    # D4RL's reading, int(1 + max(v, 1e-4) / 4): a cell from its centre to the next one's
    np.testing.assert_array_equal(gen.cell_of(np.array([[3.99, -1.0], [4.0, 0.0], [-0.1, 7.99],
                                                        [31.9, 24.1]])),
                                  [[1, 1], [1, 2], [2, 1], [7, 8]])
    assert np.allclose(gen.eval_goal("umaze"), [0.75, 8.75])


@pytest.mark.parametrize("maze,length", [("umaze", 6), ("medium", 10), ("large", 14)])
def test_waypoints_lead_from_the_start_to_the_goal_cell(maze, length):
    grid = antmaze.maze_grid(maze)
    table = gen.planner_table(maze)
    goal_cell = np.array([antmaze.MAZES[maze][2]])
    goal = antmaze.draw_goals(np.random.default_rng(0), goal_cell)
    assert np.all(gen.cell_of(goal) == goal_cell)  # the goal's noise keeps it in its cell
    rng = np.random.default_rng(1)
    xy, visited = np.zeros((1, 2)), []
    for _ in range(40):
        target = gen.waypoints(table, xy, goal, goal_cell, rng)
        cell = gen.cell_of(target)[0]
        assert grid[cell[0], cell[1]] == 0
        if maze_planner.path_length(table, tuple(gen.cell_of(xy)[0]), tuple(goal_cell[0])) <= 1:
            np.testing.assert_array_equal(target, goal)  # heads for the goal from next door
            visited.append(tuple(goal_cell[0]))
            break
        offset = target - antmaze.cell_xy(cell)
        assert np.all((0 <= offset) & (offset < gen.WAYPOINT_NOISE))
        assert np.abs(cell - gen.cell_of(xy)[0]).sum() == 1  # one move to a neighbour cell
        visited.append(tuple(cell))
        xy = target  # the ant arrives at the waypoint
    assert visited[-1] == tuple(goal_cell[0]) and len(visited) == length
    assert maze_planner.path_length(table, (1, 1), tuple(goal_cell[0])) == length


def test_the_planner_answers_from_a_wall_cell_as_d4rls_bfs_does():
    """Hugging a wall's far side, the torso reads as in the wall's cell: the next cell is the
    wall cell's free neighbour nearest the goal; free cells plan as without walls."""
    grid = antmaze.maze_grid("umaze")  # walls: row 2, cols 1-2; start (1, 1), goal (3, 1)
    table = gen.planner_table("umaze")
    plain = maze_planner.next_cell_table(grid)
    free = grid == 0
    np.testing.assert_array_equal(table[:, :, free][free], plain[:, :, free][free])
    assert tuple(table[3, 1, 2, 1]) == (3, 1)  # next to the goal: straight to it
    assert tuple(table[1, 1, 2, 1]) == (1, 1)
    assert tuple(table[1, 1, 2, 2]) == (1, 2)  # (2, 3) is farther from (1, 1)
    assert np.all(plain[:, :, ~free] == -1)


def test_policy_sees_the_target_at_most_goal_max_away():
    qpos, qvel = np.zeros((3, 15)), np.zeros((3, 14))
    targets = np.array([[3.0, 4.0], [30.0, 40.0], [0.3, 0.4]])
    obs = gen.policy_observations(qpos, qvel, targets)  # the datasets' rule: "clip"
    np.testing.assert_allclose(obs[:, 27:], [[3.0, 4.0], [3.0, 4.0], [0.3, 0.4]], rtol=1e-6)
    # D4RL's rule (its offsets scaled to 10, here to GOAL_MAX = 5): a near target looks as far
    obs = gen.policy_observations(qpos, qvel, targets, "scale")
    np.testing.assert_allclose(obs[:, 27:], [[3.0, 4.0]] * 3, rtol=1e-6)
    with pytest.raises(ValueError, match="offset_rule: got 'unit'"):
        gen.policy_observations(qpos, qvel, targets, "unit")


def test_v0_names_clip_the_offset_and_v1_names_scale_it_as_d4rl():
    from clue_jax.envs import registry
    from clue_jax.generation import generated
    from clue_jax.grid import presets
    for stem in gen.RULES:
        for version, rule in (("v0", "clip"), ("v1", "scale")):
            name = f"gen-antmaze-{stem}-{version}"
            assert gen.gen_name(stem, version) == name
            assert generated.get_generated(name).generate.keywords == {"offset_rule": rule}
            assert registry.get_spec(name).family == "antmaze"
            assert presets.D4RL_TWINS[name] == f"antmaze-{stem}-v2"
    for name in gen.NAMES:
        assert registry.get_spec(name).family == "antmaze" and name in presets.D4RL_TWINS
    with pytest.raises(ValueError, match="version: got 'v2'"):
        gen.gen_name("umaze", "v2")


def test_the_offset_rule_changes_the_episodes_and_is_recorded(actor):
    def make(rule):
        return gen.generate("umaze", 80, 3, actor=actor, num_envs=2, episode_length=40,
                            offset_rule=rule)
    (clipped, meta_clip), (scaled, meta_scale) = make("clip"), make("scale")
    assert (meta_clip["offset_rule"], meta_scale["offset_rule"]) == ("clip", "scale")
    assert (meta_clip["name"], meta_scale["name"]) == ("gen-antmaze-umaze-v0",
                                                       "gen-antmaze-umaze-v1")
    np.testing.assert_array_equal(clipped["observations"][0], scaled["observations"][0])
    assert not np.array_equal(clipped["actions"], scaled["actions"])
    with pytest.raises(ValueError, match="offset_rule"):
        gen.generate("umaze", 80, 3, actor=actor, offset_rule="unit")


@pytest.mark.parametrize("stem", ["umaze", "medium-diverse"])
def test_small_file_layout(stem, actor):
    length, size = 40, 190
    data, meta = gen.generate(stem, size, 3, actor=actor, num_envs=2, episode_length=length)
    assert {k: (v.dtype, v.shape) for k, v in data.items()} == {
        "observations": (np.float32, (size, 29)), "next_observations": (np.float32, (size, 29)),
        "actions": (np.float32, (size, 8)), "rewards": (np.float32, (size,)),
        "terminals": (np.bool_, (size,)), "timeouts": (np.bool_, (size,)),
        "infos/goal": (np.float32, (size, 2)), "infos/qpos": (np.float32, (size, 15)),
        "infos/qvel": (np.float32, (size, 14))}
    np.testing.assert_array_equal(np.flatnonzero(data["timeouts"]), [39, 79, 119, 159, 189])
    assert np.all(np.abs(data["actions"]) <= 1.0)
    np.testing.assert_array_equal(data["observations"][:, :15], data["infos/qpos"])
    np.testing.assert_array_equal(data["observations"][:, 15:], data["infos/qvel"])
    maze, rule = gen.RULES[stem]
    for first in range(0, size, length):
        rows = slice(first, min(first + length, size))
        goals = data["infos/goal"][rows]
        assert np.all(goals == goals[0])  # one goal per episode
        assert tuple(gen.cell_of(goals[0])) in set(map(tuple, gen.goal_cells(maze, rule)))
        obs, nxt = data["observations"][rows], data["next_observations"][rows]
        np.testing.assert_array_equal(obs[1:], nxt[:-1])  # consecutive within the episode
        start = gen.cell_of(obs[0, :2])
        assert tuple(start) in set(map(tuple, gen.start_cells(maze, rule)))
    hit = np.linalg.norm(data["next_observations"][:, :2] - meta["eval_goal"], axis=1) <= 0.5
    np.testing.assert_array_equal(data["rewards"], hit.astype(np.float32))
    np.testing.assert_array_equal(data["terminals"], hit)
    assert meta["name"] == f"gen-antmaze-{stem}-v0" and meta["rule"] == rule
    again, _ = gen.generate(stem, size, 3, actor=actor, num_envs=2, episode_length=length)
    for key in data:
        np.testing.assert_array_equal(again[key], data[key])


def test_diverse_starts_spread_over_the_maze(actor):
    data, _ = gen.generate("umaze-diverse", 8 * 5, 0, actor=actor, num_envs=8, episode_length=5)
    starts = {tuple(gen.cell_of(data["observations"][i, :2])) for i in range(0, 40, 5)}
    assert len(starts) >= 3


def test_the_diagnostic_diverse_goals_leave_out_the_start_cell(actor):
    free = maze_planner.free_cells(antmaze.maze_grid("umaze"))
    cells = gen.goal_cells("umaze", "diverse", "free-but-start")
    assert len(cells) == len(free) - 1 and [1, 1] not in cells.tolist()
    data, meta = gen.generate("umaze-diverse", 40 * 5, 0, actor=actor, num_envs=40,
                              episode_length=5, diverse_goals="free-but-start")
    goals = {tuple(gen.cell_of(g)) for g in data["infos/goal"][::5]}
    assert (1, 1) not in goals and len(goals) >= 4
    assert meta["diverse_goals"] == "free-but-start" and "diagnostic" in meta["name"]
    for stem, choice, named in (("umaze", "free-but-start", "diverse datasets only"),
                                ("umaze-diverse", "corners", "diverse_goals: got 'corners'")):
        with pytest.raises(ValueError, match=named):
            gen.generate(stem, 10, 0, actor=actor, diverse_goals=choice)


def test_missing_policy_names_the_commands(tmp_path, monkeypatch):
    monkeypatch.setenv("CLUE_JAX_POLICY_DIR", str(tmp_path))
    with pytest.raises(PolicyNotFoundError, match="train_sac.py --env_name=gen-antgoal-v0"):
        gen.generate("large-play", 10, 0)


def test_the_mission_command_on_generated_antmaze_names_the_missing_policy(tmp_path,
                                                                          monkeypatch, capsys):
    """`train_clue.py --env_name=gen-antmaze-large-play-v0 --num_expert=1` resolves every
    config (antmaze's) and stops at the data, before any run folder, naming the commands."""
    from clue_jax import experiments
    from clue_jax.experiments import RunSettings
    monkeypatch.setenv("CLUE_JAX_POLICY_DIR", str(tmp_path / "policies"))
    monkeypatch.setenv("CLUE_JAX_DATA_DIR", str(tmp_path / "data"))
    settings = RunSettings(env_name="gen-antmaze-large-play-v0", labeller="clue", num_expert=1,
                           save_dir=str(tmp_path / "runs"))
    plan = experiments.make_plan(settings)
    assert plan.domain == experiments.DOMAINS["antmaze"] and plan.loop.max_steps == 1_000_000
    assert plan.domain.labeller_domain == "antmaze"
    with pytest.raises(PolicyNotFoundError, match="bench_antmaze_policy.py"):
        experiments.run(settings)
    assert not (tmp_path / "runs").exists()
    assert "generating" not in capsys.readouterr().err  # refused before announcing anything


@pytest.mark.slow  # a process that rolls the shipped ant out for 2,000 steps
def test_data_stats_script_compares_the_offset_rules_and_refuses_unknown_ones():
    import subprocess
    import sys
    script = ["scripts/antmaze_data_stats.py", "--stems=umaze"]
    bad = subprocess.run([sys.executable, *script, "--sample=1000", "--versions=v9"],
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "unknown ['v9']" in bad.stderr
    bad = subprocess.run([sys.executable, *script, "--sample=1500"], capture_output=True,
                         text=True)
    assert bad.returncode != 0 and "not a multiple of the episode length" in bad.stderr
    out = subprocess.run([sys.executable, *script, "--sample=1000", "--versions=v0,v1"],
                         capture_output=True, text=True, check=True).stdout  # shipped ant
    rows = [line for line in out.splitlines() if "first 1,000 rows" in line]
    assert [r.split(" |")[0] for r in rows] == ["| gen-antmaze-umaze-v0, first 1,000 rows (clip)",
                                                "| gen-antmaze-umaze-v1, first 1,000 rows (scale)"]
    assert all(r.count("|") == 10 and "1,000 | 1 |" in r for r in rows)


@pytest.mark.slow  # a process that rolls the shipped ant out for 1,000 steps
def test_the_path_cells_and_the_flow_table(tmp_path, actor):
    """--flow: per cell on the evaluation's path, rows near it and the shares moving toward
    the goal / away; a file generate() made joins its maze's table; bad input exits first."""
    import subprocess
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    import antmaze_data_stats as stats
    assert stats.path_cells("umaze").tolist() == [[1, 1], [1, 2], [1, 3], [2, 3], [3, 3],
                                                  [3, 2], [3, 1]]
    # ants that all walk +x at speed 1 from the start: toward the goal at (0, 0), none away
    raw = {"observations": np.zeros((10, 29), np.float32),
           "infos/qvel": np.tile(np.float32([1.0, 0.0]), (10, 1))}
    assert stats.flow_row("d", raw, "umaze") == "| d | 0k, 100% / 0% | 0k, - | 0k, - | " \
                                                "0k, - | 0k, - | 0k, - |"
    data, meta = gen.generate("umaze-diverse", 200, 0, actor=actor, num_envs=2,
                              episode_length=100, diverse_goals="free-but-start")
    path = tmp_path / "diag.hdf5"
    d4rl_io.save_hdf5(str(path), data, meta)
    script = [sys.executable, "scripts/antmaze_data_stats.py"]
    out = subprocess.run([*script, "--flow", "--stems=umaze", "--sample=1000",
                          f"--files={path}"], capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    assert lines[0].startswith("| dataset (umaze: rows near each path cell, toward / away) | "
                               "(0, 0) | (4, 0) | (8, 0) | (8, 4) | (8, 8) | (4, 8) |")
    assert lines[2].startswith("| gen-antmaze-umaze-v0, first 1,000 rows (clip) | ")
    assert lines[3].startswith("| gen-antmaze-umaze-diverse-v0, goals free-but-start "
                               "(diagnostic) | ") and lines[3].count("|") == 8
    for flags, named in ((["--files=" + str(path)], "--files is read with --flow only"),
                         (["--flow", f"--files={tmp_path / 'no.hdf5'}"], "not found")):
        bad = subprocess.run([*script, *flags], capture_output=True, text=True)
        assert bad.returncode != 0 and named in bad.stderr
