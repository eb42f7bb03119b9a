"""The shipped SAC actors, their manifest, the reference returns, and select_policies.py."""

import json
from pathlib import Path

import pytest

import select_policies
from clue_jax import evaluation
from clue_jax.experiments import domains
from clue_jax.agents import sac_actor
from clue_jax.generation import locomotion_datasets as loco
from clue_jax.generation import locomotion_refs
from clue_jax.envs import locomotion

POLICY_DIR = Path(loco.__file__).resolve().parents[1] / "policies"
MANIFEST = json.loads((POLICY_DIR / "policies.json").read_text())


@pytest.mark.parametrize("env", sorted(locomotion.ENVS))
def test_shipped_actors_match_their_manifest(env):
    entry = MANIFEST[env]
    _, obs_dim, act_dim = locomotion.ENVS[env]
    for quality in loco.POLICY_QUALITIES:
        actor = sac_actor.load_actor(POLICY_DIR / env / f"{quality}.msgpack")
        meta = actor.meta
        assert (int(meta["obs_dim"]), int(meta["act_dim"])) == (obs_dim, act_dim)
        assert int(meta["step"]) == entry[quality]["step"] <= entry["trained_steps"]
        assert float(meta["return"]) == pytest.approx(entry[quality]["eval_return"], abs=0.05)
        assert meta["env"] == locomotion.gen_name(env, "expert")
    # D4RL's rule: medium is the first snapshot at about 1/3 of the expert's return
    assert entry["medium"]["step"] < entry["expert"]["step"]
    assert entry["medium"]["eval_return"] >= entry["expert"]["eval_return"] / 3
    assert locomotion.LOCOMOTION_REFS[env]["expert"] == pytest.approx(
        entry["expert"]["return_mean"], abs=0.05)


@pytest.mark.parametrize("env", sorted(locomotion.ENVS))
def test_shipped_actor_returns_fall_in_their_stated_ranges(env):
    """Three deterministic episodes (seeds 0-2) of each actor: mean within mean +- 2 std."""
    name = locomotion.gen_name(env, "expert")
    means = {}
    for quality in loco.POLICY_QUALITIES:
        stated = MANIFEST[env][quality]
        policy = sac_actor.deterministic_policy(loco.load_policy(env, quality))
        returns = evaluation.episode_stats(policy, name, 3, seed=0)["returns"]
        means[quality] = returns.mean()
        low = stated["return_mean"] - 2 * stated["return_std"]
        high = stated["return_mean"] + 2 * stated["return_std"]
        assert low <= means[quality] <= high, (env, quality, returns)
    assert means["expert"] > means["medium"]


def test_medium_replay_files_hold_the_training_log_up_to_medium():
    from clue_jax.data import d4rl_io
    for env in locomotion.ENVS:
        entry = MANIFEST[env]
        raw = d4rl_io.load_hdf5(str(POLICY_DIR / env / "medium_replay.hdf5"))
        assert len(raw["rewards"]) == entry["medium_replay_rows"] == entry["medium"]["step"]
        assert int(raw["metadata/medium_step"]) == entry["medium"]["step"]
        assert raw["observations"].shape[1] == locomotion.ENVS[env][1]


def test_measure_refs_on_tiny_actors(tmp_path):
    for quality, seed in (("medium", 1), ("expert", 2)):
        actor = sac_actor.random_actor(seed, 11, 3, hidden_dims=(8, 8))
        sac_actor.save_actor(tmp_path / "hopper" / f"{quality}.msgpack", actor.params, 11, 3,
                             (8, 8))
    refs = locomotion_refs.measure_refs("hopper", 2, seed=0, policy_folder=tmp_path)
    assert set(refs) == {"random", "medium", "expert", "medium_stochastic", "expert_stochastic"}
    expert = sac_actor.deterministic_policy(
        sac_actor.load_actor(tmp_path / "hopper" / "expert.msgpack"))
    returns = evaluation.episode_stats(expert, "gen-hopper-expert-v0", 2, seed=0)["returns"]
    assert refs["expert"] == pytest.approx((returns.mean(), returns.std()))
    row = locomotion_refs.refs_row("hopper", refs)
    assert row.startswith('"hopper": {"random": ') and f"{refs['expert'][0]:.6f}" in row


def test_choose_medium_and_expert_snapshots():
    snaps = [{"step": s, "return": r} for s, r in
             ((10, 50.0), (20, 400.0), (30, 300.0), (40, 1200.0), (50, 900.0))]
    medium, expert = select_policies.choose(snaps, 1 / 3)
    assert (medium["step"], expert["step"]) == (20, 40)  # first to reach 400 = 1200 / 3
    medium, expert = select_policies.choose(snaps, 1 / 3, medium_step=30, expert_step=50)
    assert (medium["step"], expert["step"]) == (30, 50)
    with pytest.raises(ValueError, match="no snapshot at step 35"):
        select_policies.choose(snaps, 1 / 3, expert_step=35)
    with pytest.raises(ValueError, match="pass --medium_step"):
        select_policies.choose(snaps[:1] + snaps[3:], 0.9)


def test_default_demonstrations_for_generated_names():
    assert domains.default_demonstrations("gen-hopper-medium-v0") == "gen-hopper-expert-demos-v0"
    assert domains.default_demonstrations(
        "gen-walker2d-medium-replay-v0") == "gen-walker2d-expert-demos-v0"
    assert domains.default_demonstrations(
        "gen-pointmaze-large-play-v0") == "gen-pointmaze-large-demos-v0"
    assert domains.default_demonstrations("hopper-medium-v2") is None
