"""A twenty-fourth set of NaN scenarios from public bug patterns, written BLIND (2026-12-05).

Written without reading nantrace's package, its docs, its README, its benchmarks or its test
modules (only the scenario helpers of ``scenario_cases.py`` (lines 1-120) /
``scenario_patterns.py`` (lines 1-50: ``_custom_step``), the format of ``scenario_blind20.py``,
the taxonomy section of the design notes and the list of names and one-line stories of the
older scenarios), without git log or diff output of other files, and without importing or
running nantrace; of library source, only the installed Keras' ``reduce_values``
(keras/src/losses/loss.py: built-in losses divide with divide_no_nan) and its TensorFlow
``dropout`` (keras/src/backend/tensorflow/random.py: a rate of 1.0 returns zeros) were read,
to rule out two patterns that those guards make finite. Each expectation comes from the bug
pattern itself (where a careful ML engineer would say the first non-finite value appears, why,
and the first fix to try), and all ten were written into this file before anything was run.
The patterns come from public reports found with a search over GitHub issues and pull
requests and stored web pages (Q&A threads, library docs, tutorials); each story cites them.
This set favours everyday Keras / TensorFlow training code with one ordinary slip: a CSV
read with np.genfromtxt whose header line becomes a row of NaN, a Masking layer given
np.nan as its mask value for NaN-padded sequences, soft labels normalized from annotator
votes where some images got no emotion vote, a glucose / insulin ratio feature on a table
whose missing insulin is coded 0, padded token ids fed to Dense layers without an Embedding,
ImageNet's mean in pixel units with its std in unit-range units, a hand-written binary
cross-entropy missing its leading minus sign, 'exponential' left in an activation sweep, a
keras.utils.PyDataset whose __len__ counts one batch too many, and an LSTM given
activation='relu' on long sequences. Where the pattern does not determine the first op,
kind / op / layer are left None. Fix ids are only those of the design notes' taxonomy; where
none of them is the first fix a careful engineer would try, the fix set is left empty.

The only thing checked after writing them is that plain TensorFlow, unwatched, really goes
non-finite on their batches (loss, gradients and weights, and at which step), and (with
tf.debugging.enable_check_numerics, plain TF, the step compiled as the scenario runs it)
which op first produces the non-finite value, in a throwaway script outside the repository
that stands in plain-TF versions of the loop helpers and asserts that nantrace was never
imported. No expectation field (kind, op types, layer, cause, fixes) was changed after that
check, and no pattern was dropped; one construction was changed, as told below. What the
check showed: the genfromtxt header (the first batch holds the NaN row; loss, gradients and
weights NaN at step 0; check_numerics flags hidden0's MatMul, the first op on the batch),
the NaN padding (NaN in the first batch; NaN at step 0; check_numerics flags the Const that
holds Masking's NaN mask value, then the model), the vote-normalized soft labels (NaN label
rows in the first batch; NaN at step 0; first op flagged the SoftmaxCrossEntropyWithLogits
of the loss), the insulin ratio (+inf / NaN in the first feature batch; the step-0 loss is
finite, 0.71, the gradients and weights NaN; hidden0's MatMul flagged, -inf and +inf), the
token ids (loss 1.5e5 at step 0, 1e28 at step 1, inf at step 2; first op hidden1's MatMul at
step 2), the ImageNet normalization (after the change below: loss 2.6e11 at step 2, 3.7e24
at step 3, NaN at step 4; first op the head's MatMul at step 4), the missing minus sign
(the loss falls to about -50 and is NaN at step 215, 216 in the check_numerics run; first op
the loss's Log), the exponential sweep (NaN at step 0; first op hidden3's Exp, +inf), the
PyDataset (finite for 32 steps; at step 32, the empty batch, the loss is NaN while that
step's gradients and weights stay finite; first op the loss's Mean) and the relu LSTM (loss
about 0.05 until step 69, then 64, 8e3, 2e6, 2e8 at step 73, where the weights turn
non-finite while the loss and gradients are finite; with check_numerics the first
non-finite value is Adam's Square of the gradients at step 72).
Construction changed after the first check (expectation fields untouched, the docstring
rewritten to match): the ImageNet-normalization CNN first used ReLU activations; with them
the network died instead of diverging (the loss settled at log 10 = 2.30, finite, over 128
steps; also at learning rates 1e-3 and, without momentum, 1e-2), so its two convolutions and
its hidden Dense layer now use ELU, which keeps the huge activations flowing.
Caveats a reader should know: three scenarios leave kind None (the check showed hidden1's
MatMul for the token ids, the head's MatMul for the ImageNet normalization and Adam's
Square for the relu LSTM); two leave the cause None (no id of the taxonomy names an
activation chosen outside its range, or an empty batch), and several fix sets are empty
where no id is the first fix (an Embedding, the minus sign, dropping 'exponential', a right
__len__, activation='tanh').

Layer names are set explicitly only so the expectations can name them.
"""

from __future__ import annotations

import io

import keras
import numpy as np
import tensorflow as tf
from scenario_cases import (
    Scenario,
    batches,
    mlp,
    run_loop,
    seeded,
    standard_step,
)


def _smooth_regression(rng, n, dim, noise=0.1):
    """Standardized features and a smooth, standardized-scale target."""
    x = rng.normal(size=(n, dim)).astype("float32")
    w = rng.normal(size=(dim,)) / np.sqrt(dim)
    v = rng.normal(size=(dim,)) / np.sqrt(dim)
    y = 1.5 * np.tanh(x @ w) + 0.5 * np.sin(2.0 * (x @ v)) + 0.3 * x[:, 0] * x[:, 1]
    y = y + noise * rng.normal(size=n)
    return x, y.astype("float32").reshape(-1, 1)


def _reviews(rng, n, vocab, min_len, max_len):
    """Tokenizer-style padded ids (1 = most frequent word, 0 = padding, post-padded) and a
    per-review polarity score."""
    polarity = rng.normal(size=vocab)
    tokens = np.zeros((n, max_len), dtype="int32")
    score = np.zeros(n)
    for i, length in enumerate(rng.integers(min_len, max_len + 1, size=n)):
        ids = rng.zipf(1.3, size=length) % (vocab - 1) + 1
        tokens[i, :length] = ids
        score[i] = polarity[ids].mean()
    return tokens, (score - score.mean()) / score.std()


# ---------------------------------------------------------------------------------------------
# 1. np.genfromtxt on a CSV with a header line, skip_header forgotten
# ---------------------------------------------------------------------------------------------
def genfromtxt_header_line_read_as_a_row_of_nan():
    """Plant-efficiency regressor (an MLP on 10 already-standardized sensor columns, MSE)
    loading its CSV with np.genfromtxt(path, delimiter=','). The export has a header line
    (the column names) and skip_header=1 was left out: genfromtxt cannot convert the names to
    float and, as it does for any field it cannot read, fills them with NaN, so the first row
    of the array (features AND target) is NaN; the data are batched in file order and the
    first batch holds that row before any op runs (skip the header: drop that row)."""
    rng = seeded(2400)
    n, dim = 2048, 10
    x = rng.normal(size=(n, dim))
    y = np.tanh(x[:, :3].sum(axis=1)) + 0.1 * rng.normal(size=n)
    buffer = io.StringIO()
    names = [f"sensor_{i}" for i in range(dim)] + ["efficiency"]
    np.savetxt(
        buffer,
        np.concatenate([x, y[:, None]], axis=1),
        fmt="%.5f",
        delimiter=",",
        header=",".join(names),
        comments="",
    )
    data = np.genfromtxt(io.StringIO(buffer.getvalue()), delimiter=",").astype("float32")
    features, target = data[:, :dim], data[:, dim:]
    model = mlp([64, 64], name="plant_mlp", input_dim=dim)
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        batches(features, target, size=64),
    )


# ---------------------------------------------------------------------------------------------
# 2. sequences padded with NaN behind a Masking(mask_value=np.nan) layer
# ---------------------------------------------------------------------------------------------
def masking_layer_given_nan_as_its_mask_value():
    """Machine-health regressor: a Masking layer, a GRU(32) and a Dense head (MSE) on
    variable-length runs of 6 standardized sensor channels (20-60 steps). The runs were padded
    to 60 steps with pad_sequences(..., dtype='float32', value=np.nan, padding='post') 'so
    that padding can never be confused with a real reading', and the model starts with
    keras.layers.Masking(mask_value=np.nan). But NaN != NaN: the mask never matches, every
    step counts as valid, and the padded steps carry NaN into the batch before any op runs
    (and Masking's inputs * mask would keep NaN * 0 = NaN anyway); pad with 0, or another
    finite value, and mask that."""
    rng = seeded(2401)
    n, steps, channels = 2048, 60, 6
    lengths = rng.integers(20, steps + 1, size=n)
    x = np.full((n, steps, channels), np.nan, dtype="float32")
    y = np.zeros((n, 1), dtype="float32")
    for i, length in enumerate(lengths):
        run = np.cumsum(0.3 * rng.normal(size=(length, channels)), axis=0)
        x[i, :length] = run
        y[i, 0] = np.tanh(run[-1, :2].sum() / 3.0)
    model = keras.Sequential(
        [
            keras.Input((steps, channels)),
            keras.layers.Masking(mask_value=np.nan, name="masking"),
            keras.layers.GRU(32, name="gru"),
            keras.layers.Dense(1, name="head"),
        ],
        name="health_gru",
    )
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        batches(x, y, size=64),
    )


# ---------------------------------------------------------------------------------------------
# 3. FER+-style soft labels normalized from votes, with images whose votes are all unknown / NF
# ---------------------------------------------------------------------------------------------
def soft_labels_from_votes_of_images_without_an_emotion_vote():
    """A facial-expression CNN trained on FER+-style crowd labels: ten annotators voted per
    image over 8 emotions plus 'unknown' and 'not a face' (NF). The label code keeps the 8
    emotion columns and turns them into a probability distribution, votes / votes.sum(),
    for a soft-label categorical cross-entropy (from logits). Images whose ten votes all went
    to 'unknown' or NF (FER+ drops them; this port does not) have an emotion-vote sum of 0,
    and their label rows are 0 / 0 = NaN in the label batch before any op runs (drop those
    images, as the reference does)."""
    rng = seeded(2402)
    n, size, classes = 2048, 24, 8
    emotion = rng.integers(0, classes, size=n)
    templates = rng.uniform(0, 255, size=(classes, size, size))
    images = (templates[emotion] + 50.0 * rng.normal(size=(n, size, size))).clip(0, 255)
    images = (images[..., None] / 255.0).astype("float32")
    votes = np.zeros((n, classes + 2))
    for i in range(n):
        if rng.random() < 0.06:  # an unreadable crop: unknown / not-a-face only
            probs = np.zeros(classes + 2)
            probs[classes:] = 0.5
        else:
            probs = np.full(classes + 2, 0.02)
            probs[emotion[i]] += 1.0 - probs.sum()
        votes[i] = rng.multinomial(10, probs)
    emotion_votes = votes[:, :classes]
    with np.errstate(invalid="ignore"):
        soft = (emotion_votes / emotion_votes.sum(axis=1, keepdims=True)).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((size, size, 1)),
            keras.layers.Conv2D(16, 3, activation="relu", name="conv0"),
            keras.layers.MaxPooling2D(2, name="pool0"),
            keras.layers.Conv2D(32, 3, activation="relu", name="conv1"),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(classes, name="head"),
        ],
        name="ferplus_cnn",
    )
    return run_loop(
        standard_step(
            model,
            keras.optimizers.Adam(1e-3),
            keras.losses.CategoricalCrossentropy(from_logits=True),
        ),
        batches(images, soft, size=64),
    )


# ---------------------------------------------------------------------------------------------
# 4. a glucose / insulin ratio feature on a Pima-style table whose missing insulin is coded 0
# ---------------------------------------------------------------------------------------------
def ratio_feature_over_zero_coded_missing_insulin():
    """Diabetes classifier (an MLP, binary cross-entropy from logits) on a Pima-Indians-style
    table whose missing measurements are coded 0 (Insulin in about half the rows, Glucose in a
    few). The 8 columns were standardized, then an engineered 'insulin resistance' feature,
    np.log1p(glucose / insulin), was appended from the raw columns. Every zero insulin makes
    the ratio +inf (and 0 / 0 = NaN where glucose is 0 too); log1p keeps them, so the
    feature batch holds inf / NaN before any op runs (treat the zeros as missing: impute them,
    or drop those rows, before forming the ratio)."""
    rng = seeded(2403)
    n = 768 * 3
    diabetic = rng.random(n) < 0.35
    glucose = rng.normal(110 + 30 * diabetic, 25).clip(50, 199)
    glucose[rng.random(n) < 0.01] = 0.0
    insulin = rng.lognormal(np.log(100 + 60 * diabetic), 0.5).clip(15, 846)
    insulin[rng.random(n) < 0.48] = 0.0
    columns = np.stack(
        [
            rng.poisson(3.8, n),
            glucose,
            rng.normal(70, 12, n).clip(0, 122),
            rng.normal(20, 15, n).clip(0, 99),
            insulin,
            rng.normal(32 + 3 * diabetic, 7).clip(18, 67),
            rng.gamma(2.0, 0.24, n),
            rng.integers(21, 81, n),
        ],
        axis=1,
    )
    standardized = (columns - columns.mean(axis=0)) / columns.std(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.log1p(glucose / insulin)
    x = np.concatenate([standardized, ratio[:, None]], axis=1).astype("float32")
    y = diabetic.astype("float32").reshape(-1, 1)
    model = mlp([32, 16], name="pima_mlp", input_dim=9)
    return run_loop(
        standard_step(
            model,
            keras.optimizers.Adam(1e-3),
            keras.losses.BinaryCrossentropy(from_logits=True),
        ),
        batches(x, y, size=64),
    )


# ---------------------------------------------------------------------------------------------
# 5. padded token ids fed straight to Dense layers (no Embedding), star ratings, plain SGD
# ---------------------------------------------------------------------------------------------
def padded_token_ids_fed_to_dense_layers_without_an_embedding():
    """Review-rating regressor written as a first text model: Tokenizer ids of 20-100 word
    reviews (frequency-ranked, 1-5000; 0 = padding) padded to 100 and fed as a float vector
    straight into Dense(64, relu) -> Dense(32, relu) -> Dense(1), MSE on the 1-5 star rating,
    compiled with optimizer='sgd' (SGD at 0.01). Without an Embedding the ids are read as
    magnitudes in the thousands: the pre-activations and the squared errors are huge from the
    first step, the gradients scale with the squared ids, and the first SGD updates throw the
    weights out so that training diverges to inf / NaN within a few steps (an Embedding layer
    for the ids, not a rescaling of them)."""
    rng = seeded(2404)
    tokens, score = _reviews(rng, 4096, 5000, 20, 100)
    stars = np.clip(np.round(3.0 + 1.2 * score + 0.5 * rng.normal(size=len(score))), 1, 5)
    model = mlp([64, 32], name="review_mlp", input_dim=100)
    return run_loop(
        standard_step(model, keras.optimizers.SGD(0.01), keras.losses.MeanSquaredError()),
        batches(tokens.astype("float32"), stars.astype("float32").reshape(-1, 1), size=32),
    )


# ---------------------------------------------------------------------------------------------
# 6. ImageNet normalization with the mean in pixel units and the std in unit-range units
# ---------------------------------------------------------------------------------------------
def imagenet_mean_in_pixels_with_the_std_of_unit_range_images():
    """A small CNN classifier (two ELU Conv2D + pooling blocks, Dense head, 10 classes,
    SGD(0.01, momentum 0.9), sparse cross-entropy from logits) whose preprocessing copies
    ImageNet's normalization from two sources: the mean in pixel units [123.675, 116.28,
    103.53] (Keras / Caffe style) and the std from torchvision, [0.229, 0.224, 0.225], which
    is meant for images already divided by 255. On 0-255 pixels (x - mean) / std is in the
    hundreds (-550 .. +580) instead of about -2 .. +2.6: the activations and gradients are
    hundreds of times too large and SGD with momentum diverges to inf / NaN within some steps
    (scale the pixels to [0, 1] before that normalization, or use the std in pixel units)."""
    rng = seeded(2405)
    n, size, classes = 2048, 32, 10
    labels = rng.integers(0, classes, size=n)
    tints = rng.uniform(0, 255, size=(classes, 3))
    images = (tints[labels][:, None, None, :] + 40.0 * rng.normal(size=(n, size, size, 3))).clip(
        0, 255
    )
    images = images.astype("uint8").astype("float32")
    mean = np.array([123.675, 116.28, 103.53], dtype="float32")
    std = np.array([0.229, 0.224, 0.225], dtype="float32")
    x = ((images - mean) / std).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((size, size, 3)),
            keras.layers.Conv2D(16, 3, activation="elu", name="conv0"),
            keras.layers.MaxPooling2D(2, name="pool0"),
            keras.layers.Conv2D(32, 3, activation="elu", name="conv1"),
            keras.layers.MaxPooling2D(2, name="pool1"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(64, activation="elu", name="dense"),
            keras.layers.Dense(classes, name="head"),
        ],
        name="tinted_cnn",
    )
    return run_loop(
        standard_step(
            model,
            keras.optimizers.SGD(learning_rate=0.01, momentum=0.9),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        ),
        batches(x, labels.astype("int32"), size=32, epochs=2),
    )


# ---------------------------------------------------------------------------------------------
# 7. a hand-written binary cross-entropy missing its leading minus sign (LSTM sentiment model)
# ---------------------------------------------------------------------------------------------
def hand_written_binary_cross_entropy_missing_its_minus_sign():
    """IMDB-style sentiment classifier (Embedding -> LSTM(32) -> Dense(32, relu) ->
    Dense(1, sigmoid)) trained with a hand-written binary cross-entropy,
    mean(y log p + (1 - y) log(1 - p)), whose leading minus sign was lost. Minimizing it
    MAXIMIZES the error: the loss goes negative and keeps falling, the model pushes the
    negative reviews' p towards 1 and the positive ones' towards 0, until the sigmoid
    rounds to exactly 1.0 (a logit above ~17) and log(1 - p) = log(0) = -inf in the loss
    (restore the minus sign, or use keras.losses.BinaryCrossentropy)."""
    rng = seeded(2406)
    tokens, score = _reviews(rng, 4096, 2000, 10, 40)
    labels = (score + 0.5 * rng.normal(size=len(score)) > 0).astype("float32").reshape(-1, 1)
    model = keras.Sequential(
        [
            keras.Input((40,), dtype="int32"),
            keras.layers.Embedding(2000, 32, name="embedding"),
            keras.layers.LSTM(32, name="lstm"),
            keras.layers.Dense(32, activation="relu", name="dense"),
            keras.layers.Dense(1, activation="sigmoid", name="head"),
        ],
        name="sentiment_lstm",
    )

    def bce_without_minus(y_true, p):
        return tf.reduce_mean(y_true * tf.math.log(p) + (1.0 - y_true) * tf.math.log(1.0 - p))

    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), bce_without_minus),
        batches(tokens, labels, size=64, epochs=6),
    )


# ---------------------------------------------------------------------------------------------
# 8. 'exponential' left in a hyperparameter sweep over keras.activations
# ---------------------------------------------------------------------------------------------
def exponential_activation_left_in_an_activation_sweep():
    """A hyperparameter sweep (KerasTuner-style hp.Choice over the names in keras.activations)
    builds a 4 x 64 MLP regressor (MSE, Adam) with the same activation in every hidden layer;
    one trial draws 'exponential'. exp of a Glorot-initialized layer's pre-activations has a
    heavy right tail that compounds layer by layer: hidden0 and hidden1 stay small, hidden2's
    outputs reach the millions, and hidden3's pre-activations are then in the millions too,
    so exp overflows to inf inside hidden3 at the first forward pass (leave 'exponential' out
    of the hidden-layer choices)."""
    rng = seeded(2407)
    x, y = _smooth_regression(rng, 2048, 8)
    model = mlp([64, 64, 64, 64], name="sweep_mlp", activation="exponential", input_dim=8)
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        batches(x, y, size=32),
    )


# ---------------------------------------------------------------------------------------------
# 9. a keras.utils.PyDataset whose __len__ counts one batch too many: an empty last batch
# ---------------------------------------------------------------------------------------------
class _WeatherBatches(keras.utils.PyDataset):
    """Batches of (features, next-hour temperature); __len__ written as n // size + 1 'to keep
    the remainder', which is one too many when size divides n."""

    def __init__(self, x, y, size, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.size = x, y, size

    def __len__(self):
        return len(self.x) // self.size + 1

    def __getitem__(self, index):
        part = slice(index * self.size, (index + 1) * self.size)
        return self.x[part], self.y[part]


def py_dataset_len_off_by_one_yields_an_empty_last_batch():
    """Next-hour temperature regressor (an MLP on 12 standardized weather features) trained
    in a custom loop over a keras.utils.PyDataset whose __len__ returns n // batch_size + 1.
    With 2048 rows and batches of 64 that is 33 batches, and the 33rd slice is empty (0 rows).
    The model runs on it fine, but the hand-written loss tf.reduce_mean(tf.square(y - p)) of
    an empty tensor is 0 / 0 = NaN at the last step of the epoch (Keras' own losses divide
    with divide_no_nan and would hide it); __len__ should be ceil(n / batch_size)."""
    rng = seeded(2408)
    x, y = _smooth_regression(rng, 2048, 12)
    sequence = _WeatherBatches(x, y, 64)
    data = [
        (tf.constant(xb), tf.constant(yb)) for xb, yb in (sequence[i] for i in range(len(sequence)))
    ]
    model = mlp([64, 32], name="weather_mlp", input_dim=12)

    def mse_by_hand(y_true, y_pred):
        return tf.reduce_mean(tf.square(y_true - y_pred))

    return run_loop(standard_step(model, keras.optimizers.Adam(1e-3), mse_by_hand), data)


# ---------------------------------------------------------------------------------------------
# 10. LSTM(activation='relu') on long sequences
# ---------------------------------------------------------------------------------------------
def lstm_with_relu_activation_on_long_sequences():
    """A sensor forecaster: LSTM(64, activation='relu') -> Dense(1) (MSE, Adam) on windows of
    200 steps of 8 standardized channels, 'relu because it trains faster than tanh'. The
    relu replaces the tanh that bounds the LSTM's candidate and its output: the cell state
    and the hidden state are no longer bounded, what the recurrence feeds back grows from
    step to step over the 200 steps once the weights have grown a little, and the run goes to
    inf / NaN after some steps (keep activation='tanh')."""
    rng = seeded(2409)
    n, steps, channels = 2048, 200, 8
    drive = rng.normal(size=(n, steps, channels))
    x = np.zeros((n, steps, channels))
    for t in range(1, steps):
        x[:, t] = 0.9 * x[:, t - 1] + 0.44 * drive[:, t]
    x = x.astype("float32")
    y = np.tanh(x[:, -1, :3].sum(axis=1) / 2.0).astype("float32").reshape(-1, 1)
    model = keras.Sequential(
        [
            keras.Input((steps, channels)),
            keras.layers.LSTM(64, activation="relu", name="lstm"),
            keras.layers.Dense(1, name="head"),
        ],
        name="relu_lstm",
    )
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        batches(x, y, size=32, epochs=2),
    )


# ---------------------------------------------------------------------------------------------
# what a correct report says
# ---------------------------------------------------------------------------------------------
BLIND24_SCENARIOS: list[Scenario] = [
    Scenario(
        "genfromtxt_header_line_read_as_a_row_of_nan",
        genfromtxt_header_line_read_as_a_row_of_nan,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="np.genfromtxt(delimiter=',') on a CSV with a header line and no skip_header=1: "
        "the column names cannot be converted and are filled with NaN, so the first row "
        "(features and target) is NaN in the first batch "
        "(https://numpy.org/doc/1.25/reference/generated/numpy.genfromtxt.html, "
        "http://docs.scipy.org/doc/numpy/user/basics.io.genfromtxt.html, "
        "https://github.com/keras-team/keras/issues/2134)",
        blind=True,
    ),
    Scenario(
        "masking_layer_given_nan_as_its_mask_value",
        masking_layer_given_nan_as_its_mask_value,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="variable-length sequences padded with np.nan behind "
        "keras.layers.Masking(mask_value=np.nan): NaN != NaN, nothing is masked and the "
        "padding's NaN is in the batch and flows into the GRU "
        "(https://github.com/keras-team/keras/issues/2819, "
        "https://github.com/keras-team/keras/pull/449, "
        "https://github.com/ragulpr/wtte-rnn/issues/50)",
        blind=True,
    ),
    Scenario(
        "soft_labels_from_votes_of_images_without_an_emotion_vote",
        soft_labels_from_votes_of_images_without_an_emotion_vote,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="FER+-style soft labels votes / votes.sum() over the 8 emotion columns, keeping "
        "the images whose votes all went to 'unknown' / 'not a face': their label rows are "
        "0 / 0 = NaN in the label batch "
        "(https://github.com/kaiwang960112/Self-Cure-Network/issues/16, "
        "https://github.com/microsoft/FERPlus/issues/18, "
        "https://github.com/birdwcp/QCS/issues/1)",
        blind=True,
    ),
    Scenario(
        "ratio_feature_over_zero_coded_missing_insulin",
        ratio_feature_over_zero_coded_missing_insulin,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="an engineered log1p(glucose / insulin) feature on a Pima-style table whose "
        "missing insulin (and some glucose) is coded 0: inf and 0 / 0 = NaN in the feature "
        "batch (https://github.com/felixfan/scripts, "
        "https://superkogito.github.io/blog/diabetesML1.html, "
        "https://medium.com/analytics-vidhya/analyzing-pima-indian-diabetes-dataset-"
        "36d02a8a10e5)",
        blind=True,
    ),
    Scenario(
        "padded_token_ids_fed_to_dense_layers_without_an_embedding",
        padded_token_ids_fed_to_dense_layers_without_an_embedding,
        None,
        cause="unscaled_input",
        fixes=frozenset(),
        story="Tokenizer ids padded with pad_sequences fed as numbers straight into Dense "
        "layers (no Embedding), MSE on star ratings with optimizer='sgd': ids in the "
        "thousands make the steps huge and the run diverges within a few steps "
        "(https://github.com/keras-team/keras/issues/2134, "
        "https://machinelearningmastery.com/use-word-embedding-layers-deep-learning-keras/, "
        "http://172.245.126.119:8080/sjayakum/language-modeling/blob/master/Preprocessing.md)",
        blind=True,
    ),
    Scenario(
        "imagenet_mean_in_pixels_with_the_std_of_unit_range_images",
        imagenet_mean_in_pixels_with_the_std_of_unit_range_images,
        None,
        cause="unscaled_input",
        fixes=frozenset({"rescale_input"}),
        story="ImageNet normalization mixing the mean in pixel units with torchvision's std for "
        "[0, 1] images on 0-255 pixels: inputs in the hundreds and SGD with momentum "
        "diverges (https://github.com/pytorch/examples/issues/112, "
        "https://github.com/Neerajj9/CSRNet-keras/issues/6, "
        "https://github.com/facebookresearch/maskrcnn-benchmark/issues/587)",
        blind=True,
    ),
    Scenario(
        "hand_written_binary_cross_entropy_missing_its_minus_sign",
        hand_written_binary_cross_entropy_missing_its_minus_sign,
        "loss",
        frozenset({"Log"}),
        None,
        "unstable_loss",
        frozenset(),
        story="a hand-written binary cross-entropy mean(y log p + (1 - y) log(1 - p)) missing "
        "its minus sign on an LSTM sentiment model: the loss goes negative, p is driven to "
        "exactly 1.0 for negatives and log(1 - p) = -inf "
        "(https://github.com/keras-team/keras/issues/1917, "
        "https://github.com/keras-team/keras/issues/2508, "
        "https://github.com/keras-team/keras/issues/19638)",
        blind=True,
    ),
    Scenario(
        "exponential_activation_left_in_an_activation_sweep",
        exponential_activation_left_in_an_activation_sweep,
        "activation",
        frozenset({"Exp"}),
        "sweep_mlp/hidden3",
        None,
        frozenset(),
        story="an activation sweep over keras.activations draws 'exponential' for every "
        "hidden layer of a 4 x 64 MLP: the exp's tail compounds per layer and hidden3's exp "
        "overflows at the first forward pass "
        "(https://github.com/keras-team/keras-tuner/issues/477, "
        "https://github.com/keras-team/keras-tuner/issues/345, "
        "https://github.com/keras-team/autokeras/issues/1091)",
        blind=True,
    ),
    Scenario(
        "py_dataset_len_off_by_one_yields_an_empty_last_batch",
        py_dataset_len_off_by_one_yields_an_empty_last_batch,
        "loss",
        frozenset({"Mean"}),
        None,
        None,
        frozenset(),
        story="a keras.utils.PyDataset whose __len__ is n // batch_size + 1 yields an empty "
        "last batch; the hand-written tf.reduce_mean loss of 0 rows is 0 / 0 = NaN "
        "(https://github.com/keras-team/keras/issues/1244, "
        "https://github.com/jaywonchung/BERT4Rec-VAE-Pytorch/issues/22)",
        blind=True,
    ),
    Scenario(
        "lstm_with_relu_activation_on_long_sequences",
        lstm_with_relu_activation_on_long_sequences,
        None,
        cause="recurrent_explosion",
        fixes=frozenset(),
        story="LSTM(activation='relu') on 200-step windows: the unbounded candidate and "
        "output let the recurrent state grow over the time steps and the run diverges "
        "(https://github.com/keras-team/keras/issues/2194, "
        "https://github.com/keras-team/keras/issues/13221, "
        "https://github.com/AlexanderVNikitin/tsgm/issues/59)",
        blind=True,
    ),
]
