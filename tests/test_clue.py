"""CLUE labeller: losses by hand, calibration switch, labelling, files, expert selection."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from clue_jax.rewards.processing import postprocess_rewards

from clue_jax.data import experts
from clue_jax.data.dataset import DatasetError, make_dataset, to_device
from clue_jax.rewards import clue, labelling, plots, storage
from clue_jax.types import Batch
from configs.clue_config import get_config

LN2 = float(np.log(2.0))


def tiny_config(**overrides):
    config = get_config("antmaze")
    config.hidden_dims = (32, 32)
    config.batch_size = 64
    config.learning_rate = 1e-3
    config.update(overrides)
    return config


def flat_dataset(obs, act, rewards=None, terminals=None, next_obs=None):
    n = len(obs)
    return make_dataset(obs, act, np.zeros(n) if rewards is None else rewards,
                        np.zeros(n) if terminals is None else terminals,
                        obs + 0.01 if next_obs is None else next_obs)


def synthetic_task(n=2000, n_expert=200, seed=0):
    """2-D states; expert actions are +0.8 everywhere, the rest uniform in [-1, 1]^2."""
    rng = np.random.default_rng(seed)
    data = flat_dataset(rng.uniform(-1, 1, (n, 2)), rng.uniform(-1, 1, (n, 2)))
    expert = flat_dataset(rng.uniform(-1, 1, (n_expert, 2)), np.full((n_expert, 2), 0.8))
    return data, expert


@pytest.fixture(scope="module")
def trained():
    """A calibrated CVAE trained briefly on the synthetic task (shared by several tests)."""
    data, expert = synthetic_task()
    state = clue.create_clue_state(tiny_config(), data, seed=0)
    state, info = clue.train_cvae(state, to_device(data), to_device(expert), 1000)
    return state, data, expert, info


# ----------------------------------------------------------------------------- losses


def test_kl_loss_by_hand():
    mean = jnp.array([[1.0, 2.0], [0.0, 0.0]])
    log_std = jnp.array([[0.0, LN2], [0.0, 0.0]])
    # row 0: dim0 -0.5(1 + 0 - 1 - 1) = 0.5; dim1 -0.5(1 + 2 ln2 - 4 - 4) = 3.5 - ln2
    # row 1: N(0, 1) -> 0. Mean over the 4 elements:
    loss, info = clue.kl_loss(mean, log_std)
    np.testing.assert_allclose(loss, (0.5 + 3.5 - LN2) / 4, rtol=1e-6)
    assert info["kl_loss"] == loss


def test_calibration_loss_by_hand():
    mean = jnp.array([[1.0, 2.0], [0.0, 0.0]])
    log_std = jnp.array([[0.0, LN2], [0.0, 0.0]])
    # row 0: 1 + 4 + 1 + 4 = 10; row 1: 0 + 0 + 1 + 1 = 2; mean over the batch = 6
    loss, _ = clue.calibration_loss(mean, log_std)
    np.testing.assert_allclose(loss, 6.0, rtol=1e-6)
    # 'mean' over the L = 2 latent dims, as the KL is reduced: 6 / 2
    loss, _ = clue.calibration_loss(mean, log_std, "mean")
    np.testing.assert_allclose(loss, 3.0, rtol=1e-6)
    with pytest.raises(ValueError, match="calibration reduction"):
        clue.calibration_loss(mean, log_std, "max")


def test_reconstruction_loss_by_hand():
    loss, _ = clue.reconstruction_loss(jnp.array([[0.0, 1.0], [1.0, 1.0]]),
                                       jnp.array([[1.0, 1.0], [1.0, -1.0]]))
    np.testing.assert_allclose(loss, (1 + 0 + 0 + 4) / 4, rtol=1e-6)


def test_state_normalization_by_hand():
    mean, std = clue.state_normalization(np.array([[0.0, 1.0], [2.0, 1.0]]), True)
    np.testing.assert_allclose(mean, [1.0, 1.0])
    np.testing.assert_allclose(std, [1.001, 0.001], rtol=1e-6)
    mean, std = clue.state_normalization(np.array([[0.0, 1.0], [2.0, 1.0]]), False)
    np.testing.assert_array_equal(mean, [0.0, 0.0])
    np.testing.assert_array_equal(std, [1.0, 1.0])


@pytest.mark.slow
def test_no_calibration_removes_the_term():
    data, expert = synthetic_task(n=100, n_expert=20)
    on = clue.create_clue_state(tiny_config(), data, seed=3)
    off = clue.create_clue_state(tiny_config(calibrate=False), data, seed=3)
    assert on.calib_weight == 0.8 and off.calib_weight == 0.0
    vae_batch, expert_batch = to_device(data), to_device(expert)
    key = jax.random.PRNGKey(7)

    @jax.jit
    def loss(state, params):
        return clue.clue_loss(state.model.replace(params=params), vae_batch, expert_batch, key,
                              beta=state.beta, calib_weight=state.calib_weight)

    params = on.train_state.params
    loss_off, i_off = loss(off, params)
    loss_on, i_on = loss(on, params)
    # equal up to one float32 rounding of the final sum
    np.testing.assert_allclose(loss_off, i_off["recon_loss"] + 0.5 * i_off["kl_loss"],
                               rtol=2e-7, atol=0)
    np.testing.assert_allclose(loss_on, i_on["recon_loss"] + 0.5 * i_on["kl_loss"]
                               + 0.8 * i_on["calibration_loss"], rtol=1e-6)
    assert float(i_off["calibration_loss"]) > 0  # still reported
    g_on = jax.grad(lambda p: loss(on, p)[0])(params)
    g_off = jax.grad(lambda p: loss(off, p)[0])(params)
    # calibration acts on the encoder only: decoder gradients agree, encoder's differ
    for a, b in zip(jax.tree_util.tree_leaves(g_on["decoder"]),
                    jax.tree_util.tree_leaves(g_off["decoder"])):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    enc_diff = max(float(jnp.abs(a - b).max()) for a, b in zip(
        jax.tree_util.tree_leaves(g_on["encoder"]), jax.tree_util.tree_leaves(g_off["encoder"])))
    assert enc_diff > 1e-3


@pytest.mark.slow
def test_vae_data_modes_choose_the_rows_of_the_vae_loss():
    data, expert = synthetic_task(n=30, n_expert=10)
    state = clue.create_clue_state(tiny_config(), data, seed=0)
    vae_batch, expert_batch = to_device(data), to_device(expert)
    mean, log_std = state.model.encode(jnp.concatenate([data.observations, expert.observations]),
                                       jnp.concatenate([data.actions, expert.actions]))
    loss = jax.jit(clue.clue_loss, static_argnames=("beta", "calib_weight", "vae_data"))
    for mode, rows in (("union", 30), ("concat", 40)):
        _, info = loss(state.model, vae_batch, expert_batch, jax.random.PRNGKey(0),
                       beta=0.5, calib_weight=0.8, vae_data=mode)
        np.testing.assert_allclose(info["kl_loss"], clue.kl_loss(mean[:rows], log_std[:rows])[0],
                                   rtol=1e-5)
        np.testing.assert_allclose(info["calibration_loss"],
                                   clue.calibration_loss(mean[30:], log_std[30:])[0], rtol=1e-5)
    config = tiny_config()
    config.calib_reduction = "mean"  # the config field reaches the learner's loss
    state = clue.create_clue_state(config, data, seed=0)
    assert state.calib_reduction == "mean"
    _, info = clue.cvae_update(state, vae_batch, expert_batch)
    np.testing.assert_allclose(info["calibration_loss"],
                               clue.calibration_loss(mean[30:], log_std[30:], "mean")[0],
                               rtol=1e-5)
    with pytest.raises(ValueError, match="vae_data='both'"):
        clue.create_clue_state(tiny_config(vae_data="both"), data, seed=0)


def test_train_cvae_deterministic_per_seed_and_compiled_once():
    data, expert = synthetic_task(n=100, n_expert=20)
    d_data, d_expert = to_device(data), to_device(expert)
    a, _ = clue.train_cvae(clue.create_clue_state(tiny_config(), data, 5), d_data, d_expert, 5)
    b, _ = clue.train_cvae(clue.create_clue_state(tiny_config(), data, 5), d_data, d_expert, 5)
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        np.testing.assert_array_equal(x, y)
    compiled = clue.train_cvae._cache_size()
    a, _ = clue.train_cvae(a, d_data, d_expert, 5)  # a trained state reuses the compilation
    assert clue.train_cvae._cache_size() == compiled and int(a.step) == 10


def test_sample_union_draws_both_sets_in_proportion():
    def marked(n, offset):
        x = jnp.arange(n, dtype=jnp.float32)[:, None] + offset
        return Batch(x, x, x[:, 0], x[:, 0], x)

    batch = clue.sample_union(marked(3, 0.0), marked(2, 100.0), jax.random.PRNGKey(0), 20000)
    obs = np.asarray(batch.observations[:, 0])
    np.testing.assert_array_equal(obs, np.asarray(batch.actions[:, 0]))  # rows stay whole
    assert set(np.unique(obs)) == {0.0, 1.0, 2.0, 100.0, 101.0}
    np.testing.assert_allclose((obs >= 100).mean(), 2 / 5, atol=0.02)


# ----------------------------------------------------------------------------- labelling


def test_calibrated_expert_transitions_get_higher_rewards(trained):
    state, data, expert, info = trained
    model = state.model
    z_e = labelling.expert_embedding(model, expert.observations, expert.actions)
    r_data = labelling.label_rewards(model, data.observations, data.actions, z_e, 3.0)
    r_expert = labelling.label_rewards(model, expert.observations, expert.actions, z_e, 3.0)
    assert r_expert.mean() > 0.9
    assert r_expert.mean() - r_data.mean() > 0.4
    # among the unlabelled rows, those whose actions are near the expert's score higher
    near = np.linalg.norm(data.actions - 0.8, axis=1) < 0.3
    far = np.linalg.norm(data.actions - 0.8, axis=1) > 1.5
    assert r_data[near].mean() > r_data[far].mean() + 0.4
    assert float(info["expert_latent_norm"]) < 0.5 * float(info["data_latent_norm"])


def test_rewards_in_unit_interval_and_decrease_with_latent_distance(trained):
    state, data, _, _ = trained
    model = state.model
    means, _ = labelling.encode_dataset(model, data.observations, data.actions)
    z_e = means[0]  # the first row sits exactly at z_e
    rewards = labelling.label_rewards(model, data.observations, data.actions, z_e, 2.0)
    assert rewards.dtype == np.float32 and rewards.shape == (data.size,)
    assert np.all(rewards > 0) and np.all(rewards <= 1)
    np.testing.assert_allclose(rewards[0], 1.0, rtol=1e-6)
    dist = np.sum((means - z_e) ** 2, axis=1)
    np.testing.assert_allclose(rewards, np.exp(-2.0 * dist), rtol=1e-4, atol=1e-7)
    assert np.all(np.diff(rewards[np.argsort(dist)]) <= 1e-6)


def test_sampled_rewards_draw_each_rows_noise_from_its_index(trained):
    """use_mean=False: z = mu + sigma * eps_i, eps_i ~ N(0, I) from fold_in(key, i), i the row's
    position in the labelled array (Eq. 6's z(s, a) ~ q(z | s, a))."""
    state, data, expert, _ = trained
    model = state.model
    z_e = labelling.expert_embedding(model, expert.observations, expert.actions)
    key = jax.random.PRNGKey(7)
    rewards = labelling.label_rewards(model, data.observations[:300], data.actions[:300], z_e,
                                      2.0, use_mean=False, key=key)
    means, log_std = labelling.encode_dataset(model, data.observations[:300], data.actions[:300])
    eps = np.stack([np.asarray(jax.random.normal(jax.random.fold_in(key, i), (model.latent_dim,)))
                    for i in range(300)])
    z = means + np.exp(log_std) * eps
    np.testing.assert_allclose(rewards, np.exp(-2.0 * np.sum((z - z_e) ** 2, axis=1)),
                               rtol=1e-4, atol=1e-7)
    tail = labelling.label_rewards(model, data.observations[100:300], data.actions[100:300],
                                   z_e, 2.0, use_mean=False, key=key)
    assert not np.allclose(tail, rewards[100:])  # rows 100.. drew eps_0.. here, not eps_100..
    rows = np.array([299, 5, 100, 42])  # with their indices, a subset gets its rows' rewards
    subset = labelling.label_rewards(model, data.observations[rows], data.actions[rows], z_e,
                                     2.0, use_mean=False, key=key, row_ids=rows, chunk_size=3)
    np.testing.assert_allclose(subset, rewards[rows], rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="needs a PRNG key"):
        labelling.label_rewards(model, data.observations, data.actions, z_e, 2.0, use_mean=False)
    with pytest.raises(ValueError, match="row_ids has shape"):
        labelling.label_rewards(model, data.observations[:3], data.actions[:3], z_e, 2.0,
                                row_ids=np.arange(4))


def test_labelling_reports_how_the_encoder_spreads(trained):
    state, data, expert, _ = trained
    _, info = labelling.relabel_dataset(state.model, data, expert, tiny_config(temperature=3.0))
    mu_e, log_std_e = labelling.encode_dataset(state.model, expert.observations, expert.actions)
    mu, log_std = labelling.encode_dataset(state.model, data.observations, data.actions)
    assert data.size < labelling.ENCODER_STATS_ROWS  # every row counts
    assert info["expert_sigma_mean"] == pytest.approx(float(np.exp(log_std_e).mean()), rel=1e-5)
    assert info["data_sigma_mean"] == pytest.approx(float(np.exp(log_std).mean()), rel=1e-5)
    assert info["expert_latent_norm"] == pytest.approx(
        float(np.linalg.norm(mu_e, axis=1).mean()), rel=1e-5)
    assert info["data_latent_norm"] == pytest.approx(
        float(np.linalg.norm(mu, axis=1).mean()), rel=1e-5)
    # calibration (Eq. 7) holds the experts' q(z | s, a) tighter than the data's
    assert info["expert_sigma_mean"] < info["data_sigma_mean"]


def test_flat_rewards_are_reported_and_warned_about(trained):
    """raw_reward_std is the raw Eq. 6 rewards' std; rewards that hardly vary (here a tiny c
    puts every embedding 'near' z_e, as a collapsed latent does) get the warning."""
    from clue_jax.rewards import clue_labeller
    state, data, expert, _ = trained
    config = tiny_config(temperature=3.0)
    _, info = labelling.relabel_dataset(state.model, data, expert, config)
    z_e = labelling.expert_embedding(state.model, expert.observations, expert.actions)
    raw = labelling.label_rewards(state.model, data.observations, data.actions, z_e, 3.0)
    assert info["raw_reward_std"] == pytest.approx(float(raw.std()), rel=1e-5)
    assert info["raw_reward_std"] > clue_labeller.FLAT_REWARD_STD
    assert clue_labeller.flat_reward_warning(info, "run") is None
    _, flat = labelling.relabel_dataset(state.model, data, expert, tiny_config(temperature=1e-4))
    assert flat["raw_reward_std"] < 1e-3 and flat["raw_reward_min"] > 0.99
    warning = clue_labeller.flat_reward_warning(flat, "clue-sparse-K1 on maze, seed 0")
    assert "clue-sparse-K1 on maze, seed 0" in warning and "--cvae_steps" in warning
    assert f"std {flat['raw_reward_std']:.3f} < 0.05" in warning
    # the control: the same reward on every row, at this run's mean, whatever the domain's shift
    assert (f"--labeller=constant --constant_config.value={flat['reward_mean']:.3f} "
            "--constant_config.reward_shift=0") in warning
    named = clue_labeller.flat_reward_warning(flat, "run", run_dir="runs/clue-sparse-K1/m/seed_0")
    assert "--constant_config.level_from=runs/clue-sparse-K1/m/seed_0 (or --labeller" in named


def test_a_collapsed_posterior_is_named_and_sampling_keeps_the_experts_apart():
    """A heavy KL (beta 5) collapses q(z | s, a) to the prior on the data: the encoder means
    all sit near z_e, Eq. 6 on them is flat, and the warning says so, names the constant control
    at the run's mean reward and the sampled z, whose rewards still single out the expert rows
    (their sigma is held down by Eq. 7)."""
    from clue_jax.rewards import clue_labeller
    data, expert = synthetic_task(n=500, n_expert=50)
    state = clue.create_clue_state(tiny_config(beta=5.0), data, seed=0)
    state, _ = clue.train_cvae(state, to_device(data), to_device(expert), 300)
    _, info = labelling.relabel_dataset(state.model, data, expert, tiny_config(beta=5.0))
    assert info["data_sigma_mean"] > clue_labeller.COLLAPSED_SIGMA
    assert info["raw_reward_std"] < clue_labeller.FLAT_REWARD_STD
    assert info["expert_sigma_mean"] < 0.5 * info["data_sigma_mean"]
    warning = clue_labeller.flat_reward_warning(info, "run")
    assert f"collapsed to the prior on the data (mean sigma {info['data_sigma_mean']:.3f}" in \
        warning and "--clue_config.use_mean=False" in warning and "--cvae_steps" not in warning
    assert f"--constant_config.value={info['reward_mean']:.3f}" in warning
    _, sampled = labelling.relabel_dataset(state.model, data, expert,
                                           tiny_config(beta=5.0, use_mean=False),
                                           key=jax.random.PRNGKey(0))
    assert sampled["expert_raw_reward_mean"] > 5 * sampled["raw_reward_mean"]
    assert clue_labeller.flat_reward_warning(sampled, "run", use_mean=False) is None


def test_a_clue_run_with_flat_rewards_warns(tmp_path, capsys):
    from clue_jax.rewards import clue_labeller
    from clue_jax.rewards.base import LabelRequest
    data, expert = synthetic_task(n=500, n_expert=50)
    request = LabelRequest(dataset=data, expert=expert, progress=False, run_dir=tmp_path,
                           config=tiny_config(num_steps=20, temperature=1e-4), seed=0,
                           title="clue on the synthetic task, seed 0")
    labels, = clue_labeller.label_seeds([request])
    assert labels.info["raw_reward_std"] < clue_labeller.FLAT_REWARD_STD
    err = capsys.readouterr().err
    assert "warning: clue on the synthetic task, seed 0: CLUE's rewards hardly vary" in err


def test_chunked_labelling_equals_unchunked_and_compiles_once(trained):
    state, data, expert, _ = trained
    model = state.model
    z_e = labelling.expert_embedding(model, expert.observations, expert.actions)
    obs, act = data.observations[:1000], data.actions[:1000]
    whole = labelling.label_rewards(model, obs, act, z_e, 5.0, chunk_size=4096)
    chunked = labelling.label_rewards(model, obs, act, z_e, 5.0, chunk_size=128)
    np.testing.assert_allclose(chunked, whole, rtol=1e-5, atol=1e-7)
    key = jax.random.PRNGKey(1)
    s_whole = labelling.label_rewards(model, obs, act, z_e, 5.0, False, key, chunk_size=4096)
    s_chunk = labelling.label_rewards(model, obs, act, z_e, 5.0, False, key, chunk_size=128)
    np.testing.assert_allclose(s_chunk, s_whole, rtol=1e-5, atol=1e-7)
    assert not np.allclose(s_whole, whole)  # sampling z does change the rewards
    # another N and another c reuse the compiled chunk function
    compiled = labelling._reward_chunk._cache_size()
    labelling.label_rewards(model, obs[:700], act[:700], z_e, 1.0, chunk_size=128)
    assert labelling._reward_chunk._cache_size() == compiled


def test_label_rewards_rejects_wrong_shapes(trained):
    state, data, _, _ = trained
    with pytest.raises(ValueError, match=r"expects \(N, 2\) and \(N, 2\)"):
        labelling.label_rewards(state.model, data.observations[:, :1], data.actions,
                                np.zeros(4), 1.0)
    with pytest.raises(ValueError, match="z_e has shape"):
        labelling.label_rewards(state.model, data.observations, data.actions, np.zeros(3), 1.0)


def test_postprocess_rewards_by_hand():
    obs = np.arange(5, dtype=np.float32)[:, None]
    ds = make_dataset(obs, np.zeros((5, 1)), np.zeros(5), [0, 0, 1, 0, 0], obs + 1)
    raw = np.array([1.0, 0.5, 0.5, 0.25, 0.25], np.float32)  # returns 2.0 and 0.5
    np.testing.assert_allclose(postprocess_rewards(raw, ds.dones_float, "return_range", 0.0),
                               raw * 1000 / 1.5, rtol=1e-6)
    np.testing.assert_allclose(postprocess_rewards(raw, ds.dones_float, "none", -1.0), raw - 1)
    with pytest.raises(ValueError, match="reward_scaling"):
        postprocess_rewards(raw, ds.dones_float, "max", 0.0)


# ----------------------------------------------------------------------------- files


def test_reward_file_round_trip_and_mismatch_errors(tmp_path):
    data, other = synthetic_task(n=50, n_expert=50)
    rewards = np.linspace(0, 1, 50).astype(np.float32)
    path = tmp_path / "rewards.npz"
    storage.save_rewards(path, rewards, data, metadata={"temperature": 10.0})
    np.testing.assert_array_equal(storage.load_rewards(path, data), rewards)
    assert [p.name for p in tmp_path.iterdir()] == ["rewards.npz"]  # no temp file left
    with pytest.raises(storage.RewardFileError, match=r"rewards.npz holds 50 rewards.*has 49"):
        storage.load_rewards(path, data.select(np.arange(49)))
    with pytest.raises(storage.RewardFileError, match=r"rewards.npz was made for a different"):
        storage.load_rewards(path, other)  # same N, other observations/actions
    with pytest.raises(storage.RewardFileError, match="missing.npz"):
        storage.load_rewards(tmp_path / "missing.npz", data)


def test_cvae_checkpoint_round_trip(tmp_path, trained):
    state, data, _, _ = trained
    path = tmp_path / "cvae.msgpack"
    storage.save_cvae(path, state)
    fresh = clue.create_clue_state(tiny_config(), data, seed=123)
    restored = storage.restore_cvae(path, fresh)
    assert int(restored.step) == 1000
    for a, b in zip(jax.tree_util.tree_leaves(restored), jax.tree_util.tree_leaves(state)):
        np.testing.assert_array_equal(a, b)
    wrong = clue.create_clue_state(tiny_config(hidden_dims=(16, 16)), data, seed=0)
    with pytest.raises(ValueError, match=r"cvae.msgpack.*shape"):
        storage.restore_cvae(path, wrong)


# ----------------------------------------------------------------------------- experts


def episodes_dataset(success_steps, length=10):
    """Episodes of `length` steps, continuous inside, jumps between; terminal = reward = 1
    at the given steps of each episode (the episode goes on, as in AntMaze)."""
    obs, rewards = [], []
    for e, steps in enumerate(success_steps):
        obs.append(100.0 * e + np.arange(length))
        r = np.zeros(length)
        r[list(steps)] = 1.0
        rewards.append(r)
    obs = np.concatenate(obs)[:, None]
    rewards = np.concatenate(rewards)
    return make_dataset(obs, np.zeros((len(obs), 1)), rewards, rewards, obs + 1)


def test_successful_trajectories_split_at_discontinuities_not_terminals():
    ds = episodes_dataset([(3, 4), (), (7,), (1,), (0, 5)])
    assert ds.dones_float[3] == 1  # the reference boundaries would split at the terminal
    segments = experts.successful_trajectories(ds)
    # the last episode begins at the goal (success on its first row): no way to it, left out
    np.testing.assert_array_equal(segments, [[0, 4], [20, 28], [30, 32]])


def test_select_experts_at_most_k_and_messages():
    ds = episodes_dataset([(3, 4), (), (7,), (1,), (0,)])
    two = experts.select_experts(ds, k=2, seed=0)
    assert len(two.segments) == 2 and "selected 2 of 3" in two.message
    assert set(map(tuple, two.segments)) <= {(0, 4), (20, 28), (30, 32)}
    assert two.dataset.size == int(np.sum(two.segments[:, 1] - two.segments[:, 0]))
    np.testing.assert_array_equal(experts.select_experts(ds, 2, seed=0).segments, two.segments)
    every = experts.select_experts(ds, k=5, seed=0)
    assert len(every.segments) == 3 and "only 3" in every.message
    np.testing.assert_array_equal(every.dataset.rewards.nonzero()[0], [3, 11, 13])
    np.testing.assert_array_equal(every.dataset.dones_float.nonzero()[0], [3, 11, 13])
    with pytest.raises(DatasetError, match=r"searched 2 episodes.*reward > 0"):
        experts.select_experts(episodes_dataset([(), ()]), k=1, seed=0)
    with pytest.raises(DatasetError, match=r"2 episodes succeed on their first row only"):
        experts.select_experts(episodes_dataset([(0,), (), (0, 4)]), k=1, seed=0)


def test_goal_segments_cut_episodes_where_the_goal_changes():
    # episodes 0-9, 10-19 (continuity); goals change at rows 4 and 15; success at rows 7, 12, 18
    ds = episodes_dataset([(7,), (2, 8)])
    goals = np.zeros((20, 2))
    goals[4:10] = 1.0
    goals[15:] = 2.0
    starts, ends = experts.goal_episode_bounds(ds, goals)
    np.testing.assert_array_equal(starts, [0, 4, 10, 15])
    np.testing.assert_array_equal(ends, [4, 10, 15, 20])
    segments = experts.successful_trajectories(ds, (starts, ends))
    np.testing.assert_array_equal(segments, [[4, 8], [10, 13], [15, 19]])  # cut at each goal
    # the goal redrawn on arrival (row 8, still at the goal): that segment begins at the goal
    still = episodes_dataset([(7, 8), (2, 8)])
    goals[8:10] = 3.0
    starts, ends = experts.goal_episode_bounds(still, goals)
    np.testing.assert_array_equal(starts, [0, 4, 8, 10, 15])
    np.testing.assert_array_equal(experts.successful_trajectories(still, (starts, ends)),
                                  [[4, 8], [10, 13], [15, 19]])
    with pytest.raises(DatasetError, match="3 goals for 20 transitions"):
        experts.goal_episode_bounds(ds, goals[:3])


def test_goal_segments_on_a_generated_maze(tmp_path):
    """infos/goal from the generator reaches the transitions; segments are goal-directed."""
    from clue_jax.data.factory import load_dataset, load_goals
    from clue_jax.data.d4rl_io import save_hdf5
    from clue_jax.generation import pointmaze_datasets
    raw, meta = pointmaze_datasets.generate("umaze", "diverse", size=3000, seed=0)
    path = save_hdf5(str(tmp_path / "maze.hdf5"), raw, metadata=meta)
    ds = load_dataset("gen-pointmaze-umaze-diverse-v0", dataset_path=path,
                      max_episode_steps=meta["episode_length"])
    goals = load_goals("gen-pointmaze-umaze-diverse-v0", dataset_path=path,
                       max_episode_steps=meta["episode_length"])
    assert goals.shape == (ds.size, 2)
    starts, ends = experts.goal_episode_bounds(ds, goals)
    assert len(starts) > len(experts.continuity_episode_bounds(ds)[0])
    for s, e in zip(starts, ends):  # one goal per segment
        assert np.all(goals[s:e] == goals[s])
    # a fraction of the trajectories: the goals of the same rows
    from clue_jax.data.dataset import subsample_rows
    rows = subsample_rows(ds, 0.5, seed=3)
    part = load_dataset("gen-pointmaze-umaze-diverse-v0", dataset_path=path, fraction=0.5,
                        seed=3, max_episode_steps=meta["episode_length"])
    np.testing.assert_array_equal(part.observations, ds.observations[rows])
    np.testing.assert_array_equal(
        load_goals("gen-pointmaze-umaze-diverse-v0", dataset_path=path, fraction=0.5, seed=3,
                   max_episode_steps=meta["episode_length"]), goals[rows])


def test_expert_from_demonstrations():
    demos = episodes_dataset([(), (), ()], length=5)
    chosen = experts.expert_from_demonstrations(demos, 2)
    np.testing.assert_array_equal(chosen.segments, [[0, 5], [5, 10]])
    assert "only" not in chosen.message and chosen.dataset.size == 10
    assert "using all 3" in experts.expert_from_demonstrations(demos, 5).message
    unlabelled = flat_dataset(np.zeros((4, 2)), np.zeros((4, 1)))
    with pytest.raises(DatasetError, match=r"\(15, 1\).*\(4, 2\)"):
        experts.expert_from_demonstrations(demos, 1, unlabelled)


def test_kmeans_deterministic_and_too_few_rows():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [5.0, 5.0], [-5.0, 5.0]])
    obs = np.repeat(centres, 20, axis=0) + 0.1 * rng.normal(size=(60, 2))
    ds = flat_dataset(obs, np.zeros((60, 1)), next_obs=obs)
    a = experts.kmeans_clusters(ds, n_clusters=3, random_state=1)
    np.testing.assert_array_equal(a, experts.kmeans_clusters(ds, n_clusters=3, random_state=1))
    assert len(np.unique(a)) == 3 and all(len(np.unique(a[i:i + 20])) == 1 for i in (0, 20, 40))
    assert experts.cluster_experts(ds, a, a[0]).size == 20
    with pytest.raises(DatasetError, match="60 transitions cannot form 100 clusters"):
        experts.kmeans_clusters(ds)


# ----------------------------------------------------------------------------- config, plots


def test_config_table8_values():
    ant, loco = get_config("antmaze"), get_config("mujoco")
    assert (ant.hidden_dims, ant.batch_size, ant.num_steps, ant.learning_rate,
            ant.calib_weight) == ((512, 512), 256, 100_000, 1e-3, 0.8)
    assert (loco.hidden_dims, loco.batch_size, loco.num_steps, loco.learning_rate,
            loco.calib_weight) == ((128, 128), 128, 10_000, 1e-4, 0.1)
    assert not ant.normalize_states and loco.normalize_states
    assert (ant.reward_scaling, ant.reward_shift) == ("none", -1.0)
    assert loco.reward_scaling == "return_range"
    with pytest.raises(ValueError, match="unknown domain 'kitchen'"):
        get_config("kitchen")


def test_plots_write_files_and_spearman(tmp_path):
    rng = np.random.default_rng(0)
    gt = rng.normal(size=300)
    assert plots.plot_reward_correlation(tmp_path / "corr.png", np.exp(gt), gt) == pytest.approx(1)
    assert plots.spearman(-gt, gt) == pytest.approx(-1)
    panel = (rng.normal(size=(20, 4)), rng.normal(size=(200, 4)))
    out = plots.plot_latent_embeddings(tmp_path / "latent.png",
                                       {"CVAE": panel, "CLUE": panel})
    assert (tmp_path / "corr.png").stat().st_size > 1000 and out.stat().st_size > 1000
    e2, o2 = plots.project_2d(*panel)
    # PCA keeps the variance ordering: the first component carries the most
    both = np.concatenate([e2, o2])
    assert both.var(0)[0] >= both.var(0)[1]


@pytest.mark.slow
def test_cvae_killed_mid_training_resumes_to_the_same_cvae(tmp_path, monkeypatch):
    from clue_jax.logging import read_scalars
    from clue_jax.rewards import clue_labeller
    data, expert = synthetic_task(n=400, n_expert=50)
    config = tiny_config(num_steps=60)
    monkeypatch.setattr(clue_labeller, "CVAE_CHECKPOINT_EVERY", 2)
    full = clue_labeller.fit_cvae(config, data, expert, 0, tmp_path / "full", progress=False,
                                  chunk=10)
    real, calls = clue.train_cvae, {"n": 0}

    def killed(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 6:  # killed during chunk 6: the checkpoint holds 4 chunks
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(clue, "train_cvae", killed)
    with pytest.raises(KeyboardInterrupt):
        clue_labeller.fit_cvae(config, data, expert, 0, tmp_path / "run", progress=False,
                               chunk=10)
    assert (tmp_path / "run" / "cvae.msgpack.partial").exists()
    assert not (tmp_path / "run" / "cvae.msgpack").exists()
    monkeypatch.setattr(clue, "train_cvae", real)
    resumed = clue_labeller.fit_cvae(config, data, expert, 0, tmp_path / "run", resume=True,
                                     progress=False, chunk=10)
    for a, b in zip(jax.tree.leaves(full), jax.tree.leaves(resumed)):
        np.testing.assert_array_equal(a, b)
    assert not (tmp_path / "run" / "cvae.msgpack.partial").exists()
    steps = lambda d: {k: [s for s, _ in v] for k, v in read_scalars(d / "tb" / "cvae").items()}  # noqa: E731
    assert steps(tmp_path / "run") == steps(tmp_path / "full")


def test_cvae_stops_at_a_checkpoint_before_the_deadline_and_resumes_to_the_same_cvae(
        tmp_path, monkeypatch):
    """A run's deadline reaches CLUE's CVAE: it stops at the checkpoint whose next stretch
    would pass the deadline (timing.StoppedAtDeadline, as IQL's loop), and --resume finishes
    it to the CVAE an uninterrupted training gives."""
    from clue_jax import timing
    from clue_jax.rewards import clue_labeller
    data, expert = synthetic_task(n=400, n_expert=50)
    config = tiny_config(num_steps=60)
    monkeypatch.setattr(clue_labeller, "CVAE_CHECKPOINT_EVERY", 2)
    full = clue_labeller.fit_cvae(config, data, expert, 0, tmp_path / "full", progress=False,
                                  chunk=10)

    class Clock:  # each chunk of 10 updates takes 10 s
        now = 1000.0

        def time(self):
            return self.now

    clock, real = Clock(), clue.train_cvae

    def timed(*args, **kwargs):
        clock.now += 10.0
        return real(*args, **kwargs)

    monkeypatch.setattr(clue_labeller, "time", clock)
    monkeypatch.setattr(clue, "train_cvae", timed)
    with pytest.raises(timing.StoppedAtDeadline, match="CVAE stopped at update 0 of 60 "
                                                       r"\(nothing trained yet\)"):
        clue_labeller.fit_cvae(config, data, expert, 0, tmp_path / "late", progress=False,
                               chunk=10, deadline=999.0)
    assert not (tmp_path / "late" / "cvae.msgpack.partial").exists()
    # stretches of 2 chunks = 20 s: at update 20 (t = 1020) the next ends at 1040, in time;
    # at update 40 (t = 1040) it would end at 1060, after the deadline
    with pytest.raises(timing.StoppedAtDeadline, match="CVAE stopped at update 40 of 60 "
                                                       r"\(checkpoint saved in .*run\): the next 20 s"):
        clue_labeller.fit_cvae(config, data, expert, 0, tmp_path / "run", progress=False,
                               chunk=10, deadline=1045.0)
    assert (tmp_path / "run" / "cvae.msgpack.partial").exists()
    assert not (tmp_path / "run" / "cvae.msgpack").exists()
    resumed = clue_labeller.fit_cvae(config, data, expert, 0, tmp_path / "run", resume=True,
                                     progress=False, chunk=10, deadline=2000.0)
    for a, b in zip(jax.tree.leaves(full), jax.tree.leaves(resumed)):
        np.testing.assert_array_equal(a, b)


def test_train_cvae_with_an_expert_count_ignores_the_padding():
    data, expert = synthetic_task(n=100, n_expert=20)
    padded = to_device(flat_dataset(np.concatenate([expert.observations, np.full((7, 2), 9.)]),
                                    np.concatenate([expert.actions, np.full((7, 2), 0.9)])))
    state = clue.create_clue_state(tiny_config(), data, 3)
    a, info_a = clue.train_cvae(state, to_device(data), to_device(expert), 20)
    b, info_b = clue.train_cvae(state, to_device(data), padded, 20, jnp.int32(20))
    for x, y in zip(jax.tree_util.tree_leaves((a, info_a)), jax.tree_util.tree_leaves((b, info_b))):
        np.testing.assert_array_equal(x, y)


@pytest.mark.slow
def test_seeds_cvaes_vmapped_equal_separate_and_resume_from_mixed_checkpoints(tmp_path,
                                                                                monkeypatch):
    """Seed i of one vmapped CVAE training (experts of different lengths) is seed i's own
    training: weights to float tolerance, the same files and scalar steps. A resume that
    finds the seeds at different checkpoints trains each group from where it stopped."""
    from clue_jax.logging import read_scalars
    from clue_jax.rewards import clue_labeller
    data, _ = synthetic_task(n=400)
    experts = [synthetic_task(n=10, n_expert=n, seed=n)[1] for n in (30, 50)]
    config = tiny_config(num_steps=40)
    monkeypatch.setattr(clue_labeller, "CVAE_CHECKPOINT_EVERY", 2)
    dirs = [tmp_path / "vmapped" / f"seed_{s}" for s in (0, 1)]
    together = clue_labeller.fit_cvaes(config, data, experts, [0, 1], dirs, progress=False,
                                       chunk=10)
    for i, seed in enumerate((0, 1)):
        alone = clue_labeller.fit_cvae(config, data, experts[i], seed,
                                       tmp_path / "alone" / f"seed_{seed}", progress=False,
                                       chunk=10)
        for a, b in zip(jax.tree.leaves(alone), jax.tree.leaves(together[i])):
            np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)
        runs = (tmp_path / "alone" / f"seed_{seed}", dirs[i])
        assert [sorted(p.name for p in r.iterdir()) for r in runs] == [["cvae.msgpack", "tb"]] * 2
        alone_scalars, together_scalars = (read_scalars(r / "tb" / "cvae") for r in runs)
        assert alone_scalars.keys() == together_scalars.keys()
        for tag, points in alone_scalars.items():
            np.testing.assert_allclose(points, together_scalars[tag], rtol=1e-3, atol=1e-4)
    # seed 0 finished, seed 1 killed at its update-20 checkpoint, seed 2 never started
    mixed = [tmp_path / "mixed" / f"seed_{s}" for s in (0, 1, 2)]
    clue_labeller.fit_cvae(config, data, experts[0], 0, mixed[0], progress=False, chunk=10)
    real, calls = clue.train_cvae, {"n": 0}

    def killed(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(clue, "train_cvae", killed)
    with pytest.raises(KeyboardInterrupt):
        clue_labeller.fit_cvae(config, data, experts[1], 1, mixed[1], progress=False, chunk=10)
    monkeypatch.setattr(clue, "train_cvae", real)
    assert (mixed[1] / "cvae.msgpack.partial").exists()
    resumed = clue_labeller.fit_cvaes(config, data, experts + [experts[0]], [0, 1, 2], mixed,
                                      resume=True, progress=False, chunk=10)
    third = clue_labeller.fit_cvae(config, data, experts[0], 2, tmp_path / "third",
                                   progress=False, chunk=10)
    for got, want in zip(resumed, [together[0], together[1], third]):
        for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
            np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)
    assert all(int(s.step) == 40 for s in resumed)
    assert not any(p.exists() for d in mixed for p in d.glob("*.partial"))


def test_figures_carry_the_runs_title_and_both_panel_names(tmp_path, trained, monkeypatch):
    from clue_jax.rewards import clue_labeller, plots
    state, data, expert, _ = trained
    seen = {}
    monkeypatch.setattr(plots, "plot_latent_embeddings",
                        lambda path, panels, suptitle="", **kw: seen.update(
                            panels=sorted(panels), suptitle=suptitle))
    monkeypatch.setattr(plots, "plot_reward_correlation",
                        lambda path, raw, truth, title=None, **kw: seen.update(corr=title) or 0.5)
    title = "clue-sparse-K1 on some-dataset, seed 3"
    clue_labeller.figures(state, data, expert, tiny_config(), tmp_path, np.ones(data.size),
                          uncalibrated=state, title=title)
    assert seen == {"panels": ["CLUE (calibrated)", "CVAE without calibration"],
                    "suptitle": title, "corr": title}


def test_reward_figure_correlates_the_runs_own_rewards(tmp_path, trained, monkeypatch):
    """With a sampled z, reward_correlation.png and `spearman` show the sampled rewards the
    run trains on (each row's own noise), not the encoder mean's."""
    from clue_jax.rewards import clue_labeller, plots
    state, data, expert, _ = trained
    seen = []
    monkeypatch.setattr(plots, "plot_latent_embeddings", lambda *a, **kw: None)
    monkeypatch.setattr(plots, "plot_reward_correlation",
                        lambda path, raw, truth, title=None, **kw: seen.append((raw, truth))
                        or 0.5)
    config = tiny_config(use_mean=False)
    key = clue_labeller.label_key(False, 3)
    # the row index as ground truth: the figure's truth column names the rows it drew
    clue_labeller.figures(state, data, expert, config, tmp_path, np.arange(data.size),
                          max_points=50, key=key)
    z_e = labelling.expert_embedding(state.model, expert.observations, expert.actions)
    run = labelling.label_rewards(state.model, data.observations, data.actions, z_e,
                                  config.temperature, use_mean=False, key=key)
    raw, rows = seen[0]
    assert len(rows) == 50
    np.testing.assert_allclose(raw, run[rows], rtol=1e-5, atol=1e-7)


def test_expert_messages_stay_one_short_line_for_a_huge_k():
    from clue_jax.data import experts as expert_lib
    n = 400
    rows = np.arange(n)
    obs = (100.0 * (rows // 5) + rows % 5)[:, None].repeat(2, axis=1)  # 80 5-step episodes
    rewards = (rows % 5 == 4).astype(float)  # each succeeds on its last step
    data = flat_dataset(obs, np.zeros((n, 2)), rewards, rewards, obs + 1.0)
    for selection in (expert_lib.select_experts(data, 10**6, seed=0),
                      expert_lib.top_return_trajectories(data, 10**6, successful_only=True)):
        assert len(selection.segments) == 80 and len(selection.message) < 400
        assert "(70 more)" in selection.message
