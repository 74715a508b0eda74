"""A thirty-third set of NaN scenarios from public bug patterns, written BLIND (2026-12-05).

Written without reading nantrace's package, its docs, its README, its benchmarks or its test
modules (only the scenario helpers of ``scenario_cases.py`` (lines 1-120) /
``scenario_patterns.py`` (lines 1-50: ``_custom_step``), the format of ``scenario_blind20.py``,
the taxonomy section of the design notes and the list of names and one-line stories of the
existing scenarios), without git log or diff output of other files, without looking at any
other blind suite, and without importing or running nantrace: each expectation comes from the
bug pattern itself (where a careful ML engineer would say the first non-finite value appears,
why, and the first fix to try), and all ten were written into this file before anything was
run. The patterns come from public reports found with a search over GitHub issues and pull
requests and stored web pages; each story cites them. The theme is audio, speech, sensor and
financial time-series models with one ordinary slip each, trained in custom GradientTape
loops: a multi-resolution STFT loss whose magnitude is sqrt(re^2 + im^2) without the clamp,
the keras.io OCR example's ctc_batch_cost (log of softmax probabilities) on a head whose
softmax was removed, a mu-law compander retyped without sign and abs, a log spectrogram of
the STFT cast to float32 (its real part) instead of tf.abs, PCEN by hand without its eps on
clips that start with digital silence, an EWMA volatility scaling whose variance recursion
starts at 0, a tilt feature asin(a_x / g) of accelerometer windows that include jogging, a
Kelly log-wealth loss on an unbounded position head, a GE2E loss whose exclusive centroid
divides by M - 1 with one utterance per speaker, and a Sortino-ratio loss without an epsilon
in the downside deviation. One of them is training dynamics (the log-wealth loss). Fix ids are
only those of the design notes' taxonomy; where none of them is the first fix a careful
engineer would try, the fix set is left empty.

The only thing checked after writing them is that plain TensorFlow, unwatched, really goes
non-finite on their batches (loss, gradients and weights, and at which step), and (with
tf.debugging.enable_check_numerics, plain TF, the step compiled as the scenario runs it) which
op first produces the non-finite value, in a throwaway script outside the repository that
stands in plain-TF versions of the loop helpers (its _custom_step records inside the compiled
step whether the gradients are finite) and asserts that nantrace was never imported. No
expectation field (kind, op types, layer, cause, fixes) was changed after that check, and no
pattern was dropped; two constructions were changed, as told below. What the check showed
(step numbers count from 0): the STFT loss (after the change below: loss finite, 8.65, at
step 0, its gradients and then the weights non-finite; first op the backward SqrtGrad, +inf),
the OCR ctc_batch_cost (NaN loss at step 0; first op the loss's Log), the mu-law compander
(NaN at step 0; first op mu_law's Log1p), the cast spectrogram (NaN at step 0; first op
log_spectrogram's Log), PCEN (NaN at step 0; first op the pcen layer's RealDiv, 0 / 0), the
EWMA scaling (NaN loss at step 0; first op ewma_vol_scaling's RealDiv, x / 0), the tilt
feature (NaN at step 0; first op tilt_features' Asin), the log-wealth loss (after the change
below: the loss falls to -0.036 over 89 healthy steps while the largest position grows to
~35; at step 89 the loss is NaN while that step's gradients and weights are still finite;
first op the loss's Log1p), GE2E (NaN at step 0; first op the loss's RealDiv, 0 / 0) and the
Sortino loss (finite and falling to -1.7e3 for 19 steps; at step 19 the loss is -inf and the
gradients and weights non-finite; first op the loss's RealDiv, mean / 0).
Constructions changed after the first check (expectation fields untouched, the docstrings
and stories kept to the pattern): the STFT scenario first padded the clean references with
exact zeros, so that target and masked prediction were both exactly 0 in the padded frames;
the run stayed finite for all 16 steps because TensorFlow's SqrtGrad returns 0 where the
upstream gradient is 0 (it does; a quick test gives d/dx sum(0 * sqrt(x)) = 0 at x = 0); the
clean references are now padded with their recording's low-level floor (1e-4 noise), so that
the log-magnitude and convergence terms send a non-zero gradient into the exactly-zero
magnitudes of the masked prediction. The log-wealth returns first had a predictable mean of
0.4 % against a 1 % fat-tailed noise: after 256 steps the loss was -0.013 and finite (the
largest position ~35 after 768 steps, still finite); the predictable mean is now 0.8 %.
Caveats a reader should know: the GE2E scenario's cause is None (the divisor is a batch
configuration, M - 1 = 0; no taxonomy id names it, though the 0 / 0 has the shape of
missing_epsilon) and its fix set is empty (M >= 2); four fix sets are empty where the first
fix is a safe form that no taxonomy id names (sign and abs, tf.abs, the atan2 tilt, a bounded
position); the OCR scenario's use_from_logits means feeding the logits to a CTC that takes
logits (or restoring the softmax); the EWMA scenario accepts add_epsilon though starting the
recursion from a sample variance is as good a first fix; the STFT scenario's op is the
backward SqrtGrad (kind gradient) because the forward pass is finite.

Layer names are set explicitly only so the expectations can name them.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf
from scenario_cases import (
    Scenario,
    batches,
    mlp,
    run_loop,
    seeded,
)
from scenario_patterns import _custom_step


def _adam_custom_loop(model, loss_of, data, learning_rate=1e-3):
    optimizer = keras.optimizers.Adam(learning_rate)
    return run_loop(_custom_step(model, optimizer, loss_of), data, model=model, optimizer=optimizer)


def _sparse_ce_step_loss(model, x, y):
    logits = model(x, training=True)
    return tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True))


# ---------------------------------------------------------------------------------------------
# 1. a multi-resolution STFT loss whose magnitude is written sqrt(re^2 + im^2), on padded clips
# ---------------------------------------------------------------------------------------------
def multi_resolution_stft_loss_with_a_hand_written_magnitude():
    """A small Conv1D speech denoiser (8 kHz waveforms of 2048 samples) trained with a
    Parallel WaveGAN-style multi-resolution STFT loss (spectral convergence + log-magnitude
    L1, FFT sizes 256 and 512). The clips are 1024-1536 samples long, zero-padded to 2048,
    and the prediction is multiplied by the length mask. The magnitude was ported as
    tf.sqrt(real**2 + imag**2) without the reference's clamp(min=1e-7) (the log term keeps its
    + 1e-7). Every STFT frame wholly inside the padding is exactly 0 in both the target and the
    prediction: the forward pass is finite, but the upstream gradient there is 0 and sqrt's
    derivative 0.5 / sqrt(0) is infinite, 0 x inf = NaN in the backward pass at the first step
    (sqrt(max(re^2 + im^2, 1e-7)), or tf.abs of the complex STFT)."""
    rng = seeded(3300)
    n, length = 256, 2048
    t = np.arange(length) / 8000.0
    clean = np.zeros((n, length), "float32")
    noisy = np.zeros((n, length, 1), "float32")
    mask = np.zeros((n, length), "float32")
    for i in range(n):
        k = int(rng.integers(1024, 1537))
        f0 = rng.uniform(100.0, 400.0)
        voiced = 0.4 * np.sin(2 * np.pi * f0 * t[:k]) + 0.2 * np.sin(4 * np.pi * f0 * t[:k])
        voiced = voiced * np.hanning(k)
        clean[i, :k] = voiced
        # the corpus' clean references are padded with their recording's low-level floor
        clean[i, k:] = 1e-4 * rng.normal(size=length - k)
        noisy[i, :k, 0] = voiced + 0.1 * rng.normal(size=k)
        mask[i, :k] = 1.0
    inputs = keras.Input((length, 1))
    h = keras.layers.Conv1D(16, 9, padding="same", activation="tanh", name="enc")(inputs)
    h = keras.layers.Conv1D(16, 9, padding="same", activation="tanh", name="mid")(h)
    outputs = keras.layers.Conv1D(1, 9, padding="same", name="dec")(h)
    model = keras.Model(inputs, outputs, name="stft_denoiser")

    def magnitude(x, fft):
        spec = tf.signal.stft(x, fft, fft // 4, fft_length=fft)
        return tf.sqrt(tf.square(tf.math.real(spec)) + tf.square(tf.math.imag(spec)))

    def loss_of(model, x, y, m):
        pred = model(x, training=True)[..., 0] * m
        total = 0.0
        for fft in (256, 512):
            target_mag, pred_mag = magnitude(y, fft), magnitude(pred, fft)
            convergence = tf.norm(target_mag - pred_mag) / tf.norm(target_mag)
            log_mag = tf.reduce_mean(
                tf.abs(tf.math.log(target_mag + 1e-7) - tf.math.log(pred_mag + 1e-7))
            )
            total += convergence + log_mag
        return total / 2.0

    data = [
        (
            tf.constant(noisy[s : s + 16]),
            tf.constant(clean[s : s + 16]),
            tf.constant(mask[s : s + 16]),
        )
        for s in range(0, n, 16)
    ]
    return _adam_custom_loop(model, loss_of, data)


# ---------------------------------------------------------------------------------------------
# 2. the keras.io OCR example's ctc_batch_cost (log of softmax outputs) on a logits head
# ---------------------------------------------------------------------------------------------
def ocr_example_ctc_batch_cost_on_a_logits_head():
    """A small CTC speech recognizer (48 frames of 20 filterbank features, 10 characters plus
    the blank, two Conv1D layers) whose loss is copied from the keras.io captcha OCR example's
    ctc_batch_cost: log(transpose(y_pred) + epsilon) fed to tf.compat.v1.nn.ctc_loss. That
    function expects SOFTMAX PROBABILITIES (the example's last Dense has
    activation='softmax'); the user removed the softmax from the output layer because 'CTC
    takes logits'. The linear head's outputs are negative for about half the entries and
    log(logit + 1e-7) is NaN inside the loss at the first step (pass the logits to a CTC that
    takes logits, tf.nn.ctc_loss / keras.losses.CTC, or put the softmax back)."""
    rng = seeded(3301)
    n, frames, feats, vocab, max_label = 512, 48, 20, 10, 8
    prototypes = rng.normal(size=(vocab, feats))
    x = 0.3 * rng.normal(size=(n, frames, feats))
    labels = np.zeros((n, max_label), "int32")
    lengths = rng.integers(3, max_label + 1, size=n).astype("int32")
    for i in range(n):
        seq = rng.integers(0, vocab, size=lengths[i])
        labels[i, : lengths[i]] = seq
        seg = frames // lengths[i]
        for j, c in enumerate(seq):
            x[i, j * seg : (j + 1) * seg] += prototypes[c]
    x = x.astype("float32")
    inputs = keras.Input((frames, feats))
    h = keras.layers.Conv1D(64, 5, padding="same", activation="relu", name="conv0")(inputs)
    h = keras.layers.Conv1D(64, 5, padding="same", activation="relu", name="conv1")(h)
    outputs = keras.layers.Dense(vocab + 1, name="char_logits")(h)  # the softmax was removed
    model = keras.Model(inputs, outputs, name="ctc_recognizer")

    def ctc_batch_cost(y_true, y_pred, input_length, label_length):
        """As in the keras.io captcha OCR example (Keras 3 version)."""
        idx = tf.where(tf.sequence_mask(label_length, tf.shape(y_true)[1]))
        sparse = tf.SparseTensor(
            idx, tf.gather_nd(y_true, idx), tf.cast(tf.shape(y_true), tf.int64)
        )
        y_pred = tf.math.log(tf.transpose(y_pred, [1, 0, 2]) + keras.config.epsilon())
        return tf.compat.v1.nn.ctc_loss(labels=sparse, inputs=y_pred, sequence_length=input_length)

    def loss_of(model, x, y, label_length):
        y_pred = model(x, training=True)
        input_length = tf.fill([tf.shape(x)[0]], frames)
        return tf.reduce_mean(ctc_batch_cost(y, y_pred, input_length, label_length))

    data = [
        (
            tf.constant(x[s : s + 32]),
            tf.constant(labels[s : s + 32]),
            tf.constant(lengths[s : s + 32]),
        )
        for s in range(0, n, 32)
    ]
    return _adam_custom_loop(model, loss_of, data)


# ---------------------------------------------------------------------------------------------
# 3. mu-law companding retyped as log1p(mu * x) / log1p(mu), without sign(x) and |x|
# ---------------------------------------------------------------------------------------------
class MuLawCompander(keras.layers.Layer):
    """mu-law companding of a [-1, 1] waveform, as retyped: the sign and the abs are missing."""

    def __init__(self, mu=255.0, **kwargs):
        super().__init__(**kwargs)
        self.mu = mu

    def call(self, x):
        # the formula is sign(x) * log1p(mu * |x|) / log1p(mu)
        return tf.math.log1p(self.mu * x) / math.log1p(self.mu)


def mu_law_companding_without_the_sign_and_abs():
    """A raw-waveform sound classifier (WaveNet-style front end: mu-law companding, then
    strided Conv1D layers, 4 tone classes in noise, 4000 samples scaled to [-1, 1] from int16)
    whose in-model mu-law layer was typed log1p(mu * x) / log1p(mu) instead of
    sign(x) * log1p(mu * |x|) / log1p(mu). Every sample below -1 / 255 gives log1p of a number
    below -1: NaN in the companding layer's output at the first step, with finite inputs (put
    the sign and the abs back)."""
    rng = seeded(3302)
    n, length, classes = 512, 4000, 4
    t = np.arange(length) / 8000.0
    labels = rng.integers(0, classes, size=n)
    freqs = np.array([220.0, 440.0, 880.0, 1760.0])
    pcm = 8000 * np.sin(2 * np.pi * freqs[labels][:, None] * t) + 3000 * rng.normal(
        size=(n, length)
    )
    wave = (np.clip(pcm, -32768, 32767).astype("int16") / 32768.0).astype("float32")
    inputs = keras.Input((length, 1))
    h = MuLawCompander(name="mu_law")(inputs)
    h = keras.layers.Conv1D(16, 9, strides=4, activation="relu", name="conv0")(h)
    h = keras.layers.Conv1D(32, 9, strides=4, activation="relu", name="conv1")(h)
    h = keras.layers.GlobalAveragePooling1D(name="pool")(h)
    outputs = keras.layers.Dense(classes, name="head")(h)
    model = keras.Model(inputs, outputs, name="mu_law_classifier")
    return _adam_custom_loop(
        model, _sparse_ce_step_loss, batches(wave[..., None], labels.astype("int32"), size=32)
    )


# ---------------------------------------------------------------------------------------------
# 4. a log spectrogram of the complex STFT cast to float32 (the real part) instead of tf.abs
# ---------------------------------------------------------------------------------------------
class LogSpectrogram(keras.layers.Layer):
    """log(|STFT| + 1e-6), as written: tf.cast to float32 instead of tf.abs."""

    def call(self, x):
        spec = tf.signal.stft(x, 256, 128)
        # tf.cast of a complex tensor to float32 keeps only the real part
        return tf.math.log(tf.cast(spec, tf.float32) + 1e-6)


def log_spectrogram_of_a_stft_cast_to_float32():
    """A keyword-spotting CNN with its front end in the graph: tf.signal.stft, then
    log(spectrogram + 1e-6). The spectrogram was made with tf.cast(stft, tf.float32) (to fix a
    complex64 / float32 dtype error) instead of tf.abs: a cast of a complex tensor keeps only
    the REAL part, which is negative in about half the bins, and the log of a negative number
    is NaN in the front-end layer's output at the first step (the magnitude, tf.abs(stft))."""
    rng = seeded(3303)
    n, length, classes = 512, 8000, 5
    t = np.arange(length) / 8000.0
    labels = rng.integers(0, classes, size=n)
    start = rng.uniform(200.0, 600.0, size=classes)
    sweep = rng.uniform(-150.0, 150.0, size=classes)
    phase = 2 * np.pi * (start[labels][:, None] * t + 0.5 * sweep[labels][:, None] * t**2)
    wave = (0.5 * np.sin(phase) + 0.05 * rng.normal(size=(n, length))).astype("float32")
    inputs = keras.Input((length,))
    h = LogSpectrogram(name="log_spectrogram")(inputs)
    h = keras.layers.Conv1D(32, 3, activation="relu", name="conv0")(h)
    h = keras.layers.GlobalAveragePooling1D(name="pool")(h)
    outputs = keras.layers.Dense(classes, name="head")(h)
    model = keras.Model(inputs, outputs, name="kws_cnn")
    return _adam_custom_loop(
        model, _sparse_ce_step_loss, batches(wave, labels.astype("int32"), size=32)
    )


# ---------------------------------------------------------------------------------------------
# 5. PCEN by hand without its eps, on clips that start with digital silence
# ---------------------------------------------------------------------------------------------
class HandWrittenPCEN(keras.layers.Layer):
    """Per-channel energy normalization (E / M**alpha + delta)**r - delta**r, M the IIR
    smoother of E started at 0; librosa's (eps + M)**alpha was typed without the eps."""

    def __init__(self, alpha=0.98, delta=2.0, r=0.5, s=0.025, **kwargs):
        super().__init__(**kwargs)
        self.alpha, self.delta, self.r, self.s = alpha, delta, r, s

    def call(self, energy):
        s = self.s
        time_major = tf.transpose(energy, [1, 0, 2])
        smoother = tf.scan(
            lambda m, e: (1.0 - s) * m + s * e, time_major, initializer=tf.zeros_like(energy[:, 0])
        )
        smoother = tf.transpose(smoother, [1, 0, 2])
        return (
            tf.pow(energy / tf.pow(smoother, self.alpha) + self.delta, self.r) - self.delta**self.r
        )


def pcen_by_hand_without_eps_on_digital_silence():
    """A sound-event tagger (100 frames x 32 mel energies, 5 classes) with a hand-written PCEN
    front end, (E / M**alpha + delta)**r - delta**r with the smoother
    M_t = (1 - s) M_{t-1} + s E_t started at 0, ported from the paper's equation without
    librosa's eps (E / (eps + M)**alpha). The recordings start with digital silence (an
    onset delay of 1-30 frames whose energy is exactly 0): there M is exactly 0 and E / M**alpha
    is 0 / 0 = NaN inside the PCEN layer at the first step (the eps, 1e-6, in (eps + M))."""
    rng = seeded(3304)
    n, frames, bands, classes = 512, 100, 32, 5
    labels = rng.integers(0, classes, size=n)
    profiles = np.exp(rng.normal(size=(classes, bands)))
    energy = np.zeros((n, frames, bands), "float32")
    for i in range(n):
        onset = int(rng.integers(1, 31))
        envelope = np.exp(-np.arange(frames - onset) / rng.uniform(10.0, 60.0))
        body = (
            profiles[labels[i]]
            * envelope[:, None]
            * np.exp(0.3 * rng.normal(size=(frames - onset, bands)))
        )
        energy[i, onset:] = 1000.0 * body
    inputs = keras.Input((frames, bands))
    h = HandWrittenPCEN(name="pcen")(inputs)
    h = keras.layers.Conv1D(32, 5, activation="relu", name="conv0")(h)
    h = keras.layers.GlobalAveragePooling1D(name="pool")(h)
    outputs = keras.layers.Dense(classes, name="head")(h)
    model = keras.Model(inputs, outputs, name="pcen_tagger")
    return _adam_custom_loop(
        model, _sparse_ce_step_loss, batches(energy, labels.astype("int32"), size=32)
    )


# ---------------------------------------------------------------------------------------------
# 6. EWMA (RiskMetrics) volatility scaling whose variance recursion starts at 0
# ---------------------------------------------------------------------------------------------
class EwmaVolatilityScaling(keras.layers.Layer):
    """r_t / sigma_t with sigma_t^2 = lam sigma_{t-1}^2 + (1 - lam) r_{t-1}^2, sigma_0^2 = 0."""

    def __init__(self, window, lam=0.94, **kwargs):
        super().__init__(**kwargs)
        weights = np.zeros((window, window), "float32")
        for t in range(window):
            for k in range(t):
                weights[t, k] = (1.0 - lam) * lam ** (t - 1 - k)
        self.weights_matrix = tf.constant(weights)

    def call(self, returns):
        variance = tf.einsum("tk,bka->bta", self.weights_matrix, tf.square(returns))
        return returns / tf.sqrt(variance)


def ewma_volatility_scaling_started_from_zero_variance():
    """A next-day return forecaster (windows of 60 daily returns of 8 assets, a Conv1D and a
    Dense head, MSE) that volatility-scales its input inside the model, as the volatility
    targeting literature does: r_t / sigma_t with the RiskMetrics recursion
    sigma_t^2 = 0.94 sigma_{t-1}^2 + 0.06 r_{t-1}^2, vectorized over the window, the recursion
    started from sigma_0^2 = 0 instead of a sample variance. The first return of every window
    is divided by sqrt(0): +-inf in the scaling layer's output at the first step (start the
    recursion from the window's sample variance, or an epsilon under the root)."""
    rng = seeded(3305)
    n, window, assets = 2048, 60, 8
    vol = 0.01 * np.exp(0.3 * rng.normal(size=(n, 1, assets)))
    returns = (vol * rng.standard_t(5, size=(n, window + 1, assets)) / np.sqrt(5 / 3)).astype(
        "float32"
    )
    x, y = returns[:, :window], returns[:, window, :1]
    inputs = keras.Input((window, assets))
    h = EwmaVolatilityScaling(window, name="ewma_vol_scaling")(inputs)
    h = keras.layers.Conv1D(16, 5, activation="relu", name="conv0")(h)
    h = keras.layers.GlobalAveragePooling1D(name="pool")(h)
    outputs = keras.layers.Dense(1, name="head")(h)
    model = keras.Model(inputs, outputs, name="vol_scaled_forecaster")
    mse = keras.losses.MeanSquaredError()
    return _adam_custom_loop(
        model, lambda m, xb, yb: mse(yb, m(xb, training=True)), batches(x, y, size=64)
    )


# ---------------------------------------------------------------------------------------------
# 7. a tilt (pitch) feature asin(a_x / g) of accelerometer windows that include jogging
# ---------------------------------------------------------------------------------------------
class TiltFeatures(keras.layers.Layer):
    """Appends pitch = asin(a_x / g) and roll = atan2(a_y, a_z) to the accelerometer channels."""

    def call(self, acc):
        ax, ay, az = tf.unstack(acc, axis=-1)
        pitch = tf.asin(ax / 9.81)
        roll = tf.atan2(ay, az)
        return tf.concat([acc / 9.81, tf.stack([pitch, roll], axis=-1)], axis=-1)


def tilt_angle_feature_by_asin_during_motion():
    """A human-activity-recognition CNN on phone accelerometer windows (128 samples x 3 axes
    in m/s^2; still, walking, stairs, jogging) whose first layer appends tilt angles,
    pitch = asin(a_x / g), the static-tilt formula of accelerometer application notes, and
    roll = atan2(a_y, a_z). The formula holds only when the phone measures gravity alone:
    while jogging the dynamic acceleration pushes |a_x| above 9.81 and asin of a number
    above 1 is NaN inside the feature layer at the first step (atan2(a_x, sqrt(a_y^2 + a_z^2)),
    or clip a_x / g into [-1, 1])."""
    rng = seeded(3306)
    n, steps, classes = 1024, 128, 4
    labels = rng.integers(0, classes, size=n)
    dynamic = np.array([0.02, 0.3, 0.45, 1.1])[labels] * 9.81
    cadence = np.array([0.0, 1.8, 1.5, 2.8])[labels]
    t = np.arange(steps) / 50.0
    pitch = rng.uniform(-0.6, 0.6, size=n)
    roll = rng.uniform(-0.4, 0.4, size=n)
    wobble = np.sin(2 * np.pi * cadence[:, None] * t + rng.uniform(0, 6.3, size=(n, 1)))
    ax = 9.81 * np.sin(pitch)[:, None] + dynamic[:, None] * wobble
    ay = 9.81 * np.cos(pitch)[:, None] * np.sin(roll)[:, None] + 0.5 * dynamic[:, None] * wobble
    az = 9.81 * np.cos(pitch)[:, None] * np.cos(roll)[:, None] + 0.7 * dynamic[:, None] * wobble
    acc = np.stack([ax, ay, az], axis=-1) + 0.2 * rng.normal(size=(n, steps, 3))
    acc = acc.astype("float32")
    inputs = keras.Input((steps, 3))
    h = TiltFeatures(name="tilt_features")(inputs)
    h = keras.layers.Conv1D(32, 7, activation="relu", name="conv0")(h)
    h = keras.layers.GlobalAveragePooling1D(name="pool")(h)
    outputs = keras.layers.Dense(classes, name="head")(h)
    model = keras.Model(inputs, outputs, name="har_cnn")
    return _adam_custom_loop(
        model, _sparse_ce_step_loss, batches(acc, labels.astype("int32"), size=32)
    )


# ---------------------------------------------------------------------------------------------
# 8. a log-wealth (Kelly) loss on an unbounded position head
# ---------------------------------------------------------------------------------------------
def log_wealth_loss_on_an_unbounded_position_head():
    """A daily trading model (an MLP on 12 standardized signals) whose linear head is the
    position (leverage) and whose loss is the negative expected log growth of wealth,
    -mean(log1p(position * r)) (the Kelly criterion), on fat-tailed daily returns with a
    predictable mean. The position is not bounded (no tanh, no leverage cap): the log-growth
    keeps rewarding more leverage on the predictable days, the positions grow over the
    steps, and once a position times a bad day's return is below -1 (wealth below zero),
    log1p of a number below -1 is NaN in the loss (bound the position, e.g. tanh times a
    maximum leverage)."""
    rng = seeded(3307)
    n, dim = 4096, 12
    x = rng.normal(size=(n, dim)).astype("float32")
    v = rng.normal(size=dim) / np.sqrt(dim)
    r = 0.008 * np.tanh(x @ v) + 0.01 * rng.standard_t(4, size=n)
    model = mlp([32], name="kelly_mlp", input_dim=dim)

    def loss_of(model, xb, rb):
        position = model(xb, training=True)
        return -tf.reduce_mean(tf.math.log1p(position * rb))

    return _adam_custom_loop(
        model, loss_of, batches(x, r.astype("float32").reshape(-1, 1), size=64, epochs=4), 1e-2
    )


# ---------------------------------------------------------------------------------------------
# 9. a GE2E speaker-verification loss with one utterance per speaker in the batch
# ---------------------------------------------------------------------------------------------
def ge2e_loss_with_one_utterance_per_speaker():
    """A speaker encoder (40 frames x 24 log-mel, Conv1D, average pooling, a 32-d embedding)
    trained with the GE2E softmax loss, whose similarity to the speaker's own centroid uses the
    exclusive centroid (M c_k - e_ji) / (M - 1), as in the paper. The batch was reconfigured
    from N = 8 speakers x M = 4 utterances to N = 32 speakers x M = 1 utterance ('more
    speakers per batch'): with one utterance the centroid is the embedding itself, the
    exclusive centroid is (1 x e - e) / 0 = 0 / 0 and the loss is NaN at the first step (GE2E
    needs M >= 2)."""
    rng = seeded(3308)
    n_batches, speakers, utterances, frames, mels = 16, 32, 1, 40, 24
    voices = rng.normal(size=(400, mels))
    data = []
    for _ in range(n_batches):
        chosen = rng.choice(400, size=speakers, replace=False)
        x = voices[chosen][:, None, None, :] + 0.8 * rng.normal(
            size=(speakers, utterances, frames, mels)
        )
        data.append(
            (tf.constant(x.reshape(speakers * utterances, frames, mels).astype("float32")),)
        )
    inputs = keras.Input((frames, mels))
    h = keras.layers.Conv1D(64, 5, activation="relu", name="conv0")(inputs)
    h = keras.layers.GlobalAveragePooling1D(name="pool")(h)
    outputs = keras.layers.Dense(32, name="embedding")(h)
    model = keras.Model(inputs, outputs, name="speaker_encoder")

    def ge2e_loss(model, x):
        e = tf.math.l2_normalize(model(x, training=True), axis=-1)
        e = tf.reshape(e, (speakers, utterances, -1))
        centroids = tf.reduce_mean(e, axis=1)
        exclusive = (utterances * centroids[:, None, :] - e) / (utterances - 1)
        sim_self = tf.reduce_sum(e * tf.math.l2_normalize(exclusive, axis=-1), axis=-1)
        sim_all = tf.einsum("nmd,kd->nmk", e, tf.math.l2_normalize(centroids, axis=-1))
        own = tf.one_hot(tf.range(speakers), speakers)[:, None, :] > 0.5
        sim = 10.0 * tf.where(own, sim_self[..., None], sim_all) - 5.0
        targets = tf.tile(tf.range(speakers)[:, None], [1, utterances])
        return tf.reduce_mean(
            keras.losses.sparse_categorical_crossentropy(targets, sim, from_logits=True)
        )

    return _adam_custom_loop(model, ge2e_loss, data)


# ---------------------------------------------------------------------------------------------
# 10. a Sortino-ratio loss without an epsilon in the downside deviation
# ---------------------------------------------------------------------------------------------
def sortino_ratio_loss_without_a_downside_epsilon():
    """A deep-momentum-style position model (an MLP with a tanh position head on 8 daily
    signals, batches of 32 days) trained to maximize the annualized Sortino ratio,
    -sqrt(252) mean(R) / sqrt(mean(min(R, 0)^2)) of the strategy returns R = position x r,
    with no epsilon in the downside deviation. The signals predict the sign of the next
    return well: as the model learns, a batch in which every position has the right sign has
    no losing day, the downside deviation is exactly 0 and mean(R) / 0 = +inf in the loss
    (an epsilon in the downside deviation)."""
    rng = seeded(3309)
    n, dim = 4096, 8
    x = rng.normal(size=(n, dim)).astype("float32")
    v = rng.normal(size=dim) / np.sqrt(dim)
    direction = np.sign(x @ v + 0.05 * rng.normal(size=n))
    r = (0.01 * direction * np.abs(rng.standard_t(4, size=n))).astype("float32").reshape(-1, 1)
    model = mlp([16], name="sortino_mlp", activation="tanh", input_dim=dim, out_activation="tanh")

    def loss_of(model, xb, rb):
        strategy = model(xb, training=True) * rb
        downside = tf.sqrt(tf.reduce_mean(tf.square(tf.minimum(strategy, 0.0))))
        return -math.sqrt(252.0) * tf.reduce_mean(strategy) / downside

    return _adam_custom_loop(model, loss_of, batches(x, r, size=32, epochs=2), 1e-2)


# ---------------------------------------------------------------------------------------------
# what a correct report says
# ---------------------------------------------------------------------------------------------
BLIND33_SCENARIOS: list[Scenario] = [
    Scenario(
        "multi_resolution_stft_loss_with_a_hand_written_magnitude",
        multi_resolution_stft_loss_with_a_hand_written_magnitude,
        "gradient",
        frozenset({"SqrtGrad"}),
        None,
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="a multi-resolution STFT loss whose magnitude is sqrt(re^2 + im^2) without the "
        "reference's clamp, on zero-padded clips with a masked prediction: the frames in the "
        "padding are exactly 0, finite forward, 0 x inf = NaN in sqrt's backward "
        "(https://github.com/speechbrain/speechbrain/issues/181, "
        "https://github.com/speechbrain/speechbrain/pull/184, "
        "https://github.com/KinWaiCheuk/nnAudio/issues/138, "
        "https://github.com/csteinmetz1/auraloss/pull/12, "
        "https://github.com/Trusted-AI/adversarial-robustness-toolbox/issues/1658)",
        blind=True,
    ),
    Scenario(
        "ocr_example_ctc_batch_cost_on_a_logits_head",
        ocr_example_ctc_batch_cost_on_a_logits_head,
        "loss",
        frozenset({"Log"}),
        None,
        "domain_error",
        frozenset({"use_from_logits"}),
        story="the keras.io captcha OCR example's ctc_batch_cost, log(y_pred + epsilon) into "
        "tf.compat.v1.nn.ctc_loss, kept after the softmax was removed from the output Dense: "
        "the log of negative logits is NaN in the loss "
        "(https://github.com/keras-team/keras-io/pull/1788, "
        "https://github.com/keras-team/keras-io/pull/1843, "
        "https://github.com/tensorflow/tensorflow/issues/4248, "
        "https://github.com/SeanNaren/deepspeech.pytorch/issues/194, "
        "https://github.com/gwx314/STARS/issues/9)",
        blind=True,
    ),
    Scenario(
        "mu_law_companding_without_the_sign_and_abs",
        mu_law_companding_without_the_sign_and_abs,
        "activation",
        frozenset({"Log1p"}),
        "mu_law_classifier/mu_law",
        "domain_error",
        frozenset(),
        story="an in-model mu-law compander typed log1p(mu * x) / log1p(mu) instead of "
        "sign(x) log1p(mu |x|) / log1p(mu): samples below -1/255 give log1p of a number below "
        "-1, NaN in the layer "
        "(https://github.com/rwth-i6/i6_experiments/pull/202, "
        "https://github.com/ibab/tensorflow-wavenet/pull/155, "
        "https://github.com/ibab/tensorflow-wavenet/issues/209, "
        "https://github.com/bshall/UniversalVocoding/issues/8)",
        blind=True,
    ),
    Scenario(
        "log_spectrogram_of_a_stft_cast_to_float32",
        log_spectrogram_of_a_stft_cast_to_float32,
        "activation",
        frozenset({"Log"}),
        "kws_cnn/log_spectrogram",
        "domain_error",
        frozenset(),
        story="an in-graph log spectrogram made with tf.cast(stft, tf.float32), which keeps "
        "only the real part, instead of tf.abs: negative real parts and log(x + 1e-6) is NaN "
        "in the front-end layer "
        "(https://github.com/yongxuUSTC/sednn/issues/21, "
        "https://github.com/pykaldi/pykaldi/issues/170, "
        "https://github.com/badripatro/simba/issues/1, "
        "https://github.com/keras-team/keras-io/issues/654)",
        blind=True,
    ),
    Scenario(
        "pcen_by_hand_without_eps_on_digital_silence",
        pcen_by_hand_without_eps_on_digital_silence,
        "activation",
        frozenset({"RealDiv"}),
        "pcen_tagger/pcen",
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="PCEN by hand, E / M**alpha without librosa's eps in (eps + M)**alpha, on "
        "recordings that start with digital silence: the smoother is exactly 0 there and "
        "0 / 0 is NaN in the PCEN layer "
        "(https://github.com/librosa/librosa/issues/615, "
        "https://github.com/librosa/librosa/pull/679, "
        "https://github.com/asteroid-team/asteroid-filterbanks/pull/12, "
        "https://github.com/philipperemy/deep-speaker/issues/5)",
        blind=True,
    ),
    Scenario(
        "ewma_volatility_scaling_started_from_zero_variance",
        ewma_volatility_scaling_started_from_zero_variance,
        "activation",
        frozenset({"RealDiv"}),
        "vol_scaled_forecaster/ewma_vol_scaling",
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="an in-model RiskMetrics EWMA volatility scaling r_t / sigma_t whose variance "
        "recursion starts at 0: the first return of every window is divided by sqrt(0) "
        "(https://github.com/pola-rs/polars/issues/28234, "
        "https://github.com/pandas-dev/pandas/pull/7926, "
        "https://github.com/VividCortex/ewma/pull/1, "
        "https://github.com/cvxgrp/cov_pred_finance/pull/178)",
        blind=True,
    ),
    Scenario(
        "tilt_angle_feature_by_asin_during_motion",
        tilt_angle_feature_by_asin_during_motion,
        "activation",
        frozenset({"Asin"}),
        "har_cnn/tilt_features",
        "domain_error",
        frozenset(),
        story="a HAR model's in-graph tilt feature pitch = asin(a_x / g), valid only for a "
        "static phone: jogging pushes |a_x| above g and asin is NaN in the feature layer; "
        "atan2(a_x, sqrt(a_y^2 + a_z^2)) is the robust form "
        "(https://github.com/react-native-sensors/react-native-sensors/issues/21, "
        "https://github.com/wiiuse/wiiuse/issues/82, "
        "https://github.com/xioTechnologies/x-IMU3-Software/pull/108, "
        "https://github.com/kriswiner/MPU9250/issues/278)",
        blind=True,
    ),
    Scenario(
        "log_wealth_loss_on_an_unbounded_position_head",
        log_wealth_loss_on_an_unbounded_position_head,
        "loss",
        frozenset({"Log1p"}),
        None,
        "domain_error",
        frozenset(),
        story="a Kelly / log-growth loss -mean(log1p(position * r)) on a linear, unbounded "
        "position head: the leverage grows over the steps until a bad day's position x return "
        "is below -1 and log1p is NaN in the loss "
        "(https://github.com/jankrepl/deepdow/pull/98, "
        "https://github.com/ooples/AiDotNet/pull/1982, "
        "https://github.com/llens/CryptoCurrencyTrader/issues/28)",
        blind=True,
    ),
    Scenario(
        "ge2e_loss_with_one_utterance_per_speaker",
        ge2e_loss_with_one_utterance_per_speaker,
        "loss",
        frozenset({"RealDiv"}),
        None,
        None,
        frozenset(),
        story="a GE2E speaker-verification loss whose exclusive centroid (M c - e) / (M - 1) "
        "meets a batch of one utterance per speaker: 0 / 0 in the loss; GE2E needs M >= 2 "
        "(https://github.com/PaddlePaddle/Parakeet/pull/107, "
        "https://github.com/PaddlePaddle/PaddleSpeech/pull/1731, "
        "https://github.com/mycrazycracy/tf-kaldi-speaker/issues/1, "
        "https://github.com/mravanelli/SincNet/issues/54)",
        blind=True,
    ),
    Scenario(
        "sortino_ratio_loss_without_a_downside_epsilon",
        sortino_ratio_loss_without_a_downside_epsilon,
        "loss",
        frozenset({"RealDiv"}),
        None,
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="a Sortino-ratio training loss without an epsilon in the downside deviation: a "
        "batch with no losing day (the model learned the signs) has downside 0 and "
        "mean / 0 = inf in the loss "
        "(https://github.com/coding-kitties/investing-algorithm-framework/pull/600, "
        "https://github.com/shobhit727/trade/issues/39, "
        "https://github.com/quantopian/pyfolio/issues/158, "
        "https://github.com/ArthurBernard/Fynance/pull/88)",
        blind=True,
    ),
]
