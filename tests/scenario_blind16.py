"""A sixteenth set of NaN scenarios from public bug patterns, written BLIND (2026-12-05).

Written without reading nantrace's package, its docs, its README, its benchmarks or its test
modules (only the scenario helpers of ``scenario_cases.py`` (lines 1-120) /
``scenario_patterns.py`` (lines 1-50: ``_custom_step``), the format of ``scenario_blind15.py``,
the taxonomy section of the design notes and the list of names and one-line stories of the
existing scenarios), without git log or diff output of other files, and without importing or
running nantrace: each expectation comes from the bug pattern itself (where a careful ML
engineer would say the first non-finite value appears, why, and the first fix to try), and all
ten were written into this file before anything was run. The patterns come from public reports
found with a search over GitHub issues and pull requests; each story cites them. Fix ids are
only those of the design notes' taxonomy; where none of them is the first fix a careful engineer
would try (the depth labels: resize with nearest / bilinear; the sLSTM: the stabilizer state;
Rectified Adam: the rho_t > 4 threshold), the fix set is left empty.

While choosing the patterns, and before writing, parts of the installed Keras and TensorFlow
sources were read (Keras' dice / tversky / generalized cross-entropy / focal losses, its
AutoContrast layer and Normalization.call; TF's registered gradients of ComplexAbs, Cumprod and
Pow), and two one-line commands were run: one checking whether pandas / scipy are installed
(pandas is not) and one printing the Keras install path; neither touched nantrace or this file.

The only thing checked after writing them is that plain TensorFlow, unwatched, really goes
non-finite on their batches (loss, gradients, weights and optimizer variables, and at which
step), and (with tf.debugging.enable_check_numerics, plain TF, the step compiled as the
scenario runs it) which op first produces the non-finite value, in a throwaway script outside
the repository that stands in plain-TF versions of the loop helpers, records whether each
step's gradients are finite through a patched GradientTape.gradient, and asserts that nantrace
was never imported. No expectation field (kind, op types, layer, cause, fixes) was changed
after that check, and no pattern was dropped; two constructions were changed, as told below.
What the check showed, recorded without changing any field: at step 0, the pointer-generator
(loss inf; Log of the gathered gold probabilities), the monotonic attention (loss NaN; RealDiv
in streaming_asr/mono_attention), the bicubic depth labels (2.1 % of the label pixels negative,
down to -1.29 m, in 96 % of the maps; loss NaN; Log in the loss), the GPS speed layer (36 % of
the windows have a float16 dt of 0; loss NaN; RealDiv in mode_net/kinematics), the sLSTM (loss
NaN; the first Mul of the cell, f * c, in pump_slstm/slstm/while/slstm_cell), the focal loss
(loss NaN; Pow in binary_focal_crossentropy) and the bilinear CNN after the change below (loss
finite, ~2.22, in the compiled and the eager step; gradients NaN, then the conv kernels, biases
and their Adam slots; the first op is SqrtGrad in glyph_bcnn/bilinear_pool's backward); the
entropy feature is NaN in 98.5 % of the rows: the compiled loss of step 0 is finite (0.706,
grappler's fused MatMul + BiasAdd + ReLU maps the NaN rows to 0) while the eager loss is NaN,
the gradient of hidden0's kernel is NaN and the update writes NaN into it and its Adam slots;
check_numerics names hidden0's MatMul, the first op on the batch. Rectified Adam goes
non-finite at step 2 (t = 3): losses 5.47, 5.22, 7.28, the forward pass and gradients finite,
every weight NaN after that update, first op the scalar Sqrt of the rectification term (t = 2
stayed finite). The input Normalization with invert=True goes non-finite at step 1: loss
4.5e20 at step 0, inf at step 1, first op the MatMul of credit_mlp/hidden1.
Constructions changed after the first check (expectation fields untouched, the docstrings and
stories rewritten to match): the pointer-generator was first trained with the paper's
Adagrad(0.15, initial accumulator 0.1); with the NaN gradient of the Embedding, Keras'
Adagrad (and RMSprop, tried in a side probe) raise InvalidArgumentError in their sparse update
('indices[0] = 4000 is not in [0, 897)') instead of writing NaN, so plain TF stopped with an
error; it is now trained by Adam(1e-3), which writes NaN like SGD. The bilinear CNN first used
the paper's signed square root sign(x) * sqrt(|x|) on stroke glyphs only and stayed finite for
all 32 steps: the glyphs gave no exactly-zero pooled entry (0 of 8192 in a batch, no channel
silent on a whole image), and TF's SqrtGrad returns 0 where its incoming gradient is 0, so the
signed form's gradient at 0 is 0, not NaN; it now writes the root as tf.sqrt (as a public
implementation does, without its 1e-5) and adds ~10 % blank crops as a ninth class, and it was
renamed from bilinear_pooling_signed_sqrt_of_exact_zeros.
Slips: the bilinear scenario's first construction rested on a wrong belief about TF's SqrtGrad
(found by the check, see above); after the check, two side probes outside the repository (Keras
optimizers on a NaN sparse gradient; the zero count of the pooled matrix and the signed root's
gradient at 0) and a short script counting the negative labels / NaN rows / zero dt quoted here
were run, all in plain TF. Two scenarios have cause missing_epsilon (the monotonic attention,
the bilinear pooling). After the check, the module was imported once through the real helpers
(which import nantrace) only to confirm that it loads and lists ten scenarios; no scenario was
run under nantrace.
Caveats a reader should know: three scenarios have cause domain_error in three different
places (negative but finite depth labels under a log in the loss; a negative base to a
fractional power inside a Keras loss; a negative product under the square root of an
optimizer written by hand); the GPS layer is given float16_range for a precision failure
(float16 rounds elapsed seconds past 2048 to even numbers, dt becomes exactly 0) rather than a
range one, and not missing_epsilon, since an epsilon in dt would not help; the entropy feature's
fix id is clean_input, the taxonomy's data fix, while the first fix an engineer makes is in the
pipeline (xlogy), as blind14 and blind15 did; the input Normalization overflow happens after one
SGD update (kind matmul_overflow at step 1, cause unscaled_input; a reader could argue for a
learning-rate cause); the sLSTM's NaN shares the family of recurrent explosions with existing
scenarios, through exponential gates rather than a recurrent weight.

This set favours situations ordinary Keras users meet: See et al.'s pointer-generator in a
custom loop, Raffel et al.'s monotonic attention in its parallel form, depth labels resized
with bicubic interpolation, a speed layer computed inside a mixed_float16 model, a basket-entropy
feature computed with numpy, an sLSTM cell from the xLSTM paper without its stabilizer, Rectified
Adam written by hand, Keras' BinaryFocalCrossentropy on logits with gamma = 1.5, a bilinear CNN's
square-root normalization on blank crops, and the input Normalization layer built with
invert=True. Each story cites the public report(s) the pattern comes from. Layer names are set
explicitly only so the expectations can name them.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from scenario_cases import (
    Scenario,
    batches,
    dtype_policy,
    mlp,
    run_loop,
    seeded,
    standard_step,
)
from scenario_patterns import _custom_step


# ---------------------------------------------------------------------------------------------
# 1. a pointer-generator whose port gives unreachable target OOVs an extended id instead of UNK
# ---------------------------------------------------------------------------------------------
class OovsToUnk(keras.layers.Layer):
    """Article / summary ids of the extended vocabulary mapped back to UNK (id 1) for the
    embedding, as See et al. feed temporary OOV ids to the network."""

    def __init__(self, vocab_size, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size

    def call(self, ids):
        return tf.where(ids >= self.vocab_size, tf.ones_like(ids), ids)


class CopyDistribution(keras.layers.Layer):
    """See et al.'s final distribution over the extended vocabulary: p_gen times the vocabulary
    distribution (zero on the article's OOV slots) plus (1 - p_gen) times the attention
    scattered onto the article's ids."""

    def __init__(self, extended_size, **kwargs):
        super().__init__(**kwargs)
        self.extended_size = extended_size

    def call(self, inputs):
        vocab_dist, attention, p_gen, source_ids = inputs
        pad = self.extended_size - vocab_dist.shape[-1]
        vocab_extended = tf.pad(vocab_dist, [[0, 0], [0, 0], [0, pad]])
        copy_matrix = tf.one_hot(source_ids, self.extended_size, dtype=attention.dtype)
        copy_dist = tf.matmul(attention, copy_matrix)
        return p_gen * vocab_extended + (1.0 - p_gen) * copy_dist

    def compute_output_shape(self, input_shape):
        vocab_shape = input_shape[0]
        return (vocab_shape[0], vocab_shape[1], self.extended_size)


def pointer_generator_target_oov_absent_from_the_source():
    """Abstractive summarizer with See et al.'s pointer-generator (a GRU encoder over 20-token
    articles, a GRU decoder over 8-token summaries with dot-product attention, a generation
    probability p_gen, and the final distribution p_gen P_vocab + (1 - p_gen) attention over
    the article's extended ids), trained with the paper's loss -log P(gold word) (by Adam: the
    paper's Adagrad was replaced, see the module docstring). In the reference data pipeline a
    summary word that is out of vocabulary AND absent from the article is mapped to UNK; this
    port gives every summary OOV a temporary extended id, so a rare summary word the article
    does not contain gets an id (50 + the article's OOV count) on which both the vocabulary
    distribution and the copy distribution are exactly 0. Its gold probability is 0 and
    -log(0) = inf in the loss at the first step (map such words to UNK, or an epsilon in the
    log)."""
    rng = seeded(1600)
    vocab, max_oovs, src_len, tgt_len, units = 50, 4, 20, 8, 32
    extended = vocab + max_oovs
    n = 512
    source = rng.integers(2, vocab, size=(n, src_len))
    target = rng.integers(2, vocab, size=(n, tgt_len))
    for i in range(n):
        n_oovs = int(rng.integers(0, 3))
        source[i, rng.choice(src_len, size=n_oovs, replace=False)] = vocab + np.arange(n_oovs)
        copied = rng.random(tgt_len) < 0.5
        target[i, copied] = source[i, rng.integers(0, src_len, size=int(copied.sum()))]
        if rng.random() < 0.3:
            target[i, rng.integers(0, tgt_len)] = vocab + n_oovs
    decoder_in = np.concatenate([np.zeros((n, 1), dtype=target.dtype), target[:, :-1]], axis=1)

    src_in = keras.Input((src_len,), dtype="int32", name="article_ids")
    dec_in = keras.Input((tgt_len,), dtype="int32", name="summary_inputs")
    to_unk = OovsToUnk(vocab, name="oovs_to_unk")
    embedding = keras.layers.Embedding(vocab, 32, name="embedding")
    src_emb = embedding(to_unk(src_in))
    dec_emb = embedding(to_unk(dec_in))
    encoded = keras.layers.Bidirectional(
        keras.layers.GRU(units, return_sequences=True), name="encoder"
    )(src_emb)
    decoded = keras.layers.GRU(2 * units, return_sequences=True, name="decoder")(dec_emb)
    context, attention = keras.layers.Attention(name="attention")(
        [decoded, encoded], return_attention_scores=True
    )
    features = keras.layers.Concatenate(name="decoder_features")([decoded, context])
    vocab_dist = keras.layers.Dense(vocab, activation="softmax", name="vocab_dist")(features)
    p_gen = keras.layers.Dense(1, activation="sigmoid", name="p_gen")(
        keras.layers.Concatenate(name="p_gen_features")([features, dec_emb])
    )
    final = CopyDistribution(extended, name="final_dist")([vocab_dist, attention, p_gen, src_in])
    model = keras.Model([src_in, dec_in], final, name="pointer_generator")

    def pointer_nll(model, articles, summary_inputs, summary):
        final_dist = model([articles, summary_inputs], training=True)
        gold_probs = tf.gather(final_dist, summary, axis=2, batch_dims=2)
        return tf.reduce_mean(-tf.math.log(gold_probs))

    optimizer = keras.optimizers.Adam(1e-3)
    data = [
        (
            tf.constant(source[i : i + 32], tf.int32),
            tf.constant(decoder_in[i : i + 32], tf.int32),
            tf.constant(target[i : i + 32], tf.int32),
        )
        for _ in range(4)
        for i in range(0, n, 32)
    ]
    return run_loop(
        _custom_step(model, optimizer, pointer_nll), data, model=model, optimizer=optimizer
    )


# ---------------------------------------------------------------------------------------------
# 2. monotonic attention in its parallel form, dividing by an exclusive cumprod that underflows
# ---------------------------------------------------------------------------------------------
class MonotonicAttention(keras.layers.Layer):
    """Raffel et al.'s hard-monotonic attention in its parallel (training-time) form:
    p = sigmoid(v . tanh(W q + U m) + r) and, per output step,
    alpha_i = p_i * cumprod_excl(1 - p_i) * cumsum(alpha_{i-1} / cumprod_excl(1 - p_i))."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        query_shape, memory_shape = input_shape
        self.w_query = self.add_weight(
            shape=(query_shape[-1], self.units), initializer="glorot_uniform", name="w_query"
        )
        self.w_memory = self.add_weight(
            shape=(memory_shape[-1], self.units), initializer="glorot_uniform", name="w_memory"
        )
        self.v = self.add_weight(shape=(self.units,), initializer="glorot_uniform", name="v")
        self.energy_bias = self.add_weight(shape=(), initializer="zeros", name="energy_bias")

    def call(self, inputs):
        queries, memory = inputs
        keys = tf.einsum("bsd,du->bsu", memory, self.w_memory)
        projected = tf.einsum("btd,du->btu", queries, self.w_query)
        energies = tf.einsum(
            "btsu,u->bts", tf.tanh(projected[:, :, None, :] + keys[:, None, :, :]), self.v
        )
        p_choose = tf.sigmoid(energies + self.energy_bias)
        previous = tf.one_hot(
            tf.zeros([tf.shape(memory)[0]], tf.int32), memory.shape[1], dtype=p_choose.dtype
        )
        contexts = []
        for i in range(queries.shape[1]):
            p = p_choose[:, i]
            cumprod_1mp = tf.math.cumprod(1.0 - p, axis=1, exclusive=True)
            attention = p * cumprod_1mp * tf.cumsum(previous / cumprod_1mp, axis=1)
            contexts.append(tf.einsum("bs,bsd->bd", attention, memory))
            previous = attention
        return tf.stack(contexts, axis=1)

    def compute_output_shape(self, input_shape):
        query_shape, memory_shape = input_shape
        return (query_shape[0], query_shape[1], memory_shape[-1])


def monotonic_attention_parallel_form_over_an_underflowed_cumprod():
    """Streaming keyword recognizer (200 acoustic frames of 8 features, a Conv1D encoder, a GRU
    decoder over 6 output tokens) with Raffel et al.'s monotonic attention written from the
    paper's parallel training-time recurrence, alpha_i = p_i cumprod(1 - p_i) cumsum(alpha_{i-1}
    / cumprod(1 - p_i)), with the energy bias r left at 0 (the paper starts it at -4). With
    p ~ 0.5 the exclusive cumulative product of (1 - p) over 200 frames underflows float32 to
    exactly 0 after ~130 frames, and the division alpha_{i-1} / cumprod is 0 / 0 = NaN there at
    the first output step of the first forward pass, inside the attention layer (TF's own
    implementation clips the cumprod to [1e-10, 1] before dividing)."""
    rng = seeded(1601)
    n, frames, feats, steps, tokens = 512, 200, 8, 6, 10
    x = rng.normal(size=(n, frames, feats)).astype("float32")
    segments = x[:, : (frames // steps) * steps, :4].reshape(n, steps, -1, 4).mean(axis=2)
    labels = np.argmax(np.concatenate([segments, -segments], axis=-1), axis=-1) % tokens
    labels = labels.astype("int32")
    decoder_in = np.concatenate([np.full((n, 1), tokens), labels[:, :-1]], axis=1).astype("int32")

    frames_in = keras.Input((frames, feats), name="frames")
    tokens_in = keras.Input((steps,), dtype="int32", name="previous_tokens")
    memory = keras.layers.Conv1D(32, 3, padding="same", activation="relu", name="encoder")(
        frames_in
    )
    queries = keras.layers.GRU(32, return_sequences=True, name="decoder")(
        keras.layers.Embedding(tokens + 1, 16, name="token_embedding")(tokens_in)
    )
    context = MonotonicAttention(32, name="mono_attention")([queries, memory])
    logits = keras.layers.Dense(tokens, name="token_logits")(
        keras.layers.Concatenate(name="decoder_features")([queries, context])
    )
    model = keras.Model([frames_in, tokens_in], logits, name="streaming_asr")
    data = [
        (
            (tf.constant(x[i : i + 32]), tf.constant(decoder_in[i : i + 32])),
            tf.constant(labels[i : i + 32]),
        )
        for i in range(0, n, 32)
    ]
    return run_loop(
        standard_step(
            model,
            keras.optimizers.Adam(1e-3),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        ),
        data,
    )


# ---------------------------------------------------------------------------------------------
# 3. depth labels resized with bicubic interpolation, under Eigen's scale-invariant log loss
# ---------------------------------------------------------------------------------------------
def bicubic_resized_depth_labels_under_a_scale_invariant_log_loss():
    """Monocular depth for a warehouse robot (64x64 RGB frames; a small CNN that predicts log
    depth at half resolution) trained with Eigen et al.'s scale-invariant log loss,
    d = log(pred) - log(gt), mean(d^2) - 0.5 mean(d)^2. The depth maps hold pallets and forks a
    few tens of centimetres from the camera in front of racks 8-12 m away, and the labels were
    brought to the output resolution with tf.image.resize(method='bicubic'): the cubic kernel's
    negative lobes undershoot at every near/far edge, so pixels next to an edge come out as
    negative depths (-0.3 m for 0.3 m next to 10 m). The batch is finite; log of those label
    pixels is NaN in the loss at the first step (resize depth with nearest / bilinear, or clip
    the labels to the sensor's minimum range)."""
    rng = seeded(1602)
    n, full, out = 256, 64, 32
    depth = np.empty((n, full, full, 1), dtype="float32")
    images = np.empty((n, full, full, 3), dtype="float32")
    for i in range(n):
        d = np.full((full, full), rng.uniform(8.0, 12.0))
        d += np.linspace(-0.5, 0.5, full)[None, :] * rng.uniform(0.0, 2.0)
        for _ in range(int(rng.integers(1, 4))):
            h, w = rng.integers(8, 24, size=2)
            r, c = rng.integers(0, full - h), rng.integers(0, full - w)
            d[r : r + h, c : c + w] = rng.uniform(0.2, 0.6)
        depth[i, :, :, 0] = d
        shade = 1.0 - d / 12.0
        colour = shade[..., None] * rng.uniform(0.6, 1.0, size=3)
        images[i] = np.clip(colour + 0.05 * rng.normal(size=(full, full, 3)), 0.0, 1.0)
    labels = tf.image.resize(depth, (out, out), method="bicubic").numpy()
    model = keras.Sequential(
        [
            keras.Input((full, full, 3)),
            keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu", name="conv0"),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1"),
            keras.layers.Conv2D(1, 1, name="log_depth"),
        ],
        name="depth_net",
    )

    def scale_invariant_log_loss(y_true, y_pred):
        d = y_pred - tf.math.log(y_true)
        return tf.reduce_mean(tf.square(d)) - 0.5 * tf.square(tf.reduce_mean(d))

    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), scale_invariant_log_loss),
        batches(images, labels, size=16, epochs=2),
    )


# ---------------------------------------------------------------------------------------------
# 4. a speed layer over elapsed seconds under mixed_float16: consecutive fixes share a timestamp
# ---------------------------------------------------------------------------------------------
class Kinematics(keras.layers.Layer):
    """Speed and acceleration from the raw GPS log (elapsed seconds since the trip started,
    cumulative metres) by finite differences, inside the model so that the served model takes
    the log as it is; it runs in the policy's compute dtype."""

    def call(self, log):
        elapsed, distance = log[..., 0], log[..., 1]
        dt = elapsed[:, 1:] - elapsed[:, :-1]
        speed = (distance[:, 1:] - distance[:, :-1]) / dt
        accel = (speed[:, 1:] - speed[:, :-1]) / dt[:, 1:]
        return tf.stack([speed[:, 1:], accel], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1] - 2, 2)


def gps_speed_layer_on_float16_elapsed_seconds():
    """Transport-mode classifier (walk / bike / bus / car) on 64-fix windows of 1 Hz GPS logs, as
    in GeoLife, whose first layer computes speed = d(distance) / d(elapsed seconds) and the
    acceleration inside the model; trained under mixed_float16 with the logits in float32 as the
    mixed-precision guide shows. The layer inherits the float16 compute dtype, and float16 holds
    integers exactly only up to 2048: for windows more than ~34 minutes into a trip the elapsed
    seconds are rounded to even numbers, consecutive fixes get the same timestamp, dt is exactly
    0 and the speed is x / 0 = inf or 0 / 0 = NaN (the cumulative metres are rounded too) in the
    layer's division at the first forward pass (keep that layer in float32, or feed it per-fix
    differences)."""

    def build():
        rng = seeded(1603)
        n, steps = 1024, 64
        modes = rng.integers(0, 4, size=n)
        cruise = np.array([1.4, 4.5, 7.0, 11.0])[modes]
        start = rng.integers(0, 3000, size=n).astype("float64")
        elapsed = start[:, None] + np.arange(steps)[None, :]
        speed = cruise[:, None] * np.clip(1.0 + 0.2 * rng.normal(size=(n, steps)), 0.0, None)
        stop_and_go = (modes == 2)[:, None] & (np.sin(elapsed / 20.0) > 0.6)
        speed = np.where(stop_and_go, 0.0, speed)
        distance = (cruise * start * rng.uniform(0.8, 1.0, size=n))[:, None] + np.cumsum(
            speed, axis=1
        )
        x = np.stack([elapsed, distance], axis=-1).astype("float32")
        y = modes.astype("int32")
        inputs = keras.Input((steps, 2), name="gps_log")
        h = Kinematics(name="kinematics")(inputs)
        h = keras.layers.Conv1D(16, 5, padding="same", activation="relu", name="conv0")(h)
        h = keras.layers.GlobalAveragePooling1D(name="gap")(h)
        logits = keras.layers.Dense(4, dtype="float32", name="mode_logits")(h)
        model = keras.Model(inputs, logits, name="mode_net")
        return run_loop(
            standard_step(
                model,
                keras.optimizers.Adam(1e-3),
                keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            ),
            batches(x, y, size=32),
        )

    with dtype_policy("mixed_float16"):
        return build()


# ---------------------------------------------------------------------------------------------
# 5. a Shannon-entropy feature computed as -sum(p log p) over categories a customer never used
# ---------------------------------------------------------------------------------------------
def category_entropy_feature_with_unused_categories():
    """Churn classifier (an MLP, binary cross-entropy from logits) on customer features that
    include the Shannon entropy of each customer's spend across 8 product categories, 'how
    spread out is their basket', computed in numpy as -(p * np.log(p)).sum(axis=1). Most
    customers never bought in some category: p = 0 there, np.log(0) = -inf, 0 * -inf = NaN
    (numpy only warns), and the entropy column is NaN for nearly every row of every batch before
    any op runs (scipy.stats.entropy / xlogy define 0 log 0 = 0)."""
    rng = seeded(1604)
    n, cats = 4096, 8
    active = rng.random((n, cats)) < rng.uniform(0.15, 0.7, size=(n, 1))
    active[np.arange(n), rng.integers(0, cats, size=n)] = True
    spend = np.where(active, rng.gamma(2.0, 30.0, size=(n, cats)), 0.0)
    total = spend.sum(axis=1)
    share = spend / total[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -(share * np.log(share)).sum(axis=1)
    true_entropy = -np.where(share > 0, share * np.log(np.where(share > 0, share, 1.0)), 0.0).sum(1)
    tenure = rng.uniform(1.0, 120.0, size=n)
    visits = rng.poisson(12, size=n).astype("float64")
    score = -1.2 * true_entropy - 0.02 * tenure + 0.05 * visits + 1.0 + 0.5 * rng.normal(size=n)
    y = (score > np.median(score)).astype("float32").reshape(-1, 1)

    def standardize(column):
        return (column - column.mean()) / column.std()

    x = np.stack(
        [
            standardize(np.log1p(total)),
            active.sum(axis=1).astype("float64"),
            entropy,
            standardize(tenure),
            standardize(visits),
        ],
        axis=1,
    ).astype("float32")
    model = mlp([32, 16], name="churn_mlp", input_dim=5)
    return run_loop(
        standard_step(
            model,
            keras.optimizers.Adam(1e-3),
            keras.losses.BinaryCrossentropy(from_logits=True),
        ),
        batches(x, y, size=64),
    )


# ---------------------------------------------------------------------------------------------
# 6. an sLSTM (xLSTM) cell with exponential gates but without the stabilizer state
# ---------------------------------------------------------------------------------------------
class SLSTMCell(keras.layers.Layer):
    """Beck et al.'s sLSTM: exponential input and forget gates with a normalizer state,
    c_t = f c + i z, n_t = f n + i, h = o c / n, written WITHOUT the stabilizer state
    m_t = max(log f + m_{t-1}, log i) that the paper uses to keep exp(.) in range."""

    def __init__(self, units, forget_bias=3.0, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.forget_bias = forget_bias
        self.state_size = [units, units, units]
        self.output_size = units

    def build(self, input_shape):
        dim, u = input_shape[-1], self.units
        self.kernel = self.add_weight(
            shape=(dim, 4 * u), initializer="glorot_uniform", name="kernel"
        )
        self.recurrent_kernel = self.add_weight(
            shape=(u, 4 * u), initializer="orthogonal", name="recurrent_kernel"
        )
        start = np.zeros(4 * u, dtype="float32")
        start[2 * u : 3 * u] = self.forget_bias

        def bias_init(shape, dtype=None):
            return tf.constant(start, dtype=dtype or "float32")

        self.bias = self.add_weight(shape=(4 * u,), initializer=bias_init, name="bias")

    def call(self, inputs, states, training=False):
        h, c, n = states[0], states[1], states[2]
        gates = tf.matmul(inputs, self.kernel) + tf.matmul(h, self.recurrent_kernel) + self.bias
        z_pre, i_pre, f_pre, o_pre = tf.split(gates, 4, axis=-1)
        z = tf.tanh(z_pre)
        i = tf.exp(i_pre)
        f = tf.exp(f_pre)
        o = tf.sigmoid(o_pre)
        c = f * c + i * z
        n = f * n + i
        h = o * c / n
        return h, [h, c, n]


def slstm_exponential_gates_without_the_stabilizer_state():
    """Pump-failure regressor on 48-step windows of 6 standardized vibration channels with an
    sLSTM layer written from the xLSTM paper's gate equations, exponential input and forget
    gates and the normalizer n_t = f n + i, but without the stabilizer state m_t that the paper
    adds 'to avoid overflow'; the forget-gate bias starts at +3 so that the gate starts open,
    as for sigmoid forget gates. Then f = exp(~3) ~ 20 at every step: the cell and normalizer
    states are multiplied by ~20 per time step and the normalizer's update f * n overflows
    float32 about 30 steps into the first forward pass, inside the recurrent layer; h = c / n is
    then inf / inf = NaN (add the stabilizer: keep log-space gates with m_t)."""
    rng = seeded(1605)
    n, steps, channels = 1024, 48, 6
    x = rng.normal(size=(n, steps, channels)).astype("float32")
    wear = np.cumsum(0.1 * x[:, :, 0] ** 2 + 0.05 * np.abs(x[:, :, 1]), axis=1)[:, -1]
    y = ((wear - wear.mean()) / wear.std()).astype("float32").reshape(-1, 1)
    model = keras.Sequential(
        [
            keras.Input((steps, channels)),
            keras.layers.RNN(SLSTMCell(32, name="slstm_cell"), name="slstm"),
            keras.layers.Dense(1, name="remaining_life"),
        ],
        name="pump_slstm",
    )
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        batches(x, y, size=32),
    )


# ---------------------------------------------------------------------------------------------
# 7. Rectified Adam written by hand without the variance-tractability threshold rho_t > 4
# ---------------------------------------------------------------------------------------------
def rectified_adam_by_hand_without_the_tractability_threshold():
    """Tabular regressor (an MLP on standardized features, MSE) trained in a custom loop by
    Rectified Adam written by hand from the paper's formulas: rho_inf = 2 / (1 - beta_2) - 1,
    rho_t = rho_inf - 2 t beta_2^t / (1 - beta_2^t) and the rectification
    r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t)), applied at
    every step. The paper (and every library) applies it only when rho_t > 4 (5 in the
    reference code) and takes an un-adapted momentum step before; with beta_2 = 0.999, rho_t is
    ~1, 2, 3, 4 at t = 1..4, so at t = 3 (and possibly t = 2) the product under the square root
    is negative: r_t = NaN and the update writes NaN into every weight, while the forward pass
    and the gradients are finite."""
    rng = seeded(1606)
    n, dim = 2048, 10
    x = rng.normal(size=(n, dim)).astype("float32")
    w = rng.normal(size=(dim, 1))
    y = (x @ w + 0.3 * np.sin(3.0 * x[:, :1]) + 0.1 * rng.normal(size=(n, 1))).astype("float32")
    model = mlp([64, 64], name="radam_mlp", input_dim=dim)
    lr, beta_1, beta_2, eps = 1e-3, 0.9, 0.999, 1e-8
    rho_inf = 2.0 / (1.0 - beta_2) - 1.0
    slots = [
        (
            tf.Variable(np.zeros(v.shape, dtype="float32"), trainable=False),
            tf.Variable(np.zeros(v.shape, dtype="float32"), trainable=False),
        )
        for v in model.trainable_variables
    ]
    step = tf.Variable(0.0, trainable=False)
    mse = keras.losses.MeanSquaredError()

    def train_step(xb, yb):
        with tf.GradientTape() as tape:
            loss = mse(yb, model(xb, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        t = step + 1.0
        step.assign(t)
        b1t, b2t = tf.pow(beta_1, t), tf.pow(beta_2, t)
        rho_t = rho_inf - 2.0 * t * b2t / (1.0 - b2t)
        rect = tf.sqrt(
            (rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)
        )
        for var, g, (m, v) in zip(model.trainable_variables, grads, slots, strict=True):
            m.assign(beta_1 * m + (1.0 - beta_1) * g)
            v.assign(beta_2 * v + (1.0 - beta_2) * tf.square(g))
            m_hat = m / (1.0 - b1t)
            v_hat = tf.sqrt(v / (1.0 - b2t))
            var.assign_sub(lr * rect * m_hat / (v_hat + eps))
        return loss

    train_step.model = model
    return run_loop(train_step, batches(x, y, size=64), model=model)


# ---------------------------------------------------------------------------------------------
# 8. Keras' BinaryFocalCrossentropy on a logit head, from_logits left False, gamma = 1.5
# ---------------------------------------------------------------------------------------------
def binary_focal_crossentropy_on_logits_with_gamma_one_and_a_half():
    """Rare-defect detector (an MLP on 16 standardized sensor features, ~8 % positives) whose head
    is a plain Dense(1), i.e. logits, trained with keras.losses.BinaryFocalCrossentropy(
    apply_class_balancing=True, alpha=0.25, gamma=1.5), EfficientDet's gamma, with
    from_logits left at its default False. Keras clips y_pred for the cross-entropy term but
    computes the focal factor (1 - p_t) ** gamma from the raw y_pred: for a negative example
    p_t = 1 - logit, so 1 - p_t is the logit itself, negative for about half of them, and a
    negative number to the power 1.5 is NaN in the loss at the first step (with the default
    gamma = 2 the same mistake trains silently on a wrong loss)."""
    rng = seeded(1607)
    n, dim = 4096, 16
    x = rng.normal(size=(n, dim)).astype("float32")
    logit = 1.5 * x[:, 0] - x[:, 1] + 0.5 * x[:, 2] * x[:, 3] - 3.0
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype("float32").reshape(-1, 1)
    model = keras.Sequential(
        [
            keras.Input((dim,)),
            keras.layers.Dense(32, activation="relu", name="hidden0"),
            keras.layers.Dense(32, activation="relu", name="hidden1"),
            keras.layers.Dense(1, name="defect_logit"),
        ],
        name="defect_detector",
    )
    loss = keras.losses.BinaryFocalCrossentropy(apply_class_balancing=True, alpha=0.25, gamma=1.5)
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), loss),
        batches(x, y, size=64, epochs=2),
    )


# ---------------------------------------------------------------------------------------------
# 9. bilinear pooling with the element-wise square root and no epsilon, on crops that are blank
# ---------------------------------------------------------------------------------------------
def _glyphs_on_black(rng, n, side, classes, blank_rate):
    """Images that are exactly 0 except for one stroke of 1s whose angle gives the class; a
    share ``blank_rate`` of them are empty cells, all 0, with the extra class ``classes``."""
    images = np.zeros((n, side, side), dtype="float32")
    labels = rng.integers(0, classes, size=n)
    blank = rng.random(n) < blank_rate
    centre = (side - 1) / 2.0
    for i in range(n):
        if blank[i]:
            labels[i] = classes
            continue
        angle = np.pi * labels[i] / classes + 0.05 * rng.normal()
        for s in np.linspace(-side / 2.5, side / 2.5, 4 * side):
            r = int(round(centre + s * np.sin(angle)))
            c = int(round(centre + s * np.cos(angle)))
            images[i, r, c] = 1.0
    return images[..., None], labels.astype("int32")


class BilinearPooling(keras.layers.Layer):
    """Lin et al.'s bilinear pooling: the average outer product of the feature vectors over all
    positions, then the square root (the signed square root of the paper, written as a plain
    sqrt because ReLU features make the pooled matrix non-negative) and l2 normalization."""

    def call(self, features):
        positions = tf.cast(tf.shape(features)[1] * tf.shape(features)[2], features.dtype)
        gram = tf.einsum("bhwc,bhwd->bcd", features, features) / positions
        flat = tf.reshape(gram, [tf.shape(features)[0], features.shape[-1] ** 2])
        return tf.math.l2_normalize(tf.sqrt(flat), axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1] ** 2)


def bilinear_pooling_sqrt_of_exact_zeros():
    """Fine-grained glyph classifier (8 stroke angles 22.5 degrees apart on a black background,
    plus the empty cells of the sheet, ~10 % of the crops, as a 'blank' class) with a bilinear
    CNN: two ReLU convolutions, bilinear pooling (the mean outer product of the channel vectors
    over all positions), then the paper's square-root normalization and l2 normalization; the
    pooled matrix of ReLU features is non-negative, so the signed square root is written as
    tf.sqrt(x), as in a common public implementation, but without the 1e-5 that implementation
    adds under the root. For a blank crop every feature is exactly 0 (zero biases at the
    start), so every pooled entry is 0: the forward pass is finite (sqrt(0) = 0, and
    l2_normalize guards the zero vector), but the derivative of sqrt at 0 is infinite, and in
    the backward pass of the first step the gradient of those entries is inf, times the zero
    features in the bilinear product NaN, which reaches every convolution kernel
    (sqrt(x + 1e-5) as that implementation does)."""
    rng = seeded(1608)
    n, side, classes = 1024, 24, 8
    images, labels = _glyphs_on_black(rng, n, side, classes, blank_rate=0.1)
    model = keras.Sequential(
        [
            keras.Input((side, side, 1)),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv0"),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1"),
            BilinearPooling(name="bilinear_pool"),
            keras.layers.Dense(classes + 1, name="logits"),
        ],
        name="glyph_bcnn",
    )
    return run_loop(
        standard_step(
            model,
            keras.optimizers.Adam(1e-3),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        ),
        batches(images, labels, size=32),
    )


# ---------------------------------------------------------------------------------------------
# 10. the input Normalization layer built with invert=True, copied from the target's line
# ---------------------------------------------------------------------------------------------
def input_normalization_layer_built_with_invert_true():
    """Credit expected-loss regressor (an MLP, MSE on a standardized target, SGD with momentum as
    in the regression tutorial it followed) on raw applicant features in dollars (income, loan
    amount, property value) plus age and credit score. The notebook builds two Normalization
    layers, one adapted on the features for the input and one with invert=True to turn
    standardized predictions back into dollars, and the input one was copied from the second
    line with invert=True kept: instead of (x - mean) / std it computes mean + x * std, so the
    network sees ~1e10-6e10 instead of ~1. The first step is finite (loss ~1e21, gradients
    ~1e21), the first SGD update moves the kernels by ~1e19, and at the next forward pass the
    hidden layers' matmuls of 1e29-scale activations with 1e19-scale kernels overflow float32
    (adapt the input layer without invert)."""
    rng = seeded(1609)
    n = 2048
    income = rng.lognormal(np.log(60_000.0), 0.5, size=n)
    loan = rng.lognormal(np.log(200_000.0), 0.6, size=n)
    property_value = loan * rng.uniform(1.1, 2.0, size=n)
    age = rng.uniform(21.0, 75.0, size=n)
    credit = rng.normal(680.0, 60.0, size=n)
    default_prob = 1.0 / (1.0 + np.exp((credit - 600.0) / 40.0 + 0.5 * income / 60_000.0))
    expected_loss = default_prob * (loan - 0.5 * property_value).clip(min=0.0) + 0.01 * loan
    target = (expected_loss - expected_loss.mean()) / expected_loss.std()
    x = np.stack([income, loan, property_value, age, credit], axis=1).astype("float32")
    y = target.astype("float32").reshape(-1, 1)
    feature_norm = keras.layers.Normalization(invert=True, name="feature_norm")
    feature_norm.adapt(x)
    model = keras.Sequential(
        [
            keras.Input((5,)),
            feature_norm,
            keras.layers.Dense(32, activation="relu", name="hidden0"),
            keras.layers.Dense(16, activation="relu", name="hidden1"),
            keras.layers.Dense(1, name="expected_loss"),
        ],
        name="credit_mlp",
    )
    return run_loop(
        standard_step(
            model,
            keras.optimizers.SGD(learning_rate=1e-2, momentum=0.9),
            keras.losses.MeanSquaredError(),
        ),
        batches(x, y, size=64),
    )


# ---------------------------------------------------------------------------------------------
# what a correct report says
# ---------------------------------------------------------------------------------------------
BLIND16_SCENARIOS: list[Scenario] = [
    Scenario(
        "pointer_generator_target_oov_absent_from_the_source",
        pointer_generator_target_oov_absent_from_the_source,
        "loss",
        frozenset({"Log"}),
        None,
        "unstable_loss",
        frozenset({"add_epsilon"}),
        story="See et al.'s pointer-generator ported with every summary OOV given a temporary "
        "extended id (the reference maps OOVs absent from the article to UNK): such a word has "
        "probability exactly 0 in both the vocabulary and the copy distribution, and -log(0) = inf "
        "in the loss (https://github.com/abisee/pointer-generator/issues/4, "
        "https://github.com/abisee/pointer-generator/issues/5, "
        "https://github.com/yym6472/ms_pointer_network/issues/1, "
        "https://arxiv.org/abs/1704.04368)",
        blind=True,
    ),
    Scenario(
        "monotonic_attention_parallel_form_over_an_underflowed_cumprod",
        monotonic_attention_parallel_form_over_an_underflowed_cumprod,
        "activation",
        frozenset({"RealDiv"}),
        "streaming_asr/mono_attention",
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="Raffel et al.'s monotonic attention in its parallel form, alpha_{i-1} / "
        "cumprod(1 - p), over 200 frames with p ~ 0.5: the cumprod underflows to exactly 0 and "
        "the division is 0 / 0 inside the attention layer; clip the cumprod as TF's "
        "implementation does (https://github.com/j-min/MoChA-pytorch/issues/4, "
        "https://github.com/j-min/MoChA-pytorch/issues/2, "
        "https://github.com/r9y9/tacotron_pytorch/issues/8, "
        "https://arxiv.org/abs/1704.00784)",
        blind=True,
    ),
    Scenario(
        "bicubic_resized_depth_labels_under_a_scale_invariant_log_loss",
        bicubic_resized_depth_labels_under_a_scale_invariant_log_loss,
        "loss",
        frozenset({"Log"}),
        None,
        "domain_error",
        frozenset(),
        story="depth labels brought to the output resolution with bicubic resizing: the cubic "
        "kernel undershoots at near/far edges (0.3 m next to 10 m), the labels hold negative "
        "depths and log(gt) in Eigen's scale-invariant loss is NaN; resize depth with "
        "nearest / bilinear (https://github.com/tensorflow/tensorflow/issues/19880, "
        "https://github.com/huggingface/transformers/issues/34300, "
        "https://github.com/lyndonzheng/Synthetic2Realistic/issues/32, "
        "https://github.com/pytorch/vision/issues/8216, "
        "https://arxiv.org/abs/1406.2283)",
        blind=True,
    ),
    Scenario(
        "gps_speed_layer_on_float16_elapsed_seconds",
        gps_speed_layer_on_float16_elapsed_seconds,
        "activation",
        frozenset({"RealDiv"}),
        "mode_net/kinematics",
        "float16_range",
        frozenset({"float32_layer"}),
        story="a speed = d(distance) / d(seconds) layer inside a transport-mode model under "
        "mixed_float16: float16 cannot tell consecutive seconds apart past 2048 s, dt is exactly "
        "0 and the division is inf / NaN in the layer; keep it in float32 "
        "(https://github.com/CMBSciPol/furax/pull/145, "
        "https://github.com/facebookresearch/fairo/pull/537, "
        "https://github.com/sandialabs/pecos/issues/70, "
        "https://www.tensorflow.org/guide/mixed_precision)",
        blind=True,
    ),
    Scenario(
        "category_entropy_feature_with_unused_categories",
        category_entropy_feature_with_unused_categories,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="a basket-entropy feature -(p * np.log(p)).sum() over spend shares with categories "
        "a customer never used: 0 * log(0) = NaN in nearly every row of the features; "
        "xlogy / scipy.stats.entropy define 0 log 0 = 0 "
        "(https://github.com/tensorflow/probability/issues/241, "
        "https://github.com/scipy/scipy/pull/2553, "
        "https://github.com/RasmussenLab/vamb/issues/12)",
        blind=True,
    ),
    Scenario(
        "slstm_exponential_gates_without_the_stabilizer_state",
        slstm_exponential_gates_without_the_stabilizer_state,
        "activation",
        frozenset({"Mul", "AddV2"}),
        None,
        "recurrent_explosion",
        frozenset(),
        story="an xLSTM sLSTM cell with exponential gates and the normalizer state but without "
        "the stabilizer m_t, forget bias +3: f ~ 20 per step and the normalizer update f * n "
        "overflows ~30 steps into the sequence inside the recurrent layer "
        "(https://github.com/muditbhargava66/PyxLSTM/issues/15, "
        "https://github.com/muditbhargava66/PyxLSTM/issues/27, "
        "https://github.com/NX-AI/vision-lstm/issues/20, "
        "https://arxiv.org/abs/2405.04517)",
        blind=True,
    ),
    Scenario(
        "rectified_adam_by_hand_without_the_tractability_threshold",
        rectified_adam_by_hand_without_the_tractability_threshold,
        "optimizer_update",
        frozenset({"Sqrt"}),
        None,
        "domain_error",
        frozenset(),
        story="Rectified Adam written by hand with the rectification term applied at every "
        "step instead of only when rho_t > 4: at t = 3 the product under its square root is "
        "negative, r_t = NaN and the update writes NaN into every weight "
        "(https://github.com/LiyuanLucasLiu/RAdam/issues/30, "
        "https://github.com/LiyuanLucasLiu/RAdam/issues/61, "
        "https://github.com/pytorch/pytorch/pull/39393, "
        "https://github.com/google-deepmind/optax/pull/15, "
        "https://arxiv.org/abs/1908.03265)",
        blind=True,
    ),
    Scenario(
        "binary_focal_crossentropy_on_logits_with_gamma_one_and_a_half",
        binary_focal_crossentropy_on_logits_with_gamma_one_and_a_half,
        "loss",
        frozenset({"Pow"}),
        None,
        "domain_error",
        frozenset({"use_from_logits"}),
        story="keras.losses.BinaryFocalCrossentropy(gamma=1.5) on a Dense(1) logit head with "
        "from_logits left False: the focal factor (1 - p_t) ** 1.5 is computed from the raw "
        "logits, a negative base to a fractional power is NaN in the loss; pass "
        "from_logits=True (https://github.com/keras-team/keras-cv/pull/615, "
        "https://github.com/liuyuisanai/Focal-Loss/issues/11, "
        "https://github.com/mkocabas/focal-loss-keras/issues/5, "
        "https://github.com/tensorflow/tensorflow/issues/61519, "
        "https://arxiv.org/abs/1911.09070)",
        blind=True,
    ),
    Scenario(
        "bilinear_pooling_sqrt_of_exact_zeros",
        bilinear_pooling_sqrt_of_exact_zeros,
        "gradient",
        frozenset({"Sqrt", "SqrtGrad"}),
        "glyph_bcnn/bilinear_pool",
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="a bilinear CNN's square-root normalization written sqrt(x) (the pooled matrix of "
        "ReLU features is non-negative) without the 1e-5 a public implementation adds: on blank "
        "crops every pooled entry is exactly 0, the forward is finite and the backward of sqrt "
        "at 0 is inf, NaN through the zero features "
        "(https://github.com/HaoMood/bilinear-cnn/issues/4, "
        "https://github.com/jnhwkim/cbp/issues/1, "
        "https://github.com/pytorch/pytorch/issues/1416, "
        "http://vis-www.cs.umass.edu/bcnn/docs/bcnn_iccv15.pdf)",
        blind=True,
    ),
    Scenario(
        "input_normalization_layer_built_with_invert_true",
        input_normalization_layer_built_with_invert_true,
        "matmul_overflow",
        frozenset({"MatMul", "BiasAdd", "_FusedMatMul"}),
        None,
        "unscaled_input",
        frozenset({"rescale_input"}),
        story="the input keras.layers.Normalization copied from the target de-normalizer with "
        "invert=True: mean + x * std turns raw dollars into ~1e10-6e10, the first SGD step is "
        "finite and moves the kernels by ~1e19, and the next forward pass's hidden matmuls "
        "overflow (https://github.com/keras-team/keras/issues/17486, "
        "https://github.com/keras-team/keras/issues/17556, "
        "https://github.com/keras-team/tf-keras/issues/423, "
        "https://github.com/keras-team/keras/issues/3040)",
        blind=True,
    ),
]
