"""SAC: losses against hand-worked numbers, the fused env step, replay, checkpoint + resume."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from clue_jax import networks, sac_loop
from clue_jax.agents import sac, sac_actor
from clue_jax.data import replay
from clue_jax.types import Batch

LOG_2PI_HALF = 0.5 * np.log(2 * np.pi)  # 0.918939


# ----------------------------------------------------------------------------- losses by hand


def test_tanh_log_prob_correction_by_hand():
    # u = 0.5 under N(0, 1): -0.125 - 0.918939 = -1.043939; log(1 - tanh(0.5)^2) = -0.240229
    u = jnp.array([[0.5]])
    assert float(networks.tanh_log_det_jacobian(u)[0]) == pytest.approx(-0.240229, abs=1e-5)
    logp = networks.tanh_gaussian_log_prob(jnp.zeros((1, 1)), jnp.zeros((1, 1)), u)
    assert float(logp[0]) == pytest.approx(-1.043939 + 0.240229, abs=1e-5)
    # stable where tanh(u) rounds to 1: 2 * (log 2 - 20) = -38.613706 (naive form gives -inf)
    assert float(networks.tanh_log_det_jacobian(jnp.array([[20.0]]))[0]) == pytest.approx(
        -38.613706, abs=1e-4)
    # dimensions add up: two dims of u = 0.5 and -0.5
    two = networks.tanh_log_det_jacobian(jnp.array([[0.5, -0.5]]))
    assert float(two[0]) == pytest.approx(2 * -0.240229, abs=1e-5)


def test_sample_tanh_gaussian_by_hand():
    means, log_stds = jnp.array([[0.1, -0.2]]), jnp.log(jnp.array([[2.0, 0.5]]))
    actions, logp = networks.sample_tanh_gaussian(means, log_stds, jnp.array([[0.5, 1.0]]))
    np.testing.assert_allclose(actions, np.tanh([[0.1 + 1.0, -0.2 + 0.5]]), rtol=1e-6)
    # N(1.1; 0.1, 2) + N(0.3; -0.2, 0.5) = (-0.125 - log 2 - c) + (-0.5 - log 0.5 - c)
    expected = -0.125 - np.log(2) - 0.5 + np.log(2) - 2 * LOG_2PI_HALF \
        - np.log(1 - np.tanh(1.1) ** 2) - np.log(1 - np.tanh(0.3) ** 2)
    assert float(logp[0]) == pytest.approx(expected, abs=1e-5)


def test_policy_heads_and_clip():
    policy = networks.TanhGaussianPolicy((8,), 2)
    params = policy.init(jax.random.PRNGKey(0), jnp.zeros((1, 3)))["params"]
    assert set(params) == {"MLP_0", "means", "log_stds"}
    means, log_stds = policy.apply({"params": params}, jnp.ones((4, 3)))
    assert means.shape == log_stds.shape == (4, 2)
    assert float(jnp.abs(means).max()) < 0.1  # heads start near zero (scale 0.01)
    params["log_stds"]["bias"] = jnp.array([10.0, -10.0])
    _, log_stds = policy.apply({"params": params}, jnp.ones((1, 3)))
    np.testing.assert_allclose(log_stds, [[2.0, -5.0]], atol=0.1)


def test_critic_target_by_hand():
    # y = r + 0.9 * mask * (min(q1', q2') - 0.5 * logp'): 1 + 0.9 * (3 + 0.5) = 4.15; 2 + 0 = 2
    y = sac.critic_target(jnp.array([1.0, 2.0]), jnp.array([1.0, 0.0]), jnp.array([3.0, 5.0]),
                          jnp.array([4.0, 1.0]), jnp.array([-1.0, 2.0]), 0.5, 0.9)
    np.testing.assert_allclose(y, [4.15, 2.0], rtol=1e-6)


def _fixed_critic(variables, observations, actions):
    return variables["params"]["q1"], variables["params"]["q2"]


def test_critic_loss_by_hand():
    batch = Batch(jnp.zeros((2, 1)), jnp.zeros((2, 1)), jnp.zeros(2), jnp.ones(2),
                  jnp.zeros((2, 1)))
    params = {"q1": jnp.array([1.0, 2.0]), "q2": jnp.array([0.0, 4.0])}
    loss, info = sac.critic_loss(params, _fixed_critic, batch, jnp.array([1.0, 3.0]))
    assert float(loss) == pytest.approx(((0 + 1) + (1 + 1)) / 2)  # 1.5
    assert float(info["q2"]) == pytest.approx(2.0)


def test_actor_loss_by_hand():
    def actor_fn(variables, observations):
        return variables["params"]["means"], variables["params"]["log_stds"]

    def critic_fn(variables, observations, actions):  # min(Q1, Q2) = sum(a)
        return actions.sum(-1), actions.sum(-1) + 1.0

    params = {"means": jnp.array([[0.5]]), "log_stds": jnp.array([[0.0]])}
    loss, info = sac.actor_loss(params, actor_fn, {}, critic_fn, jnp.zeros((1, 1)), 0.2,
                                jnp.zeros((1, 1)))
    # a = tanh(0.5) = 0.462117; log pi = -0.918939 + 0.240229 = -0.678710
    assert float(info["entropy"]) == pytest.approx(0.678710, abs=1e-5)
    assert float(loss) == pytest.approx(0.2 * -0.678710 - 0.462117, abs=1e-5)
    # d loss / d mean = 0.2 * d logp/du + d(-tanh u)/du = 0.2 * 2 tanh(0.5) - (1 - tanh^2(0.5))
    grad = jax.grad(lambda p: sac.actor_loss(p, actor_fn, {}, critic_fn, jnp.zeros((1, 1)), 0.2,
                                             jnp.zeros((1, 1)))[0])(params)
    t = np.tanh(0.5)
    assert float(grad["means"][0, 0]) == pytest.approx(0.4 * t - (1 - t**2), abs=1e-5)


def test_temperature_loss_by_hand():
    params = {"log_alpha": jnp.log(0.5)}
    loss, info = sac.temperature_loss(params, jnp.float32(1.0), -3.0)
    assert float(loss) == pytest.approx(0.5 * (1.0 + 3.0))
    # gradient alpha * (H - target) > 0: descent lowers alpha when the entropy is above target
    grad = jax.grad(lambda p: sac.temperature_loss(p, 1.0, -3.0)[0])(params)
    assert float(grad["log_alpha"]) == pytest.approx(2.0)
    assert float(info["alpha"]) == pytest.approx(0.5)


# ----------------------------------------------------------------------------- update


def _tiny_agent(seed=0, obs_dim=3, act_dim=2):
    return sac.create(seed, obs_dim, act_dim, hidden_dims=(8, 8))


def _batch(key, n=16, obs_dim=3, act_dim=2):
    k = jax.random.split(key, 4)
    return Batch(jax.random.normal(k[0], (n, obs_dim)),
                 jax.random.uniform(k[1], (n, act_dim), minval=-1, maxval=1),
                 jax.random.normal(k[2], (n,)), (jnp.arange(n) % 5 != 0).astype(jnp.float32),
                 jax.random.normal(k[3], (n, obs_dim)))


def _manual_update(agent, batch):
    """critic, then the actor's gradient with the new and with the old critic (jitted below)."""
    _, next_key, actor_key = jax.random.split(agent.rng, 3)
    means, log_stds = agent.actor.apply_fn({"params": agent.actor.params},
                                           batch.next_observations)
    a2, lp2 = networks.sample_tanh_gaussian(means, log_stds,
                                            jax.random.normal(next_key, means.shape))
    q1, q2 = agent.critic.apply_fn({"params": agent.target_critic_params},
                                   batch.next_observations, a2)
    target = sac.critic_target(batch.rewards, batch.masks, q1, q2, lp2, 1.0, 0.99)
    grads = jax.grad(lambda p: sac.critic_loss(p, agent.critic.apply_fn, batch, target)[0])(
        agent.critic.params)
    critic = agent.critic.apply_gradients(grads=grads)
    noise = jax.random.normal(actor_key, batch.actions.shape)

    def actor_grads(critic_params):
        return jax.grad(lambda p: sac.actor_loss(p, agent.actor.apply_fn, critic_params,
                                                 agent.critic.apply_fn, batch.observations,
                                                 1.0, noise)[0])(agent.actor.params)
    return critic, actor_grads(critic.params), actor_grads(agent.critic.params)


@pytest.mark.slow
def test_update_follows_jaxrl_order():
    agent, batch = _tiny_agent(), _batch(jax.random.PRNGKey(1))
    new, info = sac.jit_update(agent, batch)
    critic, grads_new_critic, grads_old_critic = jax.jit(_manual_update)(agent, batch)
    for x, y in zip(*(jax.tree_util.tree_leaves(p) for p in (new.critic.params, critic.params))):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-7)
    # Adam's first step is ~ lr * sign(grad): compare its first moment, (1 - b1) * grad
    def flat(tree):
        return np.concatenate([np.ravel(x) for x in jax.tree_util.tree_leaves(tree)])
    moment = flat(new.actor.opt_state[0].mu)
    np.testing.assert_allclose(moment, 0.1 * flat(grads_new_critic), rtol=1e-4, atol=1e-8)
    assert not np.allclose(moment, 0.1 * flat(grads_old_critic), rtol=1e-3, atol=0)
    expected_target = jax.tree_util.tree_map(lambda c, t: 0.005 * c + 0.995 * t, critic.params,
                                             agent.target_critic_params)
    for x, y in zip(*(jax.tree_util.tree_leaves(p)
                      for p in (new.target_critic_params, expected_target))):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-7)
    # Adam's first step moves log_alpha by -lr * sign(H - target) = -3e-4 (H > -2 here)
    assert float(info["entropy"]) > -2.0
    assert float(new.temperature.params["log_alpha"]) == pytest.approx(-3e-4, abs=1e-6)


def test_fused_env_steps_smoke():
    agent, buffer = _tiny_agent(), replay.create_buffer(64, 3, 2)
    before = jax.tree_util.tree_map(np.array, agent.actor.params)
    rng = np.random.default_rng(0)
    for t in range(12):
        obs, next_obs = rng.normal(size=(2, 3)).astype(np.float32)
        row = Batch(obs, rng.uniform(-1, 1, 2).astype(np.float32), np.float32(rng.normal()),
                    np.float32(1.0), next_obs)
        agent, buffer, action, info = sac.env_step(
            agent, buffer, row, row.next_observations, learn=t >= 4, random=t < 4, batch_size=8)
    assert action.shape == (2,) and float(jnp.abs(action).max()) < 1.0
    assert int(buffer.size) == 12 and int(buffer.index) == 12
    assert all(np.isfinite(float(v)) for v in info.values())
    assert set(info) >= {"critic_loss", "actor_loss", "temperature_loss", "alpha", "entropy"}
    changed = jax.tree_util.tree_map(lambda a, b: not np.array_equal(a, b), before,
                                     jax.device_get(agent.actor.params))
    assert all(jax.tree_util.tree_leaves(changed))
    assert float(agent.alpha) < 1.0


# ----------------------------------------------------------------------------- replay


def test_replay_buffer_wraps_and_samples_filled_rows_only():
    buffer = replay.create_buffer(4, 1, 1)
    for i in range(2):
        buffer = replay.insert(buffer, Batch(jnp.array([i]), jnp.array([i]), i, 1.0,
                                             jnp.array([i])))
    batch = replay.sample(buffer, jax.random.PRNGKey(0), 100)
    assert set(np.asarray(batch.rewards).tolist()) == {0.0, 1.0}
    for i in range(2, 6):
        buffer = replay.insert(buffer, Batch(jnp.array([i]), jnp.array([i]), i, 1.0,
                                             jnp.array([i])))
    np.testing.assert_array_equal(buffer.data.rewards, [4, 5, 2, 3])
    assert (int(buffer.index), int(buffer.size)) == (2, 4)
    state = replay.buffer_state(buffer)
    again = replay.buffer_from_state(state, 4, 1, 1)
    np.testing.assert_array_equal(again.data.rewards, buffer.data.rewards)
    half = replay.buffer_from_state(replay.buffer_state(replay.create_buffer(4, 1, 1)), 4, 1, 1)
    assert int(half.size) == 0


def test_replay_log_chunks_truncate_and_cut(tmp_path):
    log = replay.ReplayLog(tmp_path)
    row = lambda t, term: (np.full(2, t), np.zeros(1), t, term, False, np.full(2, t + 1),  # noqa
                           np.zeros(3), np.zeros(3))
    for t in range(5):
        log.append(*row(t, t == 1))
    log.flush(5)
    for t in range(5, 8):
        log.append(*row(t, False))
    log.flush(8)
    data = replay.load_replay_log(tmp_path, upto=7)
    assert (data["rewards"].dtype, data["terminals"].dtype) == (np.float32, np.bool_)
    np.testing.assert_array_equal(data["rewards"], np.arange(7))
    np.testing.assert_array_equal(data["terminals"], [0, 1, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(data["timeouts"], [0, 0, 0, 0, 0, 0, 1])  # the cut
    replay.ReplayLog(tmp_path).truncate(5)  # a resume at step 5 forgets chunk 5-8
    assert [c[:2] for c in replay.chunk_files(tmp_path)] == [(0, 5)]
    with pytest.raises(FileNotFoundError, match="ends at step 5"):
        replay.load_replay_log(tmp_path, upto=7)


# ----------------------------------------------------------------------------- env + snapshots


def test_env_runner_state_restores_exactly():
    runner = sac_loop.EnvRunner("gen-hopper-expert-v0", seed=3)
    runner.reset()
    actions = np.random.default_rng(0).uniform(-0.3, 0.3, (25, 3)).astype(np.float32)
    for a in actions[:15]:
        runner.step(a)
    state = runner.state_dict()
    tail = [runner.step(a)[0] for a in actions[15:]]
    other = sac_loop.EnvRunner("gen-hopper-expert-v0", seed=3)
    other.load_state_dict(state)
    np.testing.assert_array_equal(np.stack([other.step(a)[0] for a in actions[15:]]),
                                  np.stack(tail))
    assert other.env._elapsed_steps == 25 and other.episode == runner.episode


def test_actor_snapshot_round_trip(tmp_path):
    agent = _tiny_agent()
    sac_actor.save_actor(tmp_path / "a.msgpack", agent.actor.params, 3, 2, (8, 8), step=7,
                         **{"return": 1.5})
    actor = sac_actor.load_actor(tmp_path / "a.msgpack")
    obs = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    np.testing.assert_allclose(sac_actor.deterministic_policy(actor)(obs),
                               sac.eval_actions(agent.actor, obs), rtol=1e-6)
    assert (actor.meta["step"], actor.meta["return"]) == (7, 1.5)
    from clue_jax import checkpoints
    checkpoints.save(tmp_path / "b.msgpack", {"x": np.zeros(2)})
    with pytest.raises(ValueError, match="not a SAC actor snapshot"):
        sac_actor.load_actor(tmp_path / "b.msgpack")


# ----------------------------------------------------------------------------- resume


def _run(run_dir, max_steps, resume=False):
    config = sac_loop.SACLoopConfig("gen-hopper-expert-v0", seed=0, max_steps=max_steps,
                                    start_steps=60, batch_size=16, replay_capacity=500,
                                    log_interval=50, eval_interval=150, eval_episodes=1,
                                    checkpoint_interval=100, resume=resume)
    return sac_loop.train_sac(config, {"hidden_dims": (8, 8)}, run_dir)


@pytest.mark.slow
def test_killed_and_resumed_run_equals_uninterrupted(tmp_path, monkeypatch):
    full, full_snaps = _run(tmp_path / "full", 300)
    step = sac_loop.EnvRunner.step
    calls = {"n": 0}

    def dying_step(self, action):
        calls["n"] += 1
        if calls["n"] > 250:
            raise KeyboardInterrupt("killed")
        return step(self, action)
    monkeypatch.setattr(sac_loop.EnvRunner, "step", dying_step)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path / "cut", 300)
    monkeypatch.setattr(sac_loop.EnvRunner, "step", step)
    assert [c[1] for c in replay.chunk_files(tmp_path / "cut" / "replay")] == [100, 200]
    resumed, snaps = _run(tmp_path / "cut", 300, resume=True)
    for x, y in zip(*(jax.tree_util.tree_leaves(jax.device_get(a)) for a in (resumed, full))):
        np.testing.assert_array_equal(x, y)  # params, Adam states, target params, rng
    assert snaps == full_snaps and [s["step"] for s in snaps] == [150, 300]
    a, b = (replay.load_replay_log(tmp_path / d / "replay") for d in ("full", "cut"))
    for key in replay.LOG_KEYS:
        np.testing.assert_array_equal(a[key], b[key])
    assert len(a["rewards"]) == 300 and a["terminals"].sum() >= 1
    index = json.loads((tmp_path / "cut" / sac_loop.SNAPSHOT_INDEX).read_text())
    assert index["snapshots"][-1]["file"] == "actor_300.msgpack"


@pytest.mark.slow
def test_train_sac_script_flags_to_settings_to_run(tmp_path):
    """train_sac.py is flags -> SACSettings -> run_sac: a tiny run writes its folder."""
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run(
        [sys.executable, "train_sac.py", "--env_name=Hopper-v5", "--seed=1", "--max_steps=60",
         "--eval_interval=30", "--checkpoint_interval=30", "--eval_episodes=1", "--notqdm",
         f"--save_dir={tmp_path}", "--config=configs/sac_config.py",
         "--config.start_steps=20", "--config.batch_size=8", "--config.agent.hidden_dims=(8,8)"],
        cwd=root, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_dir = tmp_path / "sac" / "Hopper-v5" / "seed_1"
    assert sorted(p.name for p in run_dir.glob("actor_*.msgpack")) == [
        "actor_30.msgpack", "actor_60.msgpack"]
    assert "2 snapshots" in proc.stdout + proc.stderr
