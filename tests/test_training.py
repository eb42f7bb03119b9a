"""The shared loop: checkpoint round trip, resume equality, run folder, logs."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from clue_jax import checkpoints, training
from clue_jax.agents import iql
from clue_jax.data.dataset import make_dataset, to_device
from clue_jax.logging import read_scores

OBS, ACT = 4, 2


def tiny_dataset(n=200, seed=0):
    rng = np.random.default_rng(seed)
    obs = rng.normal(size=(n + 1, OBS)).astype(np.float32)
    terminals = np.zeros(n)
    terminals[::50] = 1
    return make_dataset(obs[:-1], rng.uniform(-1, 1, (n, ACT)), rng.normal(size=n), terminals,
                        obs[1:])


def tiny_agent(seed=0, max_steps=20):
    return iql.create(seed, jnp.zeros((1, OBS)), jnp.zeros((1, ACT)), hidden_dims=(8, 8),
                      max_steps=max_steps, dropout_rate=0.1)


PROBE = np.linspace(-1, 1, 3 * OBS, dtype=np.float32).reshape(3, OBS)


def policy_factory(agent):
    return lambda obs: np.asarray(iql.eval_actions(agent.actor, jnp.asarray(obs)))


def probe_eval(policy_fn, step=None):
    """A deterministic stand-in for env evaluation: a number that depends on the policy."""
    return {"return": float(policy_fn(PROBE).sum()), "normalized_score": float(policy_fn(PROBE).sum())}


def loop(**kw):
    args = dict(seed=3, max_steps=20, batch_size=16, log_interval=5, eval_interval=10,
                progress=False)
    args.update(kw)
    return training.LoopConfig(**args)


def test_checkpoint_round_trip(tmp_path):
    agent = tiny_agent()
    path = tmp_path / "ck.msgpack"
    checkpoints.save(path, {"agent": agent, "step": 7, "key": jax.random.PRNGKey(4)})
    back = checkpoints.restore(path, {"agent": tiny_agent(seed=1), "step": 0,
                                      "key": jax.random.PRNGKey(0)})
    assert int(back["step"]) == 7
    np.testing.assert_array_equal(back["key"], jax.random.PRNGKey(4))
    for a, b in zip(jax.tree.leaves(agent), jax.tree.leaves(back["agent"])):
        np.testing.assert_array_equal(a, b)
    assert not list(tmp_path.glob("*.tmp"))  # atomic write leaves no temp file


def test_corrupt_checkpoint_error(tmp_path):
    path = tmp_path / "checkpoint.msgpack"
    path.write_bytes(b"\x00garbage")
    with pytest.raises(ValueError, match="cannot be read"):
        checkpoints.load_raw(path)


@pytest.mark.slow
def test_resume_equals_uninterrupted(tmp_path):
    data = tiny_dataset()
    full_dir = training.prepare_run_dir(tmp_path / "full", {"a": 1}, resume=False)
    full, full_hist = training.train_offline(tiny_agent(), data, iql.jit_update_n, policy_factory,
                                             probe_eval, loop(), full_dir)

    calls = {"n": 0}

    def killed_eval(policy_fn, step=None):
        calls["n"] += 1
        if calls["n"] == 2:  # the process dies during the second evaluation (step 20)
            raise KeyboardInterrupt
        return probe_eval(policy_fn)

    run_dir = training.prepare_run_dir(tmp_path / "killed", {"a": 1}, resume=False)
    with pytest.raises(KeyboardInterrupt):
        training.train_offline(tiny_agent(), data, iql.jit_update_n, policy_factory, killed_eval,
                               loop(), run_dir)
    assert checkpoints.find(run_dir) is not None
    resumed, hist = training.train_offline(tiny_agent(seed=99), data, iql.jit_update_n,
                                           policy_factory, probe_eval, loop(resume=True), run_dir)
    assert hist == full_hist
    for a, b in zip(jax.tree.leaves(full), jax.tree.leaves(resumed)):
        np.testing.assert_array_equal(a, b)
    rows = read_scores(run_dir / "3.txt")
    assert rows.shape == (2, 2) and list(rows[:, 0]) == [10, 20]
    # TensorBoard shows the resumed run as the uninterrupted one: same tags, same steps
    from clue_jax.logging import read_scalars
    full_tb, resumed_tb = read_scalars(full_dir / "tb" / "agent"), read_scalars(
        run_dir / "tb" / "agent")
    assert len(list((run_dir / "tb" / "agent").glob("events.out.tfevents*"))) == 2
    steps = lambda tb: {tag: [s for s, _ in rows] for tag, rows in tb.items()}  # noqa: E731
    assert steps(resumed_tb) == steps(full_tb) and steps(full_tb)["eval/return"] == [10, 20]


@pytest.mark.slow
def test_same_seed_same_history(tmp_path):
    data = tiny_dataset()
    hists = []
    for name in ("a", "b"):
        d = training.prepare_run_dir(tmp_path / name, {}, resume=False)
        _, h = training.train_offline(tiny_agent(), data, iql.jit_update_n, policy_factory,
                                      probe_eval, loop(), d)
        hists.append(h)
    assert hists[0] == hists[1]


def test_prepare_run_dir_moves_old_run_aside(tmp_path):
    run = training.prepare_run_dir(tmp_path / "r", {"x": 1}, resume=False)
    (run / "keep.txt").write_text("old")
    training.prepare_run_dir(tmp_path / "r", {"x": 2}, resume=False)
    moved = list(tmp_path.glob("r.prev-*"))
    assert len(moved) == 1 and (moved[0] / "keep.txt").read_text() == "old"
    assert json.loads((tmp_path / "r" / "config.json").read_text()) == {"x": 2}


def test_unwritable_save_dir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(PermissionError, match="save_dir"):
        training.prepare_run_dir(blocker / "run", {}, resume=False)


def test_divergence_guard_stops_at_the_first_nonfinite_chunk(tmp_path):
    data = tiny_dataset()
    bad = data.with_rewards(np.where(np.arange(data.size) == 7, np.nan, data.rewards))
    loop = training.LoopConfig(seed=0, max_steps=40, batch_size=256, log_interval=10,
                               eval_interval=10, progress=False)
    with pytest.raises(training.DivergenceError, match=r"updates 1-10: train/\w+ = nan"):
        training.train_offline(tiny_agent(max_steps=40), bad, iql.jit_update_n, policy_factory,
                               probe_eval, loop, tmp_path)
    assert not (tmp_path / checkpoints.CHECKPOINT_NAME).exists()


@pytest.mark.slow
def test_divergence_guard_names_a_parameter_and_keeps_the_last_checkpoint(tmp_path):
    loop = training.LoopConfig(seed=0, max_steps=20, batch_size=16, log_interval=10,
                               eval_interval=10, progress=False)
    calls = []

    def update_n(agent, data, key, num_steps, batch_size):
        agent, key, info = iql.jit_update_n(agent, data, key, num_steps=num_steps,
                                            batch_size=batch_size)
        calls.append(num_steps)
        if len(calls) == 2:  # the second chunk blows up a critic weight
            agent = jax.tree_util.tree_map(lambda x: x * jnp.inf if x.ndim == 2 else x, agent)
        return agent, key, info

    with pytest.raises(training.DivergenceError, match="updates 11-20: parameter") as err:
        training.train_offline(tiny_agent(), tiny_dataset(), update_n, policy_factory,
                               probe_eval, loop, tmp_path)
    assert "checkpoint of step 10" in str(err.value)
    state = checkpoints.restore(tmp_path / checkpoints.CHECKPOINT_NAME,
                                {"agent": tiny_agent(), "key": jax.random.PRNGKey(0), "step": 0,
                                 "history": np.zeros((0, 2))})
    assert int(state["step"]) == 10


def test_evaluation_episode_records_resume_like_an_uninterrupted_run(tmp_path):
    for step in (100, 200, 300):
        training.write_evaluation_episodes(tmp_path, step, {"returns": np.array([step, 1.0])})
    # a run killed after step 300 but resumed from the checkpoint of step 200 re-evaluates 300
    training.write_evaluation_episodes(tmp_path, 300, {"returns": np.array([7.0])})
    lines = (tmp_path / training.EPISODES_FILE).read_text().splitlines()
    assert [json.loads(line) for line in lines] == [
        {"step": 100, "returns": [100.0, 1.0]}, {"step": 200, "returns": [200.0, 1.0]},
        {"step": 300, "returns": [7.0]}]


def test_a_killed_writers_temp_file_is_removed_by_the_next_write(tmp_path):
    import subprocess
    import sys
    import time
    target = tmp_path / "data.hdf5"
    code = ("import sys, time\nfrom clue_jax import checkpoints\n"
            f"with checkpoints.atomic_file({str(target)!r}) as tmp:\n"
            "    open(tmp, 'wb').write(b'x' * 1000)\n"
            "    print('writing', flush=True)\n"
            "    time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    live = list(tmp_path.glob(".data.hdf5.*.tmp"))
    assert len(live) == 1
    # a live writer's temp file is left alone
    checkpoints.atomic_write_bytes(tmp_path / "other.bin", b"1")
    assert checkpoints.remove_stale_temps(target) == 0 and live[0].exists()
    proc.kill()  # SIGKILL: no cleanup runs in the writer
    proc.wait()
    time.sleep(0.1)
    assert live[0].exists()
    checkpoints.atomic_write_bytes(target, b"done")
    assert not list(tmp_path.glob(".data.hdf5.*.tmp")) and target.read_bytes() == b"done"


# ----------------------------------------------------------------------------- seeds vmapped


def stacked_probe_factory(agents):
    """Stacked policy: (S * E, obs) -> actions, one vmapped call (as AgentSpec.stacked_policy)."""
    act = jax.vmap(lambda a, o: iql.eval_actions(a.actor, o))
    num = jax.tree.leaves(agents)[0].shape[0]
    return lambda obs: np.asarray(act(agents, jnp.asarray(obs).reshape(num, -1, OBS))
                                  ).reshape(len(obs), -1)


def group_probe_eval(policy_fn, step=None):
    actions = policy_fn(np.concatenate([PROBE, PROBE + 1.0])).reshape(2, len(PROBE), -1)
    return [{"return": float(a.sum()), "normalized_score": float(a.sum())} for a in actions]


def seed_datas(seeds):
    """One dataset (observations shared) under a different reward vector per seed."""
    base = tiny_dataset()
    return [base.with_rewards(np.random.default_rng(s).normal(size=base.size).astype(np.float32))
            for s in seeds]


@pytest.mark.slow
def test_vmapped_seeds_equal_separate_runs_and_share_the_observations(tmp_path):
    seeds = (3, 4)
    datasets = seed_datas(seeds)
    devices = [to_device(d) for d in datasets]
    shared, axes = training.share_data(devices)
    assert axes.observations is None and axes.rewards == 0 and shared.rewards.shape[0] == 2
    dirs = [training.prepare_run_dir(tmp_path / "v" / str(s), {}, False) for s in seeds]
    agents, hists = training.train_offline_seeds(
        [tiny_agent(s) for s in seeds], devices, iql.jit_update_n, stacked_probe_factory,
        group_probe_eval, [loop(seed=s) for s in seeds], dirs)
    for i, s in enumerate(seeds):
        sep_dir = training.prepare_run_dir(tmp_path / "s" / str(s), {}, False)
        offset = (lambda p, step=None, i=i: probe_eval(lambda o: p(o + float(i))))
        agent, hist = training.train_offline(tiny_agent(s), datasets[i], iql.jit_update_n,
                                             policy_factory, offset, loop(seed=s), sep_dir)
        assert [st for st, _ in hists[i]] == [st for st, _ in hist] == [10, 20]
        np.testing.assert_allclose([v for _, v in hists[i]], [v for _, v in hist], rtol=1e-4)
        for a, b in zip(jax.tree.leaves(agents[i]), jax.tree.leaves(agent)):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
        # the same files as a separate run, and a checkpoint a separate run can resume
        names = lambda d: sorted(p.name for p in d.iterdir())  # noqa: E731
        assert names(dirs[i]) == names(sep_dir)
        restored = checkpoints.restore(dirs[i] / checkpoints.CHECKPOINT_NAME,
                                       {"agent": tiny_agent(0), "key": jnp.zeros(2, jnp.uint32),
                                        "step": 0, "history": np.zeros((0, 2))})
        assert restored["step"] == 20


@pytest.mark.slow
def test_vmapped_seeds_resume_equals_uninterrupted(tmp_path):
    seeds = (3, 4)
    devices = [to_device(d) for d in seed_datas(seeds)]
    run = lambda root, eval_fn, resume=False: training.train_offline_seeds(  # noqa: E731
        [tiny_agent(s) for s in seeds], devices, iql.jit_update_n, stacked_probe_factory,
        eval_fn, [loop(seed=s, resume=resume) for s in seeds],
        [root / str(s) for s in seeds])
    for s in seeds:
        training.prepare_run_dir(tmp_path / "full" / str(s), {}, False)
        training.prepare_run_dir(tmp_path / "killed" / str(s), {}, False)
    full, full_hists = run(tmp_path / "full", group_probe_eval)
    calls = {"n": 0}

    def killed(policy_fn, step=None):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return group_probe_eval(policy_fn)

    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "killed", killed)
    resumed, hists = run(tmp_path / "killed", group_probe_eval, resume=True)
    assert hists == full_hists
    for a, b in zip(jax.tree.leaves(full), jax.tree.leaves(resumed)):
        np.testing.assert_array_equal(a, b)
    # seeds whose checkpoints are at different steps cannot continue together
    training.train_offline(tiny_agent(3), seed_datas((3,))[0], iql.jit_update_n, policy_factory,
                           probe_eval, loop(seed=3, max_steps=30), tmp_path / "killed" / "3")
    with pytest.raises(training.SeedsOutOfStepError, match="seed 3: 30, seed 4: 20"):
        run(tmp_path / "killed", group_probe_eval, resume=True)


@pytest.mark.slow
def test_a_deadline_stops_at_a_checkpoint_and_resume_finishes_as_uninterrupted(tmp_path):
    """The first period (10 updates and an evaluation that takes 1.5 s) shows the next would
    pass the deadline 1 s away: the run stops at its step-10 checkpoint; resumed without a
    deadline it ends as an uninterrupted run."""
    import time
    data = tiny_dataset()
    full_dir = training.prepare_run_dir(tmp_path / "full", {}, resume=False)
    full, full_hist = training.train_offline(tiny_agent(), data, iql.jit_update_n,
                                             policy_factory, probe_eval, loop(), full_dir)

    def slow_eval(policy_fn, step=None):
        time.sleep(1.5)
        return probe_eval(policy_fn)

    run_dir = training.prepare_run_dir(tmp_path / "cut", {}, resume=False)
    with pytest.raises(training.StoppedAtDeadline, match="stopped at update 10 of 20"):
        training.train_offline(tiny_agent(), data, iql.jit_update_n, policy_factory, slow_eval,
                               loop(deadline=time.time() + 1.0), run_dir)
    assert read_scores(run_dir / "3.txt")[:, 0].tolist() == [10]  # one row: still (1, 2)
    resumed, hist = training.train_offline(tiny_agent(seed=5), data, iql.jit_update_n,
                                           policy_factory, probe_eval, loop(resume=True), run_dir)
    assert hist == full_hist
    for a, b in zip(jax.tree.leaves(full), jax.tree.leaves(resumed)):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(training.StoppedAtDeadline, match="stopped at update 0"):
        training.train_offline(tiny_agent(), data, iql.jit_update_n, policy_factory, probe_eval,
                               loop(deadline=time.time() - 1), tmp_path / "late")


def test_a_run_folder_has_one_writer_and_a_dead_writers_lock_is_taken_over(tmp_path):
    import subprocess
    import sys
    import time
    from clue_jax import locks
    run_dir = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from clue_jax import locks; "
         f"locks.RunLock.acquire({str(run_dir)!r}); open({str(run_dir / 'x')!r}, 'w'); "
         "print('held', flush=True); time.sleep(600)"], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(locks.RunFolderBusy, match=rf"{run_dir} is in use by pid {holder.pid}"):
        training.prepare_run_dir(run_dir, {}, resume=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # not moved aside
    assert locks.busy(run_dir) is not None
    holder.kill()
    holder.wait()
    time.sleep(0.1)
    assert locks.busy(run_dir) is None  # the kernel dropped the dead writer's lock
    training.prepare_run_dir(run_dir, {"a": 1}, resume=True)  # taken over
    assert json.loads((run_dir / "config.json").read_text()) == {"a": 1}
    locks.release(run_dir)
