"""A twenty-eighth set of NaN scenarios from public bug patterns, written BLIND (2026-12-05).

Written without reading nantrace's package, its docs, its README, its benchmarks or its test
modules (only the scenario helpers of ``scenario_cases.py`` (lines 1-120) /
``scenario_patterns.py`` (lines 1-50: ``_custom_step``), the format of ``scenario_blind20.py``,
the taxonomy section of the design notes and the list of names and one-line stories of the
existing scenarios), without git log or diff output of other files, and without importing or
running nantrace (the Keras source of CosineDecay was read to drop a first idea: Keras
refuses decay_steps <= 0): each expectation comes from the bug pattern itself (where a careful
ML engineer would say the first non-finite value appears, why, and the first fix to try), and
all ten were written into this file before anything was run. Theme: sequence and language
models as ordinary users write them from Keras examples, tutorials and paper ports, in custom
loops: word2vec, word-level and GPT-style language models, LSTM / GRU / Conv1D / minGRU
forecasters, a BiLSTM tagger, a TTS duration predictor, a text classifier with side features,
attention masks and padding, sequence losses and masking, vocabulary / tokenizer slips. The
patterns come from public reports found with a search over GitHub issues and pull requests,
stored web pages (Q&A threads, tutorials) and code; each story cites them. The ten: a
word2vec nce_loss whose fixed-unigram sampler reserves PAD / UNK ids that are context labels
(log of a zero expected count), PyTorch's word_language_model RNN_RELU recipe (SGD at 20)
ported without its gradient clip, an LSTM with recurrent_activation='relu', a hand-written
causal attention masked with -inf on LEFT-padded batches (all-masked query rows), a
log1p-target forecaster whose loss exponentiates the prediction back with expm1, a FastSpeech
duration loss taking log of 0-frame durations, a self-adjusting dice loss for NER without its
gamma on padding zeroed by the mask, review side features (type-token ratio, mean rank) that
divide by the length of token sequences the tokenizer left empty, a log-space minGRU that
logs the raw candidate state without the paper's g(), and an L2 self-attention with tied
query / key projections written with tf.norm. Fix ids are only those of the design notes'
taxonomy; where none of them is the first fix a careful engineer would try, the fix set is
left empty, and where the pattern does not determine a field it is left None.

The only thing checked after writing them is that plain TensorFlow, unwatched, really goes
non-finite on their batches (loss, gradients and weights after each step, and at which step)
and, with tf.debugging.enable_check_numerics (plain TF, the step compiled as the scenario runs
it), which op first produces a non-finite value, in a throwaway script outside the repository
(/tmp/blind28_check) that stands in plain-TF versions of the loop helpers and asserts that
nantrace was never imported. No expectation field (kind, op types, layer, cause, fixes) was
changed after that check, and no pattern was dropped; two constructions were changed, as told
below. What the check showed: the word2vec nce_loss (loss NaN at step 0 while that step's
gradients and weights stay finite; first op nce_loss's Log of the expected count, -inf), the
ReLU RNN language model (loss ~6.9 falling slowly for 8 steps, then loss, gradients and
weights NaN at step 8; first op the SimpleRNN cell's recurrent MatMul, in the forward pass at
step 8), the relu-gated LSTM (after the change below: loss finite, 0.21, at step 0 with the
gradients and weights NaN; first op the LSTM cell's Mul of the cell state inside
sensor_lstm, at step 0), the left-padded causal attention (loss, gradients and weights NaN at
step 0; check_numerics stops first at the -inf constant of the mask inside causal_attention,
so the Softmax that turns the all -inf rows into NaN is not separately shown), the expm1 loss
(after the change below: loss 2.4e5, then 2.9e6 with a gradient norm of 5e7, then inf at
step 2; first op the loss's Expm1 of the prediction, +inf), the FastSpeech duration loss (NaN
at step 0; first op the loss's Log of the durations, -inf), the dice loss (NaN at step 0;
first op the loss's RealDiv, 0 / 0), the review side features (the side-feature batch holds
NaN at step 0; the loss is finite, 0.85, because the ReLU of the hidden layer maps NaN to 0 in
this build, but the gradients and weights are NaN; first op flagged: hidden's MatMul
consuming the NaN features), the minGRU (loss finite, 1.10, at step 0 with the gradients and
weights NaN; first op the Log inside the mingru layer, NaN) and the L2 self-attention (loss
finite, 0.69, gradients NaN at step 0; first op the backward SqrtGrad of the norm, +inf).
Constructions changed after the first check (expectation fields untouched, docstrings and
stories rewritten to match): the relu-gated LSTM first ran on 200-step windows of
standardized channels and trained finite (64 steps; also 200 x 12 epochs and 600-step
standardized windows): with zero-mean inputs the gates' drift averages out; it now runs on
500-step windows min-max scaled to [0, 1] (all-positive inputs), which overflow the cell state
at step 0 (200-step min-max windows also trained finite). The expm1 forecaster first used
SGD(0.01, momentum 0.9), then (also tried) larger sales levels: the first update overshot
above the target, the next one threw the prediction far below it, expm1 went to -1 and the
gradient to exactly 0 (a dead, finite run); with SGD(1e-3, momentum 0.9), the rate now used
(SGD(1e-3) without momentum did the same), the updates overshoot upward and expm1 overflows
at step 2; at 1e-4 the run also died finite.
Caveats a reader should know: the word2vec and L2-attention runs have finite weights or loss
at the first non-finite step (word2vec: NaN loss, finite gradients; L2 attention: finite
loss, NaN gradients), and the minGRU's and the side features' forward losses are finite at
step 0 in plain TF although the NaN is in the forward pass; two scenarios leave kind None
(the ReLU RNN language model, where check_numerics showed the recurrent MatMul at step 8, and
the relu-gated LSTM, where it showed the cell's Mul at step 0); the causal-attention op type
is Softmax by the pattern, though the first non-finite tensor in the graph is the -inf mask
constant itself; the expm1 scenario's cause is None (no id of the taxonomy names an
exponential inside the loss) and several fix sets are empty where no id is the first fix
(reserve no ids that occur as labels, sigmoid gates, right padding or a finite mask value,
train on the log scale, the paper's g()).

Layer names are set explicitly only so the expectations can name them.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from scenario_cases import (
    Scenario,
    batches,
    run_loop,
    seeded,
    standard_step,
)
from scenario_patterns import _custom_step


def _markov_corpus(rng, n_tokens, vocab, first_id=1, branching=8):
    """A token stream from a sparse random Markov chain over ids [first_id, vocab): every word
    has a few likely successors, so a language model has something to learn."""
    size = vocab - first_id
    successors = rng.integers(0, size, size=(size, branching))
    weights = rng.dirichlet(np.full(branching, 0.5), size=size)
    stream = np.empty(n_tokens, dtype="int64")
    state = 0
    for t in range(n_tokens):
        state = successors[state, rng.choice(branching, p=weights[state])]
        stream[t] = state + first_id
    return stream


# ---------------------------------------------------------------------------------------------
# 1. word2vec with tf.nn.nce_loss and a fixed-unigram sampler whose reserved ids are labels
# ---------------------------------------------------------------------------------------------
class SkipGram(keras.Model):
    """Skip-gram word2vec: a centre-word embedding plus the NCE output weights and biases."""

    def __init__(self, vocab, dim, **kwargs):
        super().__init__(**kwargs)
        self.center = keras.layers.Embedding(vocab, dim, name="center_embedding")
        self.nce_weights = self.add_weight(
            shape=(vocab, dim),
            initializer=keras.initializers.TruncatedNormal(stddev=dim**-0.5),
            name="nce_weights",
        )
        self.nce_biases = self.add_weight(shape=(vocab,), initializer="zeros", name="nce_biases")

    def call(self, ids):
        return self.center(ids)


def word2vec_nce_loss_with_reserved_ids_in_the_unigram_sampler():
    """A skip-gram word2vec trained with tf.nn.nce_loss, as in TensorFlow's word2vec_basic
    (SGD at 1.0), with the default log-uniform sampler swapped for
    tf.random.fixed_unigram_candidate_sampler(unigrams=counts, distortion=0.75) to get
    word2vec's unigram^0.75 noise. The vocabulary reserves id 0 for padding and id 1 for UNK
    (every word outside the 998 kept ones), so the sampler is built with num_reserved_ids=2 and
    the counts of the real words only; reserved ids get a sampling probability of exactly 0.
    But UNK is an ordinary CONTEXT label (a rare word next to a centre word): its expected
    count is 0, nce_loss subtracts log(true_expected_count) = log(0) = -inf from its logit, and
    the sigmoid cross-entropy of a +inf logit is inf - inf = NaN, in the loss at the first
    batch that holds an UNK context (give the reserved ids a count, or do not reserve ids that
    occur as labels)."""
    rng = seeded(2800)
    vocab, dim, window, num_sampled = 1000, 64, 2, 32
    ranks = rng.zipf(1.15, size=40000)
    ids = np.where(ranks < vocab - 2, ranks + 1, 1).astype("int64")  # 1 = UNK, 2.. = words
    centers, contexts = [], []
    for offset in range(1, window + 1):
        centers += [ids[:-offset], ids[offset:]]
        contexts += [ids[offset:], ids[:-offset]]
    centers = np.concatenate(centers)
    contexts = np.concatenate(contexts)
    order = rng.permutation(len(centers))[:16384]
    centers, contexts = centers[order], contexts[order].reshape(-1, 1)
    counts = np.bincount(ids, minlength=vocab).astype("float64")
    unigrams = [float(c) for c in counts[2:]]  # the real words; ids 0 and 1 are reserved
    model = SkipGram(vocab, dim, name="skipgram")
    model(tf.constant(centers[:2]))

    def nce(model, center, context):
        embedded = model(center, training=True)
        sampled = tf.random.fixed_unigram_candidate_sampler(
            true_classes=context,
            num_true=1,
            num_sampled=num_sampled,
            unique=True,
            range_max=vocab,
            distortion=0.75,
            num_reserved_ids=2,
            unigrams=unigrams,
            seed=2800,
        )
        return tf.reduce_mean(
            tf.nn.nce_loss(
                weights=model.nce_weights,
                biases=model.nce_biases,
                labels=context,
                inputs=embedded,
                num_sampled=num_sampled,
                num_classes=vocab,
                sampled_values=sampled,
            )
        )

    optimizer = keras.optimizers.SGD(learning_rate=1.0)
    return run_loop(
        _custom_step(model, optimizer, nce),
        batches(centers, contexts, size=128),
        model=model,
        optimizer=optimizer,
    )


# ---------------------------------------------------------------------------------------------
# 2. PyTorch's word_language_model recipe (RNN_RELU, SGD at 20, clip 0.25) ported without the clip
# ---------------------------------------------------------------------------------------------
def word_relu_rnn_language_model_at_the_pytorch_example_rate_without_its_clip():
    """A word-level language model ported from PyTorch's examples/word_language_model with its
    --model RNN_RELU (Embedding -> SimpleRNN(relu) -> Dense(vocab)), truncated BPTT of 35 tokens,
    batches of 20 and the recipe's plain SGD at lr = 20. The recipe only works because of its
    torch.nn.utils.clip_grad_norm_(params, 0.25) after every backward pass; the Keras port
    compiled the optimizer as SGD(20.0) and left the clip out. The ReLU recurrence's gradients
    explode through the 35 steps and the unclipped updates at rate 20 blow the recurrent
    weights up within a few steps: the loss, the states and the weights go to inf / NaN
    (clipnorm / global_clipnorm, as the recipe does)."""
    rng = seeded(2801)
    vocab, bptt, batch = 1000, 35, 20
    stream = _markov_corpus(rng, 3 * batch * bptt * 40 + 1, vocab)
    x = np.stack([stream[i : i + bptt] for i in range(0, len(stream) - bptt - 1, bptt)])
    y = np.stack([stream[i + 1 : i + bptt + 1] for i in range(0, len(stream) - bptt - 1, bptt)])
    model = keras.Sequential(
        [
            keras.Input((bptt,), dtype="int64"),
            keras.layers.Embedding(vocab, 64, name="encoder"),
            keras.layers.SimpleRNN(128, activation="relu", return_sequences=True, name="rnn"),
            keras.layers.Dense(vocab, name="decoder"),
        ],
        name="word_lm",
    )
    return run_loop(
        standard_step(
            model,
            keras.optimizers.SGD(learning_rate=20.0),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        ),
        batches(x, y, size=batch),
    )


# ---------------------------------------------------------------------------------------------
# 3. an LSTM whose recurrent_activation (the gates) was set to 'relu'
# ---------------------------------------------------------------------------------------------
def lstm_with_relu_as_its_recurrent_activation():
    """A next-value forecaster on 500-step windows of 8 sensor channels min-max scaled to
    [0, 1] (the MinMaxScaler of the LSTM tutorials): LSTM(64) -> Dense(1), MSE, Adam(1e-3). To 'use ReLU everywhere' the LSTM was built with
    recurrent_activation='relu' (the GATES' activation) instead of leaving it at 'sigmoid'.
    The forget, input and output gates are no longer in [0, 1]: a forget gate above 1 (its
    bias starts at 1 with unit_forget_bias) multiplies the cell state by more than 1 at every
    one of the 500 steps (the all-positive inputs push it the same way at every step), and an
    unbounded output gate feeds the growing state back through
    the recurrent kernel, so the cell state grows geometrically over the time steps and
    overflows inside the LSTM to inf / NaN (keep the gates sigmoid)."""
    rng = seeded(2802)
    n, steps, channels = 2048, 500, 8
    t = np.arange(steps + 1)
    phase = rng.uniform(0, 2 * np.pi, size=(n, 1, channels))
    freq = rng.uniform(0.02, 0.2, size=(1, 1, channels))
    series = np.sin(freq * t[None, :, None] + phase) + 0.3 * rng.normal(
        size=(n, steps + 1, channels)
    )
    series = ((series - series.min()) / (series.max() - series.min())).astype("float32")
    x, y = series[:, :steps, :], series[:, steps, :1]
    model = keras.Sequential(
        [
            keras.Input((steps, channels)),
            keras.layers.LSTM(64, recurrent_activation="relu", name="sensor_lstm"),
            keras.layers.Dense(1, name="head"),
        ],
        name="activity_forecaster",
    )
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        batches(x, y, size=64, epochs=2),
    )


# ---------------------------------------------------------------------------------------------
# 4. a causal self-attention masked with -inf, fed a LEFT-padded batch
# ---------------------------------------------------------------------------------------------
class CausalSelfAttention(keras.layers.Layer):
    """Single-head causal self-attention written by hand: a key is visible when it is not in
    the future and is not padding; invisible scores are set to -inf before the softmax."""

    def __init__(self, dim, **kwargs):
        super().__init__(**kwargs)
        self.dim = dim
        self.query = keras.layers.Dense(dim, name="query")
        self.key = keras.layers.Dense(dim, name="key")
        self.value = keras.layers.Dense(dim, name="value")

    def call(self, inputs):
        h, tokens = inputs
        q, k, v = self.query(h), self.key(h), self.value(h)
        scores = tf.matmul(q, k, transpose_b=True) / np.sqrt(self.dim).astype("float32")
        length = tf.shape(h)[1]
        causal = tf.linalg.band_part(tf.ones((length, length), tf.bool), -1, 0)
        key_is_token = tf.not_equal(tokens, 0)[:, None, :]
        visible = tf.logical_and(causal[None, :, :], key_is_token)
        scores = tf.where(visible, scores, tf.constant(-np.inf, scores.dtype))
        weights = tf.nn.softmax(scores, axis=-1)
        return tf.matmul(weights, v)


def causal_minus_inf_mask_on_a_left_padded_batch():
    """A small GPT-style language model (token + position embeddings, one hand-written causal
    self-attention block, layer norm, a feed-forward block, a vocabulary head) trained on
    batches that are LEFT-padded with id 0, the padding side recommended for decoder-only
    models so that every sequence ends at the last position. The attention hides future keys
    and padding keys with -inf, and the loss masks the padded targets by multiplication. For a
    query position inside the left padding, the only keys that are not in the future are
    padding keys: its whole score row is -inf and the softmax computes -inf - (-inf) = NaN in
    the attention layer at the first step, which the output head and the masked loss
    (NaN x 0 = NaN) carry into the loss (a large finite negative mask value, or right
    padding)."""
    rng = seeded(2803)
    n, length, vocab, dim = 2048, 32, 500, 32
    stream = _markov_corpus(rng, n * length, vocab)
    tokens = np.zeros((n, length + 1), dtype="int64")
    for i in range(n):
        size = int(rng.integers(8, length + 2))
        start = int(rng.integers(0, len(stream) - size))
        tokens[i, length + 1 - size :] = stream[start : start + size]
    x, y = tokens[:, :-1], tokens[:, 1:]
    inputs = keras.Input((length,), dtype="int64")
    positions = keras.ops.arange(length)
    h = keras.layers.Embedding(vocab, dim, name="token_embedding")(inputs)
    h = h + keras.layers.Embedding(length, dim, name="position_embedding")(positions)
    attended = CausalSelfAttention(dim, name="causal_attention")([h, inputs])
    h = keras.layers.LayerNormalization(name="norm1")(h + attended)
    ff = keras.layers.Dense(4 * dim, activation="gelu", name="ff_in")(h)
    h = keras.layers.LayerNormalization(name="norm2")(
        h + keras.layers.Dense(dim, name="ff_out")(ff)
    )
    logits = keras.layers.Dense(vocab, name="lm_head")(h)
    model = keras.Model(inputs, logits, name="left_padded_gpt")
    token_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="none")

    def masked_lm_loss(y_true, y_pred):
        mask = tf.cast(tf.not_equal(y_true, 0), tf.float32)
        return tf.reduce_sum(token_loss(y_true, y_pred) * mask) / tf.reduce_sum(mask)

    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), masked_lm_loss),
        batches(x, y, size=32),
    )


# ---------------------------------------------------------------------------------------------
# 5. a forecaster trained on log1p(sales) with its loss taken back on the original scale
# ---------------------------------------------------------------------------------------------
def log_target_forecaster_trained_through_expm1_in_the_loss():
    """A daily store-sales forecaster (Conv1D -> GRU -> Dense(1) on 28-day windows of
    log1p(sales)) whose target is log1p(next-day sales), as the Kaggle RMSLE recipes advise;
    but the business wants errors in units, so the loss was written
    mean((expm1(pred) - expm1(y))^2), exponentiating the prediction inside the loss, with
    SGD(1e-3, momentum 0.9). The gradient of that loss scales
    with exp(2 pred): the first updates overshoot the log-scale target by tens of units and
    expm1 of the prediction overflows to inf in the loss within a few steps (train on the
    log scale and only report in units)."""
    rng = seeded(2804)
    n, window = 4096, 28
    level = rng.lognormal(5.5, 0.8, size=(n, 1))
    weekly = 1.0 + 0.3 * np.sin(2 * np.pi * np.arange(window + 1) / 7.0 + rng.uniform(0, 7, (n, 1)))
    sales = rng.poisson(level * weekly).astype("float32")
    logged = np.log1p(sales)
    x = logged[:, :window, None].astype("float32")
    y = logged[:, window:].astype("float32")
    model = keras.Sequential(
        [
            keras.Input((window, 1)),
            keras.layers.Conv1D(16, 3, activation="relu", name="conv"),
            keras.layers.GRU(32, name="gru"),
            keras.layers.Dense(1, name="head"),
        ],
        name="sales_forecaster",
    )

    def mse_in_units(y_true, y_pred):
        return tf.reduce_mean(tf.square(tf.math.expm1(y_pred) - tf.math.expm1(y_true)))

    return run_loop(
        standard_step(model, keras.optimizers.SGD(1e-3, momentum=0.9), mse_in_units),
        batches(x, y, size=64),
    )


# ---------------------------------------------------------------------------------------------
# 6. a FastSpeech duration predictor whose loss takes log of durations that can be 0 frames
# ---------------------------------------------------------------------------------------------
def fastspeech_duration_loss_on_zero_frame_phonemes():
    """The duration predictor of a FastSpeech-style TTS model (phoneme Embedding -> two
    Conv1D + LayerNorm blocks -> Dense(1), predicting the log duration of every phoneme),
    trained on durations from a forced aligner, padded with 0 to the batch's length. The loss
    was written from the paper, MSE in the log domain, as (pred - log(d))^2 times the phoneme
    mask; the reference implementations use log(d + 1) because aligners give some phonemes 0
    frames (short phones, punctuation). log(0) = -inf: the squared error is inf at those
    phonemes and inf x 0 = NaN at the padding, in the loss at the first step (log(d + 1), as
    the reference code does)."""
    rng = seeded(2805)
    n, length, phonemes = 2048, 48, 60
    lengths = rng.integers(12, length + 1, size=n)
    ids = rng.integers(1, phonemes, size=(n, length))
    valid = np.arange(length)[None, :] < lengths[:, None]
    ids = np.where(valid, ids, 0).astype("int64")
    base = np.exp(rng.normal(1.6, 0.5, size=phonemes))
    durations = rng.poisson(base[ids]).astype("float32")
    short = rng.random((n, length)) < 0.03
    durations = np.where(short, 0.0, durations)
    durations = np.where(valid, durations, 0.0).astype("float32")
    inputs = keras.Input((length,), dtype="int64")
    h = keras.layers.Embedding(phonemes, 64, name="phoneme_embedding")(inputs)
    for i in range(2):
        h = keras.layers.Conv1D(64, 3, padding="same", activation="relu", name=f"conv{i}")(h)
        h = keras.layers.LayerNormalization(name=f"norm{i}")(h)
    log_duration = keras.layers.Dense(1, name="duration_head")(h)
    model = keras.Model(inputs, log_duration, name="duration_predictor")

    def duration_loss(model, ids, durations):
        pred = tf.squeeze(model(ids, training=True), -1)
        mask = tf.cast(ids > 0, tf.float32)
        error = tf.square(pred - tf.math.log(durations)) * mask
        return tf.reduce_sum(error) / tf.reduce_sum(mask)

    optimizer = keras.optimizers.Adam(1e-3)
    return run_loop(
        _custom_step(model, optimizer, duration_loss),
        batches(ids, durations, size=32),
        model=model,
        optimizer=optimizer,
    )


# ---------------------------------------------------------------------------------------------
# 7. a self-adjusting dice loss for NER without its smoothing term, on padding zeroed by the mask
# ---------------------------------------------------------------------------------------------
def self_adjusting_dice_loss_without_gamma_on_masked_padding():
    """A BiLSTM named-entity tagger (Embedding -> Bidirectional(LSTM) -> Dense(9, softmax)
    over BIO tags) trained with the self-adjusting dice loss of Li et al. (2020), per token
    and tag DSC = 2 (1 - p) p y / ((1 - p) p + y + gamma), written with gamma = 0 ('the
    smoothing is optional'). Padding is ignored the way a cross-entropy is usually masked:
    probabilities and one-hot targets are multiplied by the token mask first. At every
    padded position both the numerator and the denominator are then exactly 0, and the
    DSC is 0 / 0 = NaN in the loss at the first step (the gamma smoothing term, or drop the
    padded tokens before the loss)."""
    rng = seeded(2806)
    n, length, vocab, tags = 2048, 40, 800, 9
    lengths = rng.integers(8, length + 1, size=n)
    tokens = rng.integers(1, vocab, size=(n, length))
    entity = rng.random(vocab) < 0.15
    labels = np.where(entity[tokens], rng.integers(1, tags, size=(n, length)), 0)
    valid = np.arange(length)[None, :] < lengths[:, None]
    tokens = np.where(valid, tokens, 0).astype("int64")
    labels = np.where(valid, labels, 0).astype("int64")
    model = keras.Sequential(
        [
            keras.Input((length,), dtype="int64"),
            keras.layers.Embedding(vocab, 32, name="word_embedding"),
            keras.layers.Bidirectional(keras.layers.LSTM(32, return_sequences=True), name="bilstm"),
            keras.layers.Dense(tags, activation="softmax", name="tagger"),
        ],
        name="ner_tagger",
    )

    def dice_loss(model, tokens, labels):
        probs = model(tokens, training=True)
        mask = tf.cast(tokens > 0, tf.float32)[..., None]
        p = probs * mask
        y = tf.one_hot(labels, tags) * mask
        weighted = (1.0 - p) * p
        dsc = (2.0 * weighted * y) / (weighted + y)
        return tf.reduce_mean(1.0 - tf.reduce_sum(dsc, axis=-1))

    optimizer = keras.optimizers.Adam(1e-3)
    return run_loop(
        _custom_step(model, optimizer, dice_loss),
        batches(tokens, labels, size=32),
        model=model,
        optimizer=optimizer,
    )


# ---------------------------------------------------------------------------------------------
# 8. review side features computed from tokenizer sequences that can be empty
# ---------------------------------------------------------------------------------------------
def review_side_features_over_empty_token_sequences():
    """A wide-and-deep review classifier: the tokens (a Keras Tokenizer(num_words=2000)'s
    texts_to_sequences, padded) go through Embedding -> GlobalAveragePooling1D, and three side
    features computed from the same sequences in numpy join before the head: log1p of the
    length, the type-token ratio (unique ids / length) and the mean word rank (sum of ids /
    length / num_words). texts_to_sequences silently drops every word outside the 2000 kept
    ones, so a review made only of rare words ('Meh.', an emoji, another language) becomes an
    empty sequence, and both ratios are 0 / 0 = NaN (numpy's RuntimeWarning is easy to
    miss): the side-feature batch holds NaN before any op runs (drop or impute those rows,
    e.g. features of 0 for empty sequences)."""
    rng = seeded(2807)
    n, length, num_words = 4096, 60, 2000
    lengths = rng.integers(0, length + 1, size=n)
    lengths[rng.random(n) < 0.02] = 0
    tokens = np.zeros((n, length), dtype="int64")
    polarity = rng.normal(size=num_words)
    labels = np.zeros(n, dtype="float32")
    for i, size in enumerate(lengths):
        words = rng.zipf(1.3, size=size) % (num_words - 1) + 1
        tokens[i, :size] = words
        score = polarity[words].mean() if size else 0.0
        labels[i] = float(rng.random() < 1.0 / (1.0 + np.exp(-4.0 * score)))
    count = (tokens > 0).sum(axis=1).astype("float32")
    unique = np.array([len(np.unique(row[row > 0])) for row in tokens], dtype="float32")
    with np.errstate(divide="ignore", invalid="ignore"):
        type_token_ratio = unique / count
        mean_rank = tokens.sum(axis=1).astype("float32") / count / num_words
    side = np.stack([np.log1p(count), type_token_ratio, mean_rank], axis=1).astype("float32")
    token_input = keras.Input((length,), dtype="int64", name="tokens")
    side_input = keras.Input((3,), name="side_features")
    h = keras.layers.Embedding(num_words, 32, name="word_embedding")(token_input)
    h = keras.layers.GlobalAveragePooling1D(name="pool")(h)
    h = keras.layers.Concatenate(name="wide_and_deep")([h, side_input])
    h = keras.layers.Dense(32, activation="relu", name="hidden")(h)
    logit = keras.layers.Dense(1, name="head")(h)
    model = keras.Model([token_input, side_input], logit, name="review_classifier")
    data = [
        (
            (tf.constant(tokens[s : s + 64]), tf.constant(side[s : s + 64])),
            tf.constant(labels[s : s + 64].reshape(-1, 1)),
        )
        for s in range(0, n, 64)
    ]
    return run_loop(
        standard_step(
            model,
            keras.optimizers.Adam(1e-3),
            keras.losses.BinaryCrossentropy(from_logits=True),
        ),
        data,
    )


# ---------------------------------------------------------------------------------------------
# 9. a log-space minGRU whose candidate state is logged without the paper's g()
# ---------------------------------------------------------------------------------------------
class MinGRU(keras.layers.Layer):
    """minGRU (Feng et al., 2024) in its log-space parallel form: h_t = (1 - z_t) h_{t-1} +
    z_t h~_t computed with cumsum / cumulative_logsumexp. The paper keeps h~ positive with
    g(x) = x + 0.5 for x >= 0 and sigmoid(x) otherwise; this port takes log(h~) of the raw
    linear candidate."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.gate = keras.layers.Dense(units, name="gate")
        self.candidate = keras.layers.Dense(units, name="candidate")

    def call(self, x):
        k = self.gate(x)
        h_tilde = self.candidate(x)
        log_z = -tf.nn.softplus(-k)
        log_coeffs = -tf.nn.softplus(k)
        log_values = log_z + tf.math.log(h_tilde)
        a_star = tf.cumsum(log_coeffs, axis=1)
        log_h = a_star + tf.math.cumulative_logsumexp(log_values - a_star, axis=1)
        return tf.exp(log_h)


def mingru_log_space_scan_without_the_positive_candidate():
    """A load forecaster built on a minGRU ported from the 'Were RNNs All We Needed?' paper's
    log-space pseudo-code (64-step windows of 8 standardized channels -> MinGRU(32) -> last
    step -> Dense(1), MSE, Adam). The parallel scan works on log values, so the paper's
    appendix passes the candidate state through g() to keep it positive; the port wrote
    log(h~) of the raw Dense output instead. About half of the candidate's entries are
    negative for standardized inputs, and their log is NaN inside the minGRU layer at the
    first forward pass (log_g(h~), i.e. g() before the log)."""
    rng = seeded(2808)
    n, steps, channels = 2048, 64, 8
    t = np.arange(steps + 1)
    daily = np.sin(2 * np.pi * t / 24.0)[None, :, None]
    series = daily * rng.uniform(0.5, 1.5, size=(n, 1, channels))
    series = (series + 0.3 * rng.normal(size=(n, steps + 1, channels))).astype("float32")
    x, y = series[:, :steps, :], series[:, steps, :1]
    inputs = keras.Input((steps, channels))
    h = MinGRU(32, name="mingru")(inputs)
    outputs = keras.layers.Dense(1, name="head")(h[:, -1, :])
    model = keras.Model(inputs, outputs, name="mingru_forecaster")
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        batches(x, y, size=64),
    )


# ---------------------------------------------------------------------------------------------
# 10. L2-distance self-attention with tied query / key projections, written with tf.norm
# ---------------------------------------------------------------------------------------------
class L2SelfAttention(keras.layers.Layer):
    """L2 self-attention (Kim et al., 2021) with tied query and key projections: the score is
    minus the distance between projected tokens, here tf.norm(q_i - k_j) (not squared)."""

    def __init__(self, dim, **kwargs):
        super().__init__(**kwargs)
        self.dim = dim
        self.query_key = keras.layers.Dense(dim, use_bias=False, name="query_key")
        self.value = keras.layers.Dense(dim, name="value")

    def call(self, x):
        qk = self.query_key(x)
        distance = tf.norm(qk[:, :, None, :] - qk[:, None, :, :], axis=-1)
        weights = tf.nn.softmax(-distance / np.sqrt(self.dim).astype("float32"), axis=-1)
        return tf.matmul(weights, self.value(x))


def l2_self_attention_with_tied_projections_by_tf_norm():
    """A sentiment classifier with one L2 self-attention block (token + position embeddings ->
    L2SelfAttention -> GlobalAveragePooling1D -> Dense(1)), the Lipschitz-friendly attention
    of Kim et al. with the query and key projections tied, scores = -||q_i - k_j||. The paper
    (and the fixed public ports) use the SQUARED distance; this port wrote tf.norm. With tied
    projections every token's query equals its own key, so the diagonal distance is exactly
    0: the forward pass is finite, but the norm's derivative (q - k) / ||q - k|| is 0 / 0
    (sqrt's infinite slope at 0 times 0) and the gradients are NaN at the first step (the
    squared distance, or an epsilon under the square root)."""
    rng = seeded(2809)
    n, length, vocab, dim = 2048, 24, 1000, 32
    tokens = rng.integers(1, vocab, size=(n, length)).astype("int64")
    polarity = rng.normal(size=vocab)
    score = polarity[tokens].mean(axis=1)
    labels = (rng.random(n) < 1.0 / (1.0 + np.exp(-8.0 * score))).astype("float32")
    inputs = keras.Input((length,), dtype="int64")
    h = keras.layers.Embedding(vocab, dim, name="token_embedding")(inputs)
    h = h + keras.layers.Embedding(length, dim, name="position_embedding")(keras.ops.arange(length))
    h = L2SelfAttention(dim, name="l2_attention")(h)
    h = keras.layers.GlobalAveragePooling1D(name="pool")(h)
    logit = keras.layers.Dense(1, name="head")(h)
    model = keras.Model(inputs, logit, name="l2_attention_classifier")
    return run_loop(
        standard_step(
            model,
            keras.optimizers.Adam(1e-3),
            keras.losses.BinaryCrossentropy(from_logits=True),
        ),
        batches(tokens, labels.reshape(-1, 1), size=32),
    )


# ---------------------------------------------------------------------------------------------
# what a correct report says
# ---------------------------------------------------------------------------------------------
BLIND28_SCENARIOS: list[Scenario] = [
    Scenario(
        "word2vec_nce_loss_with_reserved_ids_in_the_unigram_sampler",
        word2vec_nce_loss_with_reserved_ids_in_the_unigram_sampler,
        "loss",
        frozenset({"Log"}),
        None,
        "missing_epsilon",
        frozenset(),
        story="skip-gram word2vec with tf.nn.nce_loss and tf.random.fixed_unigram_candidate_"
        "sampler(num_reserved_ids=2) for PAD / UNK: UNK is a context label with expected count "
        "0, nce_loss subtracts log(0) = -inf from its logit and the sigmoid cross-entropy is "
        "NaN (https://github.com/tensorflow/tensorflow/issues/10284, "
        "https://github.com/rwth-i6/returnn/pull/186, "
        "https://github.com/wangzhegeek/EGES/pull/13)",
        blind=True,
    ),
    Scenario(
        "word_relu_rnn_language_model_at_the_pytorch_example_rate_without_its_clip",
        word_relu_rnn_language_model_at_the_pytorch_example_rate_without_its_clip,
        None,
        cause=frozenset({"gradient_explosion", "recurrent_explosion"}),
        fixes=frozenset({"clip_gradients", "lower_learning_rate"}),
        story="PyTorch's word_language_model recipe (RNN_RELU, SGD at lr 20, "
        "clip_grad_norm_ 0.25) ported to Keras without the clip: the ReLU recurrence's "
        "unclipped gradients at rate 20 blow the weights up within a few steps "
        "(https://github.com/pytorch/examples/pull/223, "
        "https://github.com/asappresearch/sru/issues/2, "
        "https://github.com/chenxie95/deeplearning_course_sjtu/issues/31)",
        blind=True,
    ),
    Scenario(
        "lstm_with_relu_as_its_recurrent_activation",
        lstm_with_relu_as_its_recurrent_activation,
        None,
        layer="activity_forecaster/sensor_lstm",
        cause="recurrent_explosion",
        fixes=frozenset(),
        story="LSTM(recurrent_activation='relu') on 500-step min-max scaled windows: the gates are no longer "
        "in [0, 1], a forget gate above 1 multiplies the cell state every step and the state "
        "overflows over the time steps; keep the gates sigmoid "
        "(https://stackoverflow.com/questions/55322991/why-am-i-getting-nan-after-adding-"
        "relu-activation-in-lstm, https://github.com/keras-team/keras/issues/2194, "
        "https://github.com/AlexanderVNikitin/tsgm/issues/59)",
        blind=True,
    ),
    Scenario(
        "causal_minus_inf_mask_on_a_left_padded_batch",
        causal_minus_inf_mask_on_a_left_padded_batch,
        "activation",
        frozenset({"Softmax"}),
        "left_padded_gpt/causal_attention",
        None,
        frozenset(),
        story="a hand-written causal self-attention masking future and padding keys with -inf, "
        "fed LEFT-padded batches: a query inside the padding sees no key, its score row is all "
        "-inf and the softmax is NaN; a large finite negative mask value (or right padding) "
        "keeps it finite (https://github.com/pytorch/pytorch/issues/41508, "
        "https://github.com/tracel-ai/burn/pull/4697, "
        "https://github.com/robertknight/rten/pull/1321)",
        blind=True,
    ),
    Scenario(
        "log_target_forecaster_trained_through_expm1_in_the_loss",
        log_target_forecaster_trained_through_expm1_in_the_loss,
        "loss",
        frozenset({"Expm1"}),
        None,
        None,
        frozenset(),
        story="a Conv1D + GRU forecaster trained on log1p(sales) with the loss written "
        "mean((expm1(pred) - expm1(y))^2) to count errors in units, under SGD with momentum: "
        "the gradient scales with exp(2 pred), the updates overshoot and expm1 of the "
        "prediction overflows in the loss; train on the log scale "
        "(https://github.com/timeseriesAI/tsai/issues/150, "
        "https://github.com/lightgbm-org/LightGBM/issues/4886, "
        "https://github.com/isayev/ASE_ANI/issues/11)",
        blind=True,
    ),
    Scenario(
        "fastspeech_duration_loss_on_zero_frame_phonemes",
        fastspeech_duration_loss_on_zero_frame_phonemes,
        "loss",
        frozenset({"Log"}),
        None,
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="a FastSpeech-style duration predictor with the log-domain loss written "
        "(pred - log(d))^2 * mask: aligners give some phonemes 0 frames and the padding is 0, "
        "log(0) = -inf and inf x 0 = NaN in the loss; the reference code uses log(d + 1) "
        "(https://github.com/ming024/FastSpeech2/issues/185, "
        "https://github.com/TensorSpeech/TensorFlowTTS/issues/30, "
        "https://github.com/TensorSpeech/TensorFlowTTS/issues/256, "
        "https://github.com/roedoejet/FastSpeech2/issues/6)",
        blind=True,
    ),
    Scenario(
        "self_adjusting_dice_loss_without_gamma_on_masked_padding",
        self_adjusting_dice_loss_without_gamma_on_masked_padding,
        "loss",
        frozenset({"RealDiv"}),
        None,
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="the self-adjusting dice loss for NER written with gamma = 0 and the padding "
        "masked by multiplying probabilities and targets first: every padded token's DSC is "
        "0 / 0 = NaN in the loss (https://github.com/fursovia/self-adj-dice/issues/4, "
        "https://github.com/fursovia/self-adj-dice/issues/3, "
        "https://github.com/ShannonAI/dice_loss_for_NLP/issues/26, "
        "https://github.com/aim-uofa/AdelaiDet/issues/610)",
        blind=True,
    ),
    Scenario(
        "review_side_features_over_empty_token_sequences",
        review_side_features_over_empty_token_sequences,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="wide-and-deep review classifier whose side features (type-token ratio, mean "
        "word rank) divide by the sequence length; Tokenizer(num_words).texts_to_sequences "
        "leaves reviews of rare words empty and numpy's 0 / 0 puts NaN in the feature batch "
        "(https://codegive.com/blog/numpy_mean_of_empty_slice.php, "
        "https://github.com/keras-team/keras/issues/2134)",
        blind=True,
    ),
    Scenario(
        "mingru_log_space_scan_without_the_positive_candidate",
        mingru_log_space_scan_without_the_positive_candidate,
        "activation",
        frozenset({"Log"}),
        "mingru_forecaster/mingru",
        "domain_error",
        frozenset(),
        story="a log-space minGRU port that takes log of the raw linear candidate state "
        "instead of the paper's log_g (g keeps it positive): negative candidates give log of "
        "a negative number, NaN inside the layer (https://github.com/lucidrains/minGRU-pytorch/"
        "issues/9, https://github.com/proger/accelerated-scan/issues/11, "
        "https://arxiv.org/abs/2410.01201)",
        blind=True,
    ),
    Scenario(
        "l2_self_attention_with_tied_projections_by_tf_norm",
        l2_self_attention_with_tied_projections_by_tf_norm,
        "gradient",
        layer="l2_attention_classifier/l2_attention",
        cause="missing_epsilon",
        fixes=frozenset({"add_epsilon"}),
        story="L2 self-attention with tied query / key projections written with tf.norm "
        "(not the squared distance): the diagonal distance is exactly 0, the forward is "
        "finite and the norm's gradient is 0 / 0 = NaN "
        "(https://github.com/lucidrains/gigagan-pytorch/issues/14, "
        "https://github.com/mlpc-ucsd/ViTGAN/issues/8)",
        blind=True,
    ),
]
