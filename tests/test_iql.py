"""IQL: losses against hand-worked numbers, update order, fused = single, vmap, determinism."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from clue_jax import networks
from clue_jax.agents import iql
from clue_jax.types import Batch

from learner_checks import assert_fused_equals_single, assert_vmapped_equals_separate

OBS, ACT = 5, 3


def tiny_agent(seed=0, **kw):
    args = dict(hidden_dims=(16, 16), expectile=0.9, temperature=10.0, max_steps=100)
    args.update(kw)
    return iql.create(seed, jnp.zeros((1, OBS)), jnp.zeros((1, ACT)), **args)


def random_batch(key, n=8):
    k = jax.random.split(key, 5)
    return Batch(observations=jax.random.normal(k[0], (n, OBS)),
                 actions=jax.random.uniform(k[1], (n, ACT), minval=-1, maxval=1),
                 rewards=jax.random.normal(k[2], (n,)),
                 masks=(jax.random.uniform(k[3], (n,)) > 0.2).astype(jnp.float32),
                 next_observations=jax.random.normal(k[4], (n, OBS)))


def test_expectile_loss_by_hand():
    diff = jnp.array([2.0, -1.0, 0.5, 0.0])
    # positive diffs weigh 0.9, negative (and zero) 0.1
    np.testing.assert_allclose(iql.expectile_loss(diff, 0.9), [0.9 * 4, 0.1 * 1, 0.9 * 0.25, 0.0],
                               rtol=1e-6)


def test_awr_weights_clip_at_100():
    w = iql.awr_weights(jnp.array([1.0, 0.0, 2.0]), jnp.array([0.9, 0.0, 0.0]), 10.0)
    np.testing.assert_allclose(w, [np.exp(1.0), 1.0, 100.0], rtol=1e-5)


def test_temperature_zero_is_behaviour_cloning():
    """beta = 0 weighs every row 1: the actor learns the same from any rewards (the bc
    method); at beta = 10 the rewards reach it through the advantages."""
    assert np.all(iql.awr_weights(jnp.array([5.0, -3.0]), jnp.array([0.0, 2.0]), 0.0) == 1.0)
    batch = random_batch(jax.random.PRNGKey(1))
    other = batch._replace(rewards=-3.0 * batch.rewards + 1.0)
    update = jax.jit(iql.update)

    def train(agent, b):
        for _ in range(3):
            agent, _ = update(agent, b)
        return agent

    for temperature, same_actor in ((0.0, True), (10.0, False)):
        a = train(tiny_agent(temperature=temperature, dropout_rate=None), batch)
        b = train(tiny_agent(temperature=temperature, dropout_rate=None), other)
        same = [np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a.actor.params),
                                                     jax.tree.leaves(b.actor.params))]
        assert all(same) == same_actor and any(same) == same_actor, temperature
        assert not np.allclose(jax.tree.leaves(a.critic.params)[0],
                               jax.tree.leaves(b.critic.params)[0])


def test_gaussian_log_prob_by_hand():
    mean = jnp.array([[0.0, 1.0]])
    log_std = jnp.array([0.0, np.log(2.0)])
    x = jnp.array([[1.0, 1.0]])
    # N(1; 0, 1) + N(1; 1, 2): -0.5 - 0.5 log 2pi  +  -log 2 - 0.5 log 2pi
    expected = -0.5 - np.log(2.0) - np.log(2 * np.pi)
    np.testing.assert_allclose(networks.gaussian_log_prob(mean, log_std, x), [expected], rtol=1e-6)


def test_value_loss_matches_hand_numbers():
    value_fn = lambda p, obs: obs[:, 0] * p["params"]["w"]  # noqa: E731
    obs = jnp.array([[1.0], [2.0]])
    loss, info = iql.value_loss({"w": jnp.array(1.0)}, value_fn, obs, jnp.array([3.0, 1.0]), 0.7)
    # diffs: 3-1=2 (w .7), 1-2=-1 (w .3) -> (0.7*4 + 0.3*1)/2
    np.testing.assert_allclose(loss, (0.7 * 4 + 0.3) / 2, rtol=1e-6)
    np.testing.assert_allclose(info["v"], 1.5)


def test_critic_loss_matches_hand_numbers():
    critic_fn = lambda p, o, a: (o[:, 0] + p["params"]["b"], o[:, 0] - p["params"]["b"])  # noqa
    batch = Batch(observations=jnp.array([[1.0], [0.0]]), actions=jnp.zeros((2, 1)),
                  rewards=jnp.array([1.0, 2.0]), masks=jnp.array([1.0, 0.0]),
                  next_observations=jnp.zeros((2, 1)))
    loss, _ = iql.critic_loss({"b": jnp.array(0.5)}, critic_fn, batch, jnp.array([10.0, 10.0]), 0.9)
    y = np.array([1 + 0.9 * 10, 2.0])
    q1, q2 = np.array([1.5, 0.5]), np.array([0.5, -0.5])
    np.testing.assert_allclose(loss, np.mean((q1 - y) ** 2 + (q2 - y) ** 2), rtol=1e-6)


def test_actor_loss_matches_hand_numbers():
    actor_fn = lambda p, o, training, rngs: (jnp.zeros((o.shape[0], 1)), p["params"]["ls"])  # noqa
    loss, _ = iql.actor_loss({"ls": jnp.array([0.0])}, actor_fn, jnp.zeros((2, 1)),
                             jnp.array([[0.0], [1.0]]), jnp.array([2.0, 1.0]), jax.random.PRNGKey(0))
    lp = np.array([-0.5 * np.log(2 * np.pi), -0.5 - 0.5 * np.log(2 * np.pi)])
    np.testing.assert_allclose(loss, -np.mean(np.array([2.0, 1.0]) * lp), rtol=1e-6)


def test_polyak():
    out = iql.polyak({"a": jnp.array(1.0)}, {"a": jnp.array(3.0)}, 0.25)
    np.testing.assert_allclose(out["a"], 0.25 * 1 + 0.75 * 3)


@pytest.mark.slow
def test_update_follows_reference_order():
    """Recompute one update by hand in the reference order: V, actor(new V, target Q), Q(new V)."""
    agent = tiny_agent(dropout_rate=None)
    batch = random_batch(jax.random.PRNGKey(1))
    new_agent, _ = iql.update(agent, batch)

    tq = jnp.minimum(*agent.critic.apply_fn({"params": agent.target_critic_params},
                                            batch.observations, batch.actions))
    vfn = agent.value.apply_fn
    g_v = jax.grad(lambda p: iql.value_loss(p, vfn, batch.observations, tq, 0.9)[0])(
        agent.value.params)
    value = agent.value.apply_gradients(grads=g_v)
    np.testing.assert_allclose(jax.tree.leaves(new_agent.value.params)[0],
                               jax.tree.leaves(value.params)[0], rtol=1e-5, atol=1e-6)
    v = vfn({"params": value.params}, batch.observations)
    next_v = vfn({"params": value.params}, batch.next_observations)
    dropout_key, _ = jax.random.split(agent.rng)
    w = iql.awr_weights(tq, v, 10.0)
    g_a = jax.grad(lambda p: iql.actor_loss(p, agent.actor.apply_fn, batch.observations,
                                            batch.actions, w, dropout_key)[0])(agent.actor.params)
    actor = agent.actor.apply_gradients(grads=g_a)
    g_c = jax.grad(lambda p: iql.critic_loss(p, agent.critic.apply_fn, batch, next_v, 0.99)[0])(
        agent.critic.params)
    critic = agent.critic.apply_gradients(grads=g_c)
    target = iql.polyak(critic.params, agent.target_critic_params, 0.005)
    for got, want in [(new_agent.actor.params, actor.params), (new_agent.critic.params, critic.params),
                      (new_agent.target_critic_params, target)]:
        for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # Using the OLD value in the critic target would give a different critic: the order matters.
    old_next_v = vfn({"params": agent.value.params}, batch.next_observations)
    assert not np.allclose(old_next_v, next_v)


def test_cosine_schedule_reaches_zero():
    tx = iql.make_actor_optimizer(1.0, 10, "cosine")
    params = {"w": jnp.array(0.0)}
    state = tx.init(params)
    g = {"w": jnp.array(1.0)}
    steps = []
    for _ in range(11):
        upd, state = tx.update(g, state, params)
        steps.append(float(upd["w"]))
    assert steps[0] == pytest.approx(-1.0, rel=1e-3)  # Adam's first step is ~ -lr
    assert steps[5] == pytest.approx(-0.5, rel=1e-2)  # cos schedule at half time
    assert steps[10] == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("schedule", iql.NO_DECAY)
def test_no_decay_schedules_keep_the_learning_rate(schedule):
    """'none', '' and None (the reference's empty flag) all mean plain Adam at actor_lr."""
    tx = iql.make_actor_optimizer(1.0, 10, schedule)
    params = {"w": jnp.array(0.0)}
    state = tx.init(params)
    for _ in range(10):
        upd, state = tx.update({"w": jnp.array(1.0)}, state, params)
    assert float(upd["w"]) == pytest.approx(-1.0, rel=1e-3)


def test_unknown_schedule_is_refused_naming_the_choices():
    with pytest.raises(ValueError, match="expected one of"):
        iql.make_actor_optimizer(1.0, 10, "linear")


def test_fused_steps_equal_single_steps():
    assert_fused_equals_single(iql, tiny_agent(dropout_rate=0.1),
                               random_batch(jax.random.PRNGKey(3), n=64), 5, 16)


@pytest.mark.slow
def test_vmap_over_seeds_matches_individual_runs():
    make = functools.partial(iql.create, observations=jnp.zeros((1, OBS)),
                             actions=jnp.zeros((1, ACT)), hidden_dims=(16, 16), max_steps=10)
    batched, infos = assert_vmapped_equals_separate(
        iql, make, random_batch(jax.random.PRNGKey(3), n=64), 3, 3, 8)
    assert infos["critic_loss"].shape == (3,)
    # different seeds really give different networks
    assert not np.allclose(batched.value.params["MLP_0"]["Dense_0"]["kernel"][0],
                           batched.value.params["MLP_0"]["Dense_0"]["kernel"][1])


def test_same_seed_same_numbers():
    data = random_batch(jax.random.PRNGKey(3), n=64)
    outs = []
    for _ in range(2):
        agent, _, info = iql.jit_update_n(tiny_agent(seed=5), data, jax.random.PRNGKey(1),
                                          num_steps=4, batch_size=8)
        outs.append((np.asarray(info["critic_loss"]), np.asarray(agent.actor.params["Dense_0"]["kernel"])))
    assert outs[0][0] == outs[1][0]
    np.testing.assert_array_equal(outs[0][1], outs[1][1])


def test_network_facts():
    """Reference networks: tanh mean, state-independent log-std init 0, clip [-5, 2], orthogonal."""
    agent = tiny_agent()
    assert agent.actor.params["log_stds"].shape == (ACT,)
    np.testing.assert_array_equal(agent.actor.params["log_stds"], 0.0)
    means, log_stds = agent.actor.apply_fn({"params": {**agent.actor.params,
                                                       "log_stds": jnp.array([-9.0, 0.0, 9.0])}},
                                           100 * jnp.ones((2, OBS)))
    np.testing.assert_allclose(log_stds, [-5.0, 0.0, 2.0])
    assert np.all(np.abs(means) <= 1.0)
    k = np.asarray(agent.value.params["MLP_0"]["Dense_0"]["kernel"])  # (OBS, 16), orthogonal * sqrt 2
    np.testing.assert_allclose(k @ k.T, 2.0 * np.eye(OBS), atol=1e-4)
    assert set(agent.critic.params) == {"critic1", "critic2"}
    assert isinstance(agent.critic.tx, optax.GradientTransformation)


def test_reference_configs():
    from configs import adroit_config, antmaze_config, kitchen_config, mujoco_config
    common = dict(actor_lr=3e-4, value_lr=3e-4, critic_lr=3e-4, hidden_dims=(256, 256),
                  discount=0.99, tau=0.005, opt_decay_schedule="cosine")
    for module, (expectile, beta, dropout) in [(antmaze_config, (0.9, 10.0, None)),
                                               (mujoco_config, (0.7, 3.0, None)),
                                               (kitchen_config, (0.7, 0.5, 0.1)),
                                               (adroit_config, (0.7, 0.5, 0.1))]:
        config = module.get_config().to_dict()
        assert config == dict(common, expectile=expectile, temperature=beta, dropout_rate=dropout)
