"""ORIL labeller: discriminator loss and gradient penalty by hand, frozen first layer, rewards."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax.training.train_state import TrainState
import optax

from clue_jax import experiments, networks
from clue_jax.experiments import RunSettings
from clue_jax.generation import generated
from clue_jax.rewards import oril
from configs import oril_config, td3bc_config


def linear_fn(variables, x):
    return x @ variables["params"]["w"] + variables["params"]["b"]


def softplus(x):
    return np.log1p(np.exp(x))


def test_discriminator_loss_and_gradient_penalty_by_hand():
    params = {"w": jnp.array([2.0, -1.0]), "b": jnp.array(0.5)}
    xe = jnp.array([[1.0, 0.0], [0.0, 1.0]])
    xo = jnp.array([[0.0, 0.0], [1.0, 1.0]])
    u = jnp.array([[0.5], [1.0]])
    loss, info = oril.discriminator_loss(params, linear_fn, xe, xo, u, gp_weight=10.0)
    le, lo = np.array([2.5, -0.5]), np.array([0.5, 1.5])
    bce = softplus(-le).mean() + softplus(lo).mean()   # -log sigmoid(le), -log(1 - sigmoid(lo))
    penalty = (np.sqrt(5.0) - 1.0) ** 2                # grad of a linear logit is w everywhere
    assert float(info["disc_bce"]) == pytest.approx(bce, rel=1e-6)
    assert float(info["disc_penalty"]) == pytest.approx(penalty, rel=1e-6)
    assert float(loss) == pytest.approx(bce + 10 * penalty, rel=1e-6)


def test_penalty_uses_the_interpolated_points():
    def quad(variables, x):  # gradient 2x: its norm depends on where it is taken
        return jnp.sum(x ** 2, axis=-1) * variables["params"]["s"]
    xe, xo = jnp.array([[2.0, 0.0]]), jnp.array([[0.0, 0.0]])
    _, info = oril.discriminator_loss({"s": 1.0}, quad, xe, xo, jnp.array([[0.25]]), 1.0)
    assert float(info["disc_penalty"]) == pytest.approx((2 * 0.5 - 1.0) ** 2 + 0.0, abs=1e-7)


def test_first_layer_stays_at_init_and_logits_separate_expert_states():
    rng = np.random.default_rng(0)
    expert = rng.normal(2.0, 0.3, size=(300, 3)).astype(np.float32)
    offline = rng.normal(-2.0, 0.3, size=(3000, 3)).astype(np.float32)
    module = networks.Discriminator((16, 16))
    state = TrainState.create(apply_fn=module.apply, tx=optax.adam(3e-3),
                              params=module.init(jax.random.PRNGKey(0), offline[:1])["params"])
    trained, info = oril.train_discriminator(state, jnp.asarray(expert), jnp.asarray(offline),
                                             jax.random.PRNGKey(1), num_steps=200, batch_size=64,
                                             gp_weight=10.0, train_first_layer=False)
    first = lambda s: s.params["MLP_0"]["TorchDense_0"]["kernel"]  # noqa: E731
    np.testing.assert_array_equal(first(trained), first(state))
    assert not np.array_equal(trained.params["MLP_0"]["TorchDense_2"]["kernel"],
                              state.params["MLP_0"]["TorchDense_2"]["kernel"])
    assert float(info["expert_logit"]) > 0 > float(info["offline_logit"])


def test_oril_rewards_rank_expert_like_states_higher():
    rng = np.random.default_rng(1)
    expert = rng.normal(1.0, 0.2, size=(200, 4)).astype(np.float32)
    data = np.concatenate([rng.normal(1.0, 0.2, size=(200, 4)),
                           rng.normal(-1.0, 0.2, size=(800, 4))]).astype(np.float32)
    config = oril_config.get_config()
    config.hidden_dims, config.iterations, config.batch_size = (16, 16), 100, 64
    config.learning_rate = 3e-3  # a tiny net trained briefly: the default 3e-4 needs ~300 passes
    rewards, info = oril.oril_rewards(data, expert, config, seed=0)
    assert rewards.shape == (1000,) and info["discriminator_steps"] == 100 * 4
    assert rewards[:200].mean() > rewards[200:].mean() + 1.0  # the logit, unscaled


def test_oril_trains_td3bc_through_the_seam(tmp_path):
    maze = generated.ensure_generated("gen-pointmaze-umaze-diverse-v0",
                                      cache_dir=str(tmp_path / "data"), size=3000, seed=0)
    cfg = oril_config.get_config()
    cfg.hidden_dims, cfg.iterations = (8, 8), 2
    agent = td3bc_config.get_config()
    agent.hidden_dims = (8, 8)
    results = experiments.run(RunSettings(
        env_name="gen-pointmaze-umaze-diverse-v0", agent="td3bc", labeller="oril",
        dataset_path=maze, save_dir=str(tmp_path), max_steps=20, log_interval=10,
        eval_interval=10, eval_episodes=0, batch_size=16, progress=False, seed=1,
        agent_config=agent, labeller_config=cfg))
    run_dir = tmp_path / "td3bc-oril-sparse-K1" / "gen-pointmaze-umaze-diverse-v0" / "seed_1"
    with np.load(run_dir / "rewards.npz") as f:
        assert f["rewards"].shape == (2997,) and np.isfinite(f["rewards"]).all()
    assert results["agent"] == "td3bc" and results["labeller"] == "oril"
