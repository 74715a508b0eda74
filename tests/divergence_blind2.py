"""divergence_blind2: a second blind held-out suite for nantrace's early warning, 16 runs
(8 that diverge slowly, 8 healthy ones that must not warn). Written 2026-12-05.

Blindness. Read: ``tests/divergence_suite.py`` (whole file), the taxonomy section of
``/work/shared/DESIGN.md``, and ``docs/causes-and-fixes.md`` for its cause/fix ids. Caveat, to
be plain about it: a ``grep`` for that file's headings and table rows also printed its rules
table ("Rules, in the order they are tried") and the start of "Fixes per cause"; it was seen,
not studied, and no expectation below was taken from it (they follow the bug patterns, as the
brief asks). Not read: anything under ``nantrace/`` (no early-warning code, no diagnosis
rules), ``tests/score_divergence.py``, README, bench, other tests, git log. nantrace was never
imported or run. Public reports were found with a search tool (each scenario's ``source``).

``causes`` / ``fixes`` were written from each bug pattern before any run and not changed
after; they are empty where the pattern names no taxonomy id (a sign error in the weight
decay, a WGAN critic without its Lipschitz constraint: the fix is the missing constraint).

Patterns and what the plain check showed (``divergence_suite.run_plain``, plain TensorFlow
2.21 / Keras 3.15 on CPU, ``'nantrace' not in sys.modules`` checked before and after; steps
from 0; "early min" = the minimum loss of the first 20 steps):

Diverging (all end ``"nan"``):
  cyclic_lr_peak_high        triangular CLR 0.005 -> 0.3 over 60 steps: trains, climbs from
                             ~step 60, NaN (non-finite loss) at step 176
  grad_accum_undivided       4-micro-batch accumulation, sum not divided: NaN at step 132
                             (loss 0.76 at 25, 3.8 at 50, 5e8 at 75)
  negative_weight_decay_fit  SGD weight_decay=-0.2: trains ~125 steps, then NaN at step 278
  wgan_critic_unconstrained  critic loss mean(y * D(x)) falls without bound (-0.07 -> -9.6 at
                             125 -> -826 at 175), NaN at step 196
  residual_no_norm           FAST (slow=False, min_end=1): NaN at step 8
  target_scale_drifts        targets x1.02 per batch, ReLU MLP: NaN at step 180
  nesterov_momentum_high_fit Nesterov 0.99 at 0.08: loss ~0.15 until ~50, NaN at step 264
  embedding_sum_lr_high      Zipf tokens, sum pooling, SGD 0.06: NaN at step 38
Healthy (finite over all 300 steps; max loss / early min over steps >= 20, then over all):
  sgdr_restarts 1.76 / 1.76; curriculum_fit 1.78 / 1.78; adam_early_bump 1.80 / 8.55;
  finetune_small_lr_fit 1.73 / 1.73; separable_mlp_adam 1.59 / 1.59; heavy_tailed_noise
  5.21 / 6.33; imbalanced_alternating_fit 1.28 / 1.28; cyclic_lr_sane 1.82 / 24.96 (its
  step-0..4 losses, ~1.4, are above 10x the early min 0.056: the first steps of the run, not
  a later rise; after step 20 the loss never passes 1.82x the early min).

Constructions changed after the check (expectations untouched):
  grad_accum_undivided: lr 0.05 -> 0.08 (0.05 x 4 trained fine).
  residual_no_norm: no slow divergence found. SGD momentum 0.9: 8 blocks fail at steps 2-3
    (0.004-0.01) and train at 0.001, 6 blocks fail at step 4 (0.008) and train at 0.003,
    4 blocks train at 0.002-0.011 and fail at step 8 at 0.012; Adam 0.003-0.03 (8 blocks)
    trains, 0.05 thrashes without a NaN; 12 blocks with branch kernels N(0, 0.05^2) train at
    0.01-0.04 and fail in 4-5 steps at 0.08-0.12. Kept as a fast case: 4 blocks, SGD
    momentum 0.9 at 0.012, ``slow=False, min_end=1``.
  target_scale_drifts: tanh -> ReLU hidden layers (the tanh net tracked the growing target,
    loss growing only with the target's scale, no NaN at growth 1.02-1.04).
  nesterov_momentum_high_fit: lr 0.05 -> 0.08 (0.05 with momentum 0.99 did not diverge; 0.08
    is still below where momentum 0.9 diverges on this net in divergence_suite, ~0.13).
  embedding (was embedding_adam_high): Adam at 0.05, 0.3 and 1.0 did not diverge (the loss
    jumps, then recovers), so the run uses plain SGD 0.06 and was renamed
    embedding_sum_lr_high; SGD 0.01-0.03 and momentum 0.9 at 0.004-0.006 train, 0.035-0.05 fail
    within 8 steps, 0.06 at step 38: the edge is jagged, this one is the slowest found.
  heavy_tailed_noise: Student-t df 3, scale 0.2 -> df 4, scale 0.15 (df 3 gave single-batch
    spikes of 106x the early min; df 4 still has infinite kurtosis).

Caveats: several diverging runs end late in their budget (negative_weight_decay_fit 278,
nesterov_momentum_high_fit 264), and their loss climbs long before the NaN. A different
BLAS / CPU may move end steps by a few. finetune_small_lr_fit's "pretrained" model was fit on
another teacher, so its cross-entropy starts high (~10-16) and falls slowly at Adam 1e-4:
large but flat, a "large" kind of healthy run. The knobs tried are kept as keyword arguments
of the builders.
"""

from __future__ import annotations

import os
from functools import partial
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from divergence_suite import (  # noqa: E402
    _BCE,
    _MSE,
    _SCCE,
    LR_CAUSES,
    LR_FIXES,
    SEED,
    Run,
    Scenario,
    _classes,
    _fit_run,
    _loop_run,
    _mlp,
    _regression,
    _rng,
    _seed,
    _separable,
)

# the data offsets of this module start at 200, away from divergence_suite's (0-27)
_OFF = 200


# ---------------------------------------------------------------------------------------------
# building blocks of this module


class Triangular(keras.optimizers.schedules.LearningRateSchedule):
    """Smith's triangular cyclical rate (CLR): from ``base`` up to ``peak`` over ``half``
    steps, back down over ``half`` steps, and again."""

    def __init__(self, base: float, peak: float, half: int) -> None:
        self.base = base
        self.peak = peak
        self.half = half

    def __call__(self, step: Any) -> Any:
        step = tf.cast(step, tf.float32)
        cycle_pos = tf.math.floormod(step, 2.0 * self.half) / float(self.half)  # in [0, 2)
        frac = 1.0 - tf.abs(cycle_pos - 1.0)  # 0 -> 1 -> 0
        return self.base + (self.peak - self.base) * frac

    def get_config(self) -> dict[str, Any]:
        return {"base": self.base, "peak": self.peak, "half": self.half}


def _wasserstein(y_true: Any, y_pred: Any) -> Any:
    """The WGAN critic loss of the Keras examples: mean(y * D(x)), y = -1 real, +1 fake."""
    return tf.reduce_mean(tf.cast(y_true, tf.float32) * y_pred)


def _critic_batches(steps: int, batch: int, dim: int, offset: int) -> list:
    """Half real samples (N(+0.5, 1), label -1), half generated ones (N(-0.5, 1), label +1)."""
    rng = _rng(offset)
    out = []
    for _ in range(steps):
        real = rng.normal(0.5, 1.0, size=(batch // 2, dim))
        fake = rng.normal(-0.5, 1.0, size=(batch // 2, dim))
        x = np.concatenate([real, fake]).astype("float32")
        y = np.concatenate([-np.ones((batch // 2, 1)), np.ones((batch // 2, 1))]).astype("float32")
        out.append((x, y))
    return out


def _accumulating_step(model: Any, optimizer: Any, loss_fn: Any, every: int) -> Any:
    """Gradient accumulation over ``every`` micro-batches, written with the classic bug: the
    summed gradients are applied without dividing by ``every``."""
    variables = model.trainable_variables
    optimizer.build(variables)
    sums = [tf.Variable(tf.zeros_like(v), trainable=False) for v in variables]
    count = tf.Variable(0, dtype=tf.int64, trainable=False)

    @tf.function
    def train_step(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            pred = model(x, training=True)
            loss = loss_fn(y, tf.cast(pred, tf.float32))
        grads = tape.gradient(loss, variables)
        for acc, grad in zip(sums, grads, strict=True):
            acc.assign_add(grad)
        count.assign_add(1)
        if tf.equal(count % every, 0):
            # BUG: should be acc / every (or the loss divided by every before the backward)
            optimizer.apply_gradients(
                zip([tf.identity(acc) for acc in sums], variables, strict=True)
            )
            for acc in sums:
                acc.assign(tf.zeros_like(acc))
        return loss

    return train_step


def _residual_mlp(dim: int, width: int, blocks: int, branch_std: float | None = None) -> Any:
    init: Any = "glorot_uniform"
    if branch_std is not None:
        init = keras.initializers.RandomNormal(stddev=branch_std, seed=SEED)
    inputs = keras.Input((dim,))
    x = keras.layers.Dense(width, name="stem")(inputs)
    for i in range(blocks):
        h = keras.layers.Dense(
            width, activation="relu", kernel_initializer=init, name=f"block_{i}_a"
        )(x)
        h = keras.layers.Dense(width, kernel_initializer=init, name=f"block_{i}_b")(h)
        x = keras.layers.Add(name=f"add_{i}")([x, h])  # no normalization, no branch scaling
    outputs = keras.layers.Dense(1, name="head")(x)
    return keras.Model(inputs, outputs)


def _tokens(steps: int, batch: int, length: int, vocab: int, offset: int) -> list:
    """Zipf-distributed token ids; the target is the sum of a fixed value per token."""
    rng = _rng(offset)
    values = rng.normal(size=(vocab,)) * 0.5
    probs = 1.0 / np.arange(1, vocab + 1)
    probs /= probs.sum()
    out = []
    for _ in range(steps):
        ids = rng.choice(vocab, size=(batch, length), p=probs)
        y = values[ids].sum(axis=1, keepdims=True)
        out.append((ids.astype("int32"), y.astype("float32")))
    return out


# ---------------------------------------------------------------------------------------------
# diverging builders


def cyclic_lr_peak_high(
    base: float = 0.005, peak: float = 0.3, half: int = 60, steps: int = 300
) -> Run:
    _seed()
    model = _mlp(16, (64, 64), activation="tanh")
    opt = keras.optimizers.SGD(Triangular(base, peak, half), momentum=0.9)
    return _loop_run(model, opt, _MSE, _regression(steps, 32, 16, offset=_OFF + 1))


def grad_accum_undivided(
    lr: float = 0.08, every: int = 4, momentum: float = 0.9, steps: int = 300
) -> Run:
    _seed()
    model = _mlp(16, (64, 64), activation="tanh")
    opt = keras.optimizers.SGD(lr, momentum=momentum)
    batches = _regression(steps, 32, 16, offset=_OFF + 2)
    return Run(model, batches, _accumulating_step(model, opt, _MSE, every), opt)


def negative_weight_decay_fit(
    lr: float = 0.05, decay: float = 0.2, momentum: float = 0.9, steps: int = 300
) -> Run:
    _seed()
    model = _mlp(16, (64, 64))
    # the sign of the decay flipped: each step multiplies the weights by (1 + lr * decay)
    opt = keras.optimizers.SGD(lr, momentum=momentum, weight_decay=-decay)
    return _fit_run(model, opt, _MSE, _regression(steps, 32, 16, offset=_OFF + 3))


def wgan_critic_unconstrained_fit(lr: float = 0.01, steps: int = 300) -> Run:
    _seed()
    model = _mlp(8, (32, 32))  # the critic: no weight clipping, no gradient penalty
    opt = keras.optimizers.SGD(lr)
    return _fit_run(model, opt, _wasserstein, _critic_batches(steps, 32, 8, _OFF + 4))


def residual_no_norm(
    lr: float = 0.012,
    blocks: int = 4,
    adam: bool = False,
    branch_std: float | None = None,
    steps: int = 300,
) -> Run:
    _seed()
    model = _residual_mlp(16, 32, blocks, branch_std)
    opt = keras.optimizers.Adam(lr) if adam else keras.optimizers.SGD(lr, momentum=0.9)
    return _loop_run(model, opt, _MSE, _regression(steps, 32, 16, offset=_OFF + 5))


def target_scale_drifts(
    lr: float = 0.02, growth: float = 1.02, activation: str = "relu", steps: int = 300
) -> Run:
    _seed()
    model = _mlp(16, (64, 64), activation=activation)
    batches = _regression(steps, 32, 16, offset=_OFF + 6)
    # the target's unit drifts: each batch's targets are `growth` times the previous scale
    drifted = [(x, (y * growth**i).astype("float32")) for i, (x, y) in enumerate(batches)]
    opt = keras.optimizers.SGD(lr, momentum=0.9)
    return _loop_run(model, opt, _MSE, drifted)


def nesterov_momentum_high_fit(lr: float = 0.08, momentum: float = 0.99, steps: int = 300) -> Run:
    _seed()
    model = _mlp(20, (64, 64), activation="tanh")
    # a rate tuned for momentum 0.9, kept when the momentum was raised to 0.99
    opt = keras.optimizers.SGD(lr, momentum=momentum, nesterov=True)
    return _fit_run(model, opt, _MSE, _regression(steps, 32, 20, offset=_OFF + 7))


def embedding_sum_lr_high(
    lr: float = 0.06, sgd: bool = True, momentum: float = 0.0, steps: int = 300
) -> Run:
    _seed()
    model = keras.Sequential(
        [
            keras.Input((20,), dtype="int32"),
            keras.layers.Embedding(200, 16, name="embedding"),
            keras.layers.Lambda(lambda e: tf.reduce_sum(e, axis=1), name="sum_pool"),
            keras.layers.Dense(64, activation="relu", name="dense_0"),
            keras.layers.Dense(1, name="head"),
        ]
    )
    opt = keras.optimizers.SGD(lr, momentum=momentum) if sgd else keras.optimizers.Adam(lr)
    return _loop_run(model, opt, _MSE, _tokens(steps, 32, 20, 200, _OFF + 8))


# ---------------------------------------------------------------------------------------------
# healthy builders


def sgdr_restarts(steps: int = 300) -> Run:
    _seed()
    model = _mlp(20, (64, 64), 5)
    schedule = keras.optimizers.schedules.CosineDecayRestarts(
        0.05, first_decay_steps=60, t_mul=1.0, m_mul=1.0, alpha=0.01
    )
    opt = keras.optimizers.SGD(schedule, momentum=0.9)
    return _loop_run(model, opt, _SCCE, _classes(steps, 32, (20,), 5, offset=_OFF + 11))


def curriculum_fit(steps: int = 300) -> Run:
    _seed()
    model = _mlp(20, (64, 64), 5)
    batches = _classes(steps, 32, (20,), 5, offset=_OFF + 12)
    rng = _rng(_OFF + 12)
    staged = []
    for i, (x, y) in enumerate(batches):
        stage = min(i * 3 // steps, 2)  # easy, medium, hard thirds
        if stage >= 1:  # harder: features blurred with noise
            x = (x + 0.5 * stage * rng.normal(size=x.shape)).astype("float32")
        if stage == 2:  # hardest: 15 % of the labels wrong
            flip = rng.random(len(y)) < 0.15
            y = np.where(flip, rng.integers(0, 5, size=len(y)), y).astype("int32")
        staged.append((x, y))
    return _fit_run(model, keras.optimizers.Adam(1e-3), _SCCE, staged)


def adam_early_bump(steps: int = 300) -> Run:
    _seed()
    model = _mlp(16, (64, 64))
    batches = _regression(steps, 32, 16, offset=_OFF + 13)
    return _loop_run(model, keras.optimizers.Adam(1e-2), _MSE, batches)


def finetune_small_lr_fit(steps: int = 300) -> Run:
    _seed()
    model = _mlp(20, (64, 64), 5)
    # "pretraining" on task A (its own teacher), outside the scored steps
    pretrain = _classes(150, 64, (20,), 5, offset=_OFF + 14)
    xs = np.concatenate([x for x, _ in pretrain])
    ys = np.concatenate([y for _, y in pretrain])
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=_SCCE)
    model.fit(xs, ys, batch_size=64, epochs=3, verbose=0, shuffle=False)
    # fine-tune on task B (another teacher) with a small rate and a fresh optimizer
    batches = _classes(steps, 32, (20,), 5, offset=_OFF + 15)
    return _fit_run(model, keras.optimizers.Adam(1e-4), _SCCE, batches)


def separable_mlp_adam(steps: int = 300) -> Run:
    _seed()
    model = _mlp(10, (32,))
    batches = _separable(steps, 32, 10, offset=_OFF + 16)
    return _loop_run(model, keras.optimizers.Adam(3e-3), _BCE, batches)


def heavy_tailed_noise(df: float = 4.0, scale: float = 0.15, steps: int = 300) -> Run:
    _seed()
    model = _mlp(16, (64,))
    rng = _rng(_OFF + 17)
    batches = [
        (x, (y + scale * rng.standard_t(df, size=y.shape)).astype("float32"))
        for x, y in _regression(steps, 32, 16, noise=0.0, offset=_OFF + 17)
    ]
    return _loop_run(model, keras.optimizers.SGD(0.02, momentum=0.9), _MSE, batches)


def imbalanced_alternating_fit(share: float = 0.9, steps: int = 300) -> Run:
    _seed()
    model = _mlp(12, (32, 32))
    rng = _rng(_OFF + 18)
    normal = rng.normal(size=(12,))
    normal /= np.linalg.norm(normal)
    pool = rng.normal(size=(40 * steps, 12)).astype("float32")
    labels = (pool @ normal + 0.3 * rng.normal(size=len(pool)) > 0).astype("float32")
    pos, neg = pool[labels == 1], pool[labels == 0]
    batches, ip, ineg = [], 0, 0
    for i in range(steps):
        major = round(32 * share)
        n_pos = major if i % 2 == 0 else 32 - major  # unshuffled: batches alternate classes
        x = np.concatenate([pos[ip : ip + n_pos], neg[ineg : ineg + 32 - n_pos]])
        y = np.concatenate([np.ones((n_pos, 1)), np.zeros((32 - n_pos, 1))]).astype("float32")
        ip, ineg = ip + n_pos, ineg + 32 - n_pos
        batches.append((x, y))
    return _fit_run(model, keras.optimizers.Adam(1e-3), _BCE, batches)


def cyclic_lr_sane(steps: int = 300) -> Run:
    _seed()
    model = _mlp(16, (64, 64), activation="tanh")
    opt = keras.optimizers.SGD(Triangular(0.002, 0.04, 60), momentum=0.9)
    return _loop_run(model, opt, _MSE, _regression(steps, 32, 16, offset=_OFF + 19))


# ---------------------------------------------------------------------------------------------
# the scenarios (causes and fixes were written from the bug patterns, before any run)

_RESIDUAL_CAUSES = frozenset({"gradient_explosion", "learning_rate_too_high"})
_RESIDUAL_FIXES = frozenset({"add_normalization", "clip_gradients", "lower_learning_rate"})
_TARGET_CAUSES = frozenset({"unscaled_target", "learning_rate_too_high"})
_TARGET_FIXES = frozenset({"rescale_target", "lower_learning_rate", "clip_gradients"})


def _diverging() -> list[Scenario]:
    return [
        Scenario(
            "cyclic_lr_peak_high",
            True,
            "loop",
            300,
            partial(cyclic_lr_peak_high),
            "https://github.com/locuslab/fast_adversarial/issues/18",
            "triangular cyclical rate (CLR) whose peak is above the stable rate: trains in the "
            "low phase, diverges as the rate climbs (tanh MLP, SGD momentum 0.9)",
            causes=LR_CAUSES,
            fixes=LR_FIXES,
        ),
        Scenario(
            "grad_accum_undivided",
            True,
            "loop",
            300,
            partial(grad_accum_undivided),
            "https://github.com/hirofumi0810/neural_sp/issues/168",
            "gradient accumulation over 4 micro-batches whose sum is applied without dividing "
            "by 4: every update is 4x the intended step",
            causes=LR_CAUSES,
            fixes=LR_FIXES,
        ),
        Scenario(
            "negative_weight_decay_fit",
            True,
            "fit",
            300,
            partial(negative_weight_decay_fit),
            "https://github.com/andersbll/deeppy/issues/17",
            "weight decay applied with the wrong sign (SGD weight_decay < 0): the weights are "
            "pushed to grow every step",
        ),
        Scenario(
            "wgan_critic_unconstrained_fit",
            True,
            "fit",
            300,
            partial(wgan_critic_unconstrained_fit),
            "https://github.com/torchgan/torchgan/pull/42",
            "WGAN critic trained on mean(y * D(x)) without weight clipping or gradient "
            "penalty: the critic's outputs grow without bound",
        ),
        Scenario(
            "residual_no_norm",
            True,
            "loop",
            300,
            partial(residual_no_norm),
            "https://github.com/huangleiBuaa/ONI/issues/1",
            "residual MLP (4 blocks) without normalization or branch scaling, SGD momentum "
            "0.9 at 0.012: fails within a few steps (no slow variant found)",
            causes=_RESIDUAL_CAUSES,
            fixes=_RESIDUAL_FIXES,
            min_end=1,
            slow=False,
        ),
        Scenario(
            "target_scale_drifts",
            True,
            "loop",
            300,
            partial(target_scale_drifts),
            "https://github.com/online-ml/river/issues/334",
            "a regression target whose scale drifts up 2 % a batch (a cumulative quantity, "
            "never rescaled) under a fixed SGD rate",
            causes=_TARGET_CAUSES,
            fixes=_TARGET_FIXES,
        ),
        Scenario(
            "nesterov_momentum_high_fit",
            True,
            "fit",
            300,
            partial(nesterov_momentum_high_fit),
            "https://github.com/Lasagne/Lasagne/issues/765",
            "SGD Nesterov momentum raised to 0.99 with the rate kept from momentum 0.9: the "
            "effective step lr / (1 - momentum) is 10x larger",
            causes=LR_CAUSES,
            fixes=LR_FIXES,
        ),
        Scenario(
            "embedding_sum_lr_high",
            True,
            "loop",
            300,
            partial(embedding_sum_lr_high),
            "https://github.com/guillaumegenthial/sequence_tagging/issues/47",
            "embedding + sum pooling regression on Zipf tokens at a large rate (plain SGD 0.06; "
            "Adam 0.05-1.0 did not diverge)",
            causes=LR_CAUSES,
            fixes=LR_FIXES,
        ),
    ]


def _healthy() -> list[Scenario]:
    return [
        Scenario(
            "sgdr_restarts",
            False,
            "loop",
            300,
            partial(sgdr_restarts),
            "https://github.com/AlexeyAB/darknet/pull/2651",
            "SGDR (CosineDecayRestarts, 60-step cycles, SGD momentum): the loss jumps up at "
            "each restart, then falls again",
        ),
        Scenario(
            "curriculum_fit",
            False,
            "fit",
            300,
            partial(curriculum_fit),
            "https://advanced-data-analysis.netlify.app/056-curriculum-learning.html",
            "easy-to-hard curriculum in model.fit: noisier features, then wrong labels, raise "
            "the loss at each stage",
        ),
        Scenario(
            "adam_early_bump",
            False,
            "loop",
            300,
            partial(adam_early_bump),
            "https://github.com/conradry/pixpro-with-weights/issues/7",
            "Adam 1e-2: large early updates bump the loss in the first steps, then it trains",
        ),
        Scenario(
            "finetune_small_lr_fit",
            False,
            "fit",
            300,
            partial(finetune_small_lr_fit),
            "https://github.com/USGS-R/river-dl/issues/58",
            "a pretrained (already trained, larger) MLP fine-tuned on a new task with Adam 1e-4",
        ),
        Scenario(
            "separable_mlp_adam",
            False,
            "loop",
            300,
            partial(separable_mlp_adam),
            "https://arxiv.org/abs/1710.10345",
            "one-hidden-layer MLP on separable data, BCE, Adam 3e-3, no weight decay: the "
            "logits and weights grow while the loss falls toward 0",
        ),
        Scenario(
            "heavy_tailed_noise",
            False,
            "loop",
            300,
            partial(heavy_tailed_noise),
            "https://github.com/stanford-crfm/mistral/issues/115",
            "regression targets with Student-t (df 4) noise: per-batch loss spikes that do not "
            "build up",
        ),
        Scenario(
            "imbalanced_alternating_fit",
            False,
            "fit",
            300,
            partial(imbalanced_alternating_fit),
            "https://github.com/k2-fsa/icefall/issues/1676",
            "unshuffled data: batches alternate 90 % positive / 90 % negative, a sawtooth loss",
        ),
        Scenario(
            "cyclic_lr_sane",
            False,
            "loop",
            300,
            partial(cyclic_lr_sane),
            "https://github.com/kweonwooj/papers/issues/88",
            "triangular cyclical rate with its peak below the stable rate (the control of "
            "cyclic_lr_peak_high): the loss breathes with the rate",
        ),
    ]


SCENARIOS: list[Scenario] = _diverging() + _healthy()
assert len({s.name for s in SCENARIOS}) == len(SCENARIOS), "scenario names must be unique"
