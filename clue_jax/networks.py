"""Flax modules only: MLP, value, twin critic, Gaussian / deterministic policies, CVAE parts.

Networks hold no losses or optimizers. Initialisation follows the reference
IQL (ikostrikov/implicit_q_learning): orthogonal kernels with scale sqrt(2),
zero biases, ReLU, no LayerNorm.
"""

from typing import Callable, Optional, Sequence, Tuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

# The reference policy's clip range for log-std (learner.py passes log_std_min=-5).
LOG_STD_MIN = -5.0
LOG_STD_MAX = 2.0


def default_init(scale: float = float(np.sqrt(2.0))):
    """Orthogonal kernel initialiser used by every Dense layer of the reference."""
    return nn.initializers.orthogonal(scale)


class TorchDense(nn.Module):
    """A Dense layer with PyTorch's default nn.Linear init: weights and biases U(+-1/sqrt(fan_in)).

    TD3+BC (sfujim/TD3_BC) keeps PyTorch's defaults; variance_scaling(1/3, fan_in,
    uniform) is exactly U(+-1/sqrt(fan_in)) for the kernel.
    """

    features: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        fan_in = x.shape[-1]
        bound = 1.0 / np.sqrt(fan_in)
        kernel = self.param("kernel", nn.initializers.variance_scaling(1 / 3, "fan_in", "uniform"),
                            (fan_in, self.features))
        bias = self.param("bias", lambda key, shape: jax.random.uniform(
            key, shape, minval=-bound, maxval=bound), (self.features,))
        return x @ kernel + bias


class MLP(nn.Module):
    """Dense stack with ReLU; optional dropout after each hidden activation.

    Attributes:
        hidden_dims: output sizes of the layers, the last one included.
        activate_final: apply the activation (and dropout) after the last layer.
        dropout_rate: dropout after activations when set and `training` is True.
        torch_init: PyTorch's default init (TD3+BC) instead of the reference IQL's
            orthogonal sqrt(2) kernels and zero biases.
    """

    hidden_dims: Sequence[int]
    activations: Callable[[jax.Array], jax.Array] = nn.relu
    activate_final: bool = False
    dropout_rate: Optional[float] = None
    torch_init: bool = False

    @nn.compact
    def __call__(self, x: jax.Array, training: bool = False) -> jax.Array:
        for i, size in enumerate(self.hidden_dims):
            x = TorchDense(size)(x) if self.torch_init else nn.Dense(
                size, kernel_init=default_init())(x)
            if i + 1 < len(self.hidden_dims) or self.activate_final:
                x = self.activations(x)
                if self.dropout_rate is not None and self.dropout_rate > 0:
                    x = nn.Dropout(rate=self.dropout_rate)(x, deterministic=not training)
        return x


class ValueCritic(nn.Module):
    """V(s): (B, obs_dim) -> (B,)."""

    hidden_dims: Sequence[int]

    @nn.compact
    def __call__(self, observations: jax.Array) -> jax.Array:
        return MLP((*self.hidden_dims, 1))(observations).squeeze(-1)


class Critic(nn.Module):
    """Q(s, a): (B, obs_dim), (B, act_dim) -> (B,)."""

    hidden_dims: Sequence[int]
    torch_init: bool = False

    @nn.compact
    def __call__(self, observations: jax.Array, actions: jax.Array) -> jax.Array:
        inputs = jnp.concatenate([observations, actions], -1)
        return MLP((*self.hidden_dims, 1), torch_init=self.torch_init)(inputs).squeeze(-1)


class DoubleCritic(nn.Module):
    """Two independent Q networks: returns (q1, q2), each (B,)."""

    hidden_dims: Sequence[int]
    torch_init: bool = False

    @nn.compact
    def __call__(self, observations: jax.Array, actions: jax.Array) -> Tuple[jax.Array, jax.Array]:
        q1 = Critic(self.hidden_dims, self.torch_init, name="critic1")(observations, actions)
        q2 = Critic(self.hidden_dims, self.torch_init, name="critic2")(observations, actions)
        return q1, q2


class DeterministicPolicy(nn.Module):
    """a = max_action * tanh(MLP(s)) (TD3's actor): (B, obs_dim) -> (B, act_dim)."""

    hidden_dims: Sequence[int]
    action_dim: int
    max_action: float = 1.0
    torch_init: bool = True

    @nn.compact
    def __call__(self, observations: jax.Array) -> jax.Array:
        out = MLP((*self.hidden_dims, self.action_dim), torch_init=self.torch_init)(observations)
        return self.max_action * jnp.tanh(out)


class GaussianPolicy(nn.Module):
    """Diagonal Gaussian policy with a state-independent log-std (IQL's actor).

    The mean is passed through tanh but the distribution is NOT squashed
    (reference: tanh_squash_distribution=False, state_dependent_std=False).

    Returns:
        means (B, act_dim) in [-1, 1] and log_stds (act_dim,) clipped to
        [LOG_STD_MIN, LOG_STD_MAX].
    """

    hidden_dims: Sequence[int]
    action_dim: int
    dropout_rate: Optional[float] = None

    @nn.compact
    def __call__(self, observations: jax.Array, training: bool = False) -> Tuple[jax.Array, jax.Array]:
        x = MLP(self.hidden_dims, activate_final=True, dropout_rate=self.dropout_rate)(
            observations, training=training)
        means = nn.Dense(self.action_dim, kernel_init=default_init())(x)
        log_stds = self.param("log_stds", nn.initializers.zeros, (self.action_dim,))
        log_stds = jnp.clip(log_stds, LOG_STD_MIN, LOG_STD_MAX)
        return jnp.tanh(means), log_stds


def gaussian_log_prob(means: jax.Array, log_stds: jax.Array, x: jax.Array) -> jax.Array:
    """Log density of a diagonal Gaussian, summed over the last axis: (B, D) -> (B,)."""
    z = (x - means) * jnp.exp(-log_stds)
    return jnp.sum(-0.5 * z**2 - log_stds - 0.5 * jnp.log(2.0 * jnp.pi), axis=-1)


class CVAEEncoder(nn.Module):
    """q(z | s, a): concat(s, a) -> hidden -> (mean, log_std), each (B, latent_dim).

    log_std is clamped to [-4, 15] as in SPOT's CVAE.
    """

    hidden_dims: Sequence[int]
    latent_dim: int

    @nn.compact
    def __call__(self, observations: jax.Array, actions: jax.Array) -> Tuple[jax.Array, jax.Array]:
        x = MLP(self.hidden_dims, activate_final=True)(jnp.concatenate([observations, actions], -1))
        mean = nn.Dense(self.latent_dim, name="mean")(x)
        log_std = jnp.clip(nn.Dense(self.latent_dim, name="log_std")(x), -4.0, 15.0)
        return mean, log_std


class CVAEDecoder(nn.Module):
    """p(a | z, s): concat(s, z) -> hidden -> tanh(.) * max_action, (B, act_dim)."""

    hidden_dims: Sequence[int]
    action_dim: int
    max_action: float = 1.0

    @nn.compact
    def __call__(self, observations: jax.Array, z: jax.Array) -> jax.Array:
        x = MLP(self.hidden_dims, activate_final=True)(jnp.concatenate([observations, z], -1))
        return self.max_action * jnp.tanh(nn.Dense(self.action_dim, name="out")(x))


class CVAE(nn.Module):
    """Conditional VAE over actions given states (paper Eq. 4-5).

    `__call__` encodes, samples z with the reparameterisation trick and decodes.
    Returns (reconstruction (B, act_dim), mean (B, L), log_std (B, L)).
    """

    hidden_dims: Sequence[int]
    action_dim: int
    latent_dim: int
    max_action: float = 1.0

    def setup(self):
        self.encoder = CVAEEncoder(self.hidden_dims, self.latent_dim)
        self.decoder = CVAEDecoder(self.hidden_dims, self.action_dim, self.max_action)

    def __call__(self, observations, actions, key):
        mean, log_std = self.encoder(observations, actions)
        z = mean + jnp.exp(log_std) * jax.random.normal(key, mean.shape)
        return self.decoder(observations, z), mean, log_std

    def encode(self, observations, actions):
        return self.encoder(observations, actions)

    def decode(self, observations, z):
        return self.decoder(observations, z)


# ----------------------------------------------------------------------------- SAC policy

# TanhGaussianPolicy clips its state-dependent log-std to [LOG_STD_MIN, LOG_STD_MAX] = [-5, 2]
# (the IQL reference's pair, as CleanRL's SAC uses): std stays in [0.0067, 7.4] before the
# tanh, so log pi and its tanh correction stay well inside float32 (SpinningUp's -20 allows
# std 2e-9, where a squashed action saturates at +-1 and the correction loses precision).
# The heads start near zero (orthogonal, scale 0.01): a fresh policy acts as tanh(N(0, 1))
# per dimension, like rlkit's (D4RL's SAC, last layer U(-1e-3, 1e-3)).
SAC_HEAD_INIT_SCALE = 0.01


class TanhGaussianPolicy(nn.Module):
    """SAC's policy: a = tanh(u), u ~ N(mean(s), diag(std(s))^2), state-dependent std.

    Returns:
        means (B, act_dim) and log_stds (B, act_dim) of the Gaussian BEFORE the
        tanh, log_stds clipped to [log_std_min, log_std_max]. Sample with
        `sample_tanh_gaussian`; the deterministic action is tanh(means).
    """

    hidden_dims: Sequence[int]
    action_dim: int
    log_std_min: float = LOG_STD_MIN
    log_std_max: float = LOG_STD_MAX

    @nn.compact
    def __call__(self, observations: jax.Array) -> Tuple[jax.Array, jax.Array]:
        x = MLP(self.hidden_dims, activate_final=True)(observations)
        means = nn.Dense(self.action_dim, kernel_init=default_init(SAC_HEAD_INIT_SCALE),
                         name="means")(x)
        log_stds = nn.Dense(self.action_dim, kernel_init=default_init(SAC_HEAD_INIT_SCALE),
                            name="log_stds")(x)
        return means, jnp.clip(log_stds, self.log_std_min, self.log_std_max)


def tanh_log_det_jacobian(pre_tanh: jax.Array) -> jax.Array:
    """sum_i log(1 - tanh(u_i)^2) over the last axis, stably: (B, D) -> (B,).

    Uses log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)), exact for any u.
    """
    return jnp.sum(2.0 * (jnp.log(2.0) - pre_tanh - jax.nn.softplus(-2.0 * pre_tanh)), axis=-1)


def tanh_gaussian_log_prob(means: jax.Array, log_stds: jax.Array, pre_tanh: jax.Array
                           ) -> jax.Array:
    """log pi(tanh(u) | s) = log N(u; mean, std) - sum_i log(1 - tanh(u_i)^2): (B,).

    Haarnoja et al. 2018 (arXiv 1801.01290), appendix C, Eq. 21.
    """
    return gaussian_log_prob(means, log_stds, pre_tanh) - tanh_log_det_jacobian(pre_tanh)


def sample_tanh_gaussian(means: jax.Array, log_stds: jax.Array, noise: jax.Array
                         ) -> Tuple[jax.Array, jax.Array]:
    """Reparameterised sample a = tanh(mean + std * noise) and its log-prob.

    Args:
        means, log_stds: (B, D) from TanhGaussianPolicy.
        noise: (B, D) standard normal draws.
    Returns:
        actions (B, D) in (-1, 1) and log_probs (B,).
    """
    pre_tanh = means + jnp.exp(log_stds) * noise
    return jnp.tanh(pre_tanh), tanh_gaussian_log_prob(means, log_stds, pre_tanh)


class Discriminator(nn.Module):
    """Logit f(x) of D(x) = sigmoid(f(x)): d -> hidden tanh -> ... -> 1 (SMODICE's, PyTorch init).

    (B, d) -> (B,). Shared by the ORIL labeller (and SMODICE / DemoDICE).
    """

    hidden_dims: Sequence[int] = (256, 256)

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        return MLP((*self.hidden_dims, 1), activations=nn.tanh, torch_init=True)(x).squeeze(-1)


# ----------------------------------------------------------------------------- DICE / IQ-Learn

# Kernel initialisers of the imitation baselines' reference code, by name.
KERNEL_INITS = {
    "xavier_uniform": nn.initializers.xavier_uniform,       # SMODICE (PyTorch xavier_uniform_)
    "he_normal": nn.initializers.he_normal,                 # DemoDICE (Keras he_normal)
    "orthogonal": lambda: nn.initializers.orthogonal(1.0),  # ValueDICE, IQ-Learn
}


class InitMLP(nn.Module):
    """ReLU MLP with a named kernel init (KERNEL_INITS), zero biases, optional bias-free output.

    (B, d) -> (B, hidden_dims[-1]); `output_bias=False` drops the last layer's bias
    (DemoDICE's and ValueDICE's nu / cost networks).
    """

    hidden_dims: Sequence[int]
    kernel_init: str = "orthogonal"
    output_bias: bool = True

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        init = KERNEL_INITS[self.kernel_init]()
        for i, size in enumerate(self.hidden_dims):
            last = i + 1 == len(self.hidden_dims)
            x = nn.Dense(size, kernel_init=init, use_bias=self.output_bias or not last)(x)
            if not last:
                x = nn.relu(x)
        return x


class StateValue(nn.Module):
    """nu(s) / V(s) of the DICE methods: (B, d) -> (B,)."""

    hidden_dims: Sequence[int] = (256, 256)
    kernel_init: str = "orthogonal"
    output_bias: bool = True

    @nn.compact
    def __call__(self, observations: jax.Array) -> jax.Array:
        return InitMLP((*self.hidden_dims, 1), self.kernel_init, self.output_bias)(
            observations).squeeze(-1)


class StateActionValue(nn.Module):
    """nu(s, a) / Q(s, a) / c(s, a) of ValueDICE, IQ-Learn and DemoDICE: (B, d), (B, a) -> (B,)."""

    hidden_dims: Sequence[int] = (256, 256)
    kernel_init: str = "orthogonal"
    output_bias: bool = True

    @nn.compact
    def __call__(self, observations: jax.Array, actions: jax.Array) -> jax.Array:
        x = jnp.concatenate([observations, actions], -1)
        return InitMLP((*self.hidden_dims, 1), self.kernel_init, self.output_bias)(x).squeeze(-1)


class ImitationActor(nn.Module):
    """The tanh-Gaussian actor family of SMODICE, DemoDICE, ValueDICE and IQ-Learn.

    One head of 2 * act_dim outputs split into (mean, raw). `log_std="clip"`:
    log_std = clip(raw, -5, 2) and mean clipped to +-mean_clip (SMODICE 7.24,
    DemoDICE 7); `log_std="tanh"`: log_std = -5 + 3.5 (tanh(raw) + 1) in [-5, 2],
    mean unclipped (ValueDICE, IQ-Learn). Returns (means, log_stds), both (B, act_dim),
    of the Gaussian before the tanh.
    """

    hidden_dims: Sequence[int]
    action_dim: int
    log_std: str = "clip"
    mean_clip: Optional[float] = None
    kernel_init: str = "orthogonal"

    @nn.compact
    def __call__(self, observations: jax.Array) -> Tuple[jax.Array, jax.Array]:
        out = InitMLP((*self.hidden_dims, 2 * self.action_dim), self.kernel_init)(observations)
        means, raw = jnp.split(out, 2, axis=-1)
        if self.mean_clip is not None:
            means = jnp.clip(means, -self.mean_clip, self.mean_clip)
        if self.log_std == "tanh":
            return means, LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (jnp.tanh(raw) + 1.0)
        return means, jnp.clip(raw, LOG_STD_MIN, LOG_STD_MAX)


def tanh_gaussian_log_prob_of_actions(means: jax.Array, log_stds: jax.Array, actions: jax.Array,
                                      eps: float) -> jax.Array:
    """log pi(a | s) of given actions in [-1, 1], as SMODICE / DemoDICE compute it: (B,).

    u = atanh(clip(a, +-(1 - eps))); log N(u; mean, std) - sum log(1 - a^2 + eps).
    """
    a = jnp.clip(actions, -1.0 + eps, 1.0 - eps)
    return gaussian_log_prob(means, log_stds, jnp.arctanh(a)) - jnp.sum(
        jnp.log(1.0 - a ** 2 + eps), axis=-1)
