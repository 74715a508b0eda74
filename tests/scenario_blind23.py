"""A twenty-third set of NaN scenarios from public bug patterns, written BLIND (2026-12-05).

Written without reading nantrace's package, its docs, its README, its benchmarks or its test
modules (only the scenario helpers of ``scenario_cases.py`` (lines 1-120) /
``scenario_patterns.py`` (lines 1-50: ``_custom_step``), the format of ``scenario_blind20.py``,
the taxonomy section of the design notes and the list of names and one-line stories of the
existing scenarios; and, the writer reported afterwards, Keras' own installed source for the
``Normalization`` epsilon and ``CosineDecay``'s ``warmup_target``, which is not nantrace; this
sentence was added by the maintainer after the first scoring), without git log or diff output
of other files, and without importing or running nantrace: each expectation comes from the bug pattern itself (where a careful ML
engineer would say the first non-finite value appears, why, and the first fix to try), and all
ten were written into this file before anything was run. The patterns come from public reports
found with a search over GitHub issues and pull requests and stored web pages (Q&A threads,
library docs, tutorials, blog posts); each story cites them. This set favours MAINSTREAM
Keras / TensorFlow training code, the kind behind the everyday 'loss becomes nan' question,
each with one subtle slip: a multi-task (Tox21-style) classifier whose unmeasured assays are
NaN labels 'masked' by multiplying the loss, an hourly LSTM fed a forward-filled table in
which a sensor installed late keeps its leading gap, 16-bit microscopy PNGs divided by 255
(a nuclei-counting CNN), a PyTorch warm-up recipe ported to Keras' CosineDecay with
warmup_target=1.0 read as a factor,
the learning-rate sweep callback (1e-8 * 10 ** (epoch / 20)) left in the final fit, the
imbalanced-data tutorial's output-bias prior computed on the most recent rows whose labels
are not in yet (log(0 / n)), transaction counts of aggregated rows passed as sample weights
with the learning rate tuned for unit weights, a Normalization layer adapted on one batch in
which a rare holiday flag never occurs (variance 0, divisor Keras' epsilon), RandomUniform(0,
1) kernels copied from the Keras docs example, and the pandas min-max one-liner over a
column that is constant in the training period. Five are training dynamics or scales where
the pattern does not determine the first op (kind / op / layer left None); the output-bias
one names only the layer. Fix ids are only those of the design notes' taxonomy.

The only thing checked after writing them is that plain TensorFlow, unwatched, really goes
non-finite on their batches (loss, gradients and weights, and at which step), and (with
tf.debugging.enable_check_numerics, plain TF, the step compiled as the scenario runs it)
which op first produces the non-finite value, in a throwaway script outside the repository
that stands in plain-TF versions of the loop helpers, records from inside each compiled step
(a patched apply_gradients) whether its gradients are finite, and asserts that nantrace was
never imported. No expectation field (kind, op types, layer, cause, fixes) was changed after
that check, and no pattern was dropped; three constructions were changed, as told below.
What the check showed: the assay labels (NaN in the label batch at step 0, loss, gradients
and weights NaN; first op the Mul logits * labels inside sigmoid_cross_entropy_with_logits),
the forward fill (NaN in the feature batch at step 0; first op the LSTM cell's input MatMul),
the 16-bit PNGs (after the change below: loss 35, 5e10, 2e35, then inf at step 3 with
gradients and weights non-finite; first op the Dense layer's MatMul at step 3), the
CosineDecay warm-up (healthy for ~140 steps, then 6e4, 3e16 and inf at step 148, rate ~0.75;
first op the MSE's Square), the sweep callback (after the change below: the loss stalls in
the hundreds from a rate of ~1e-4 on and blows up near epoch 170, rate ~3: inf at step 696
while that step's gradients and weights are still finite; first op the MSE's Square), the
output bias (the head's bias is -inf when the model is built: check_numerics flags the
Constant initializer's Mul (-inf x ones), eagerly, before training; the loss is NaN at step
0 with finite gradients), the sample weights (loss 144, 8e3, 2e8, 1e22, then inf at step 4
with gradients and weights non-finite; first op the MSE's Square), the one-batch
Normalization (after the change below: loss 7e10 at step 0, inf at step 1 with gradients
and weights non-finite; first op the MSE's Square), the RandomUniform(0, 1) kernels (loss
1e9, 5e34, then at step 2 a finite loss (2e31) and non-finite gradients; first op the
backward MatMul of the head) and the min-max one-liner (NaN in the feature batch at step 0;
first op the first Dense layer's MatMul).
Constructions changed after the first check (expectation fields untouched, the docstrings and
stories rewritten to match): the 16-bit PNG network was first a 4-class phenotype classifier
(sparse cross-entropy from logits); its first updates killed the ReLU network (loss 8.6,
7.2, 4.4, then about log 4 = 1.39) and the 48 steps stayed finite; it is now a
nuclei-counting regression (linear count head, MSE) with the same pipeline, the same '/ 255'
and the same optimizer. The sweep callback scenario first trained on the series' first 500
days (15 steps an epoch) and went inf at step 2541, past the few-hundred-step budget; it now
trains on the first 120 days (4 steps an epoch). The Normalization layer was first adapted
with adapt(dataset.batch(64), steps=1), but Keras 3.15's Normalization.adapt has no steps
argument (TypeError); it is now adapted on the same first batch, adapt(x[:64]).
Caveats a reader should know: five scenarios leave kind None (the check showed the MSE's
Square for the warm-up, the sweep, the sample weights and the Normalization layer, a
forward MatMul for the 16-bit PNGs and a backward MatMul for the uniform kernels); the
output-bias scenario leaves kind None too (its first non-finite value is a weight, set by
the initializer before any step) and names only the layer; its cause, initializer_scale, is
the taxonomy's nearest id for a non-finite initial bias.

Layer names are set explicitly only so the expectations can name them.
"""

from __future__ import annotations

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
from scenario_patterns import _custom_step


def _smooth_regression(rng, n, dim, noise=0.1):
    """Standardized features and a smooth, standardized-scale target."""
    x = rng.normal(size=(n, dim)).astype("float32")
    w = rng.normal(size=(dim,)) / np.sqrt(dim)
    v = rng.normal(size=(dim,)) / np.sqrt(dim)
    y = 1.5 * np.tanh(x @ w) + 0.5 * np.sin(2.0 * (x @ v)) + 0.3 * x[:, 0] * x[:, 1]
    y = y + noise * rng.normal(size=n)
    return x, y.astype("float32").reshape(-1, 1)


# ---------------------------------------------------------------------------------------------
# 1. a multi-task assay classifier whose unmeasured labels are NaN, 'masked' by a product
# ---------------------------------------------------------------------------------------------
def multitask_assay_labels_left_nan_under_a_loss_mask():
    """Tox21-style multi-task toxicity classifier: an MLP on 256-bit molecular fingerprints
    with 12 sigmoid heads (one per assay), a hand-written masked binary cross-entropy
    sum(ce * measured) / sum(measured), measured = 1 - isnan(y). About a quarter of the
    (molecule, assay) pairs were never measured and are NaN in the label matrix, as the
    dataset ships them: the mask multiplies them by 0, but the cross-entropy of a NaN label is
    NaN and NaN * 0 = NaN, so the loss is NaN at the first step. The NaN is already in the
    label batch before any op runs (replace the missing labels by 0 before the loss, and keep
    the mask)."""
    rng = seeded(2300)
    n, bits, tasks = 2048, 256, 12
    x = (rng.random((n, bits)) < 0.08).astype("float32")
    w = rng.normal(size=(bits, tasks)) / np.sqrt(bits * 0.08)
    p = 1.0 / (1.0 + np.exp(-(x @ w - 1.0)))
    y = (rng.random((n, tasks)) < p).astype("float32")
    y[rng.random((n, tasks)) < 0.25] = np.nan  # assay not run on that molecule
    model = mlp([128, 64], name="tox_mlp", input_dim=bits, out=tasks)

    def masked_bce(model, x, y):
        logits = model(x, training=True)
        measured = tf.cast(tf.logical_not(tf.math.is_nan(y)), tf.float32)
        per_label = tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=logits)
        return tf.reduce_sum(per_label * measured) / tf.reduce_sum(measured)

    optimizer = keras.optimizers.Adam(1e-3)
    return run_loop(
        _custom_step(model, optimizer, masked_bce),
        batches(x, y, size=64),
        model=model,
        optimizer=optimizer,
    )


# ---------------------------------------------------------------------------------------------
# 2. a forward-filled sensor table whose late-installed sensor keeps its leading gap
# ---------------------------------------------------------------------------------------------
def _forward_fill(table):
    """What pandas' df.ffill() does, column by column: a NaN takes the last valid value above
    it; the NaNs before a column's first valid value have none and stay NaN."""
    out = table.copy()
    rows = np.arange(len(out))
    for j in range(out.shape[1]):
        column = out[:, j]
        last_valid = np.maximum.accumulate(np.where(np.isnan(column), 0, rows))
        out[:, j] = column[last_valid]
    return out


def forward_fill_leaves_the_gap_before_a_late_sensor():
    """Next-hour load forecaster for a building: an LSTM(32) over 24-hour windows of 6 sensor
    channels, MSE, Adam. The sensor export has dropouts (about 2 % of readings, NaN), which the
    pipeline repairs with a forward fill (df.ffill(), 'carry the last reading forward') before
    standardizing with nanmean / nanstd. The humidity probe was installed 17 days after the
    export starts: its first 400 hours are NaN and a forward fill has nothing to carry into
    them, so they stay NaN; the windows are shuffled and the first batch already holds windows
    from those days: NaN in the feature batch before any op runs (bfill / fill the leading gap,
    or drop the rows before the sensor existed)."""
    rng = seeded(2301)
    hours, sensors, window = 3000, 6, 24
    t = np.arange(hours + 1)
    phases = rng.uniform(0, 2 * np.pi, size=sensors)
    clean = np.stack(
        [
            np.sin(2 * np.pi * t / 24 + phases[j]) + 0.3 * np.sin(2 * np.pi * t / 168 + j)
            for j in range(sensors)
        ],
        axis=1,
    ) + 0.1 * rng.normal(size=(hours + 1, sensors))
    load = clean @ rng.uniform(0.5, 1.5, size=sensors)
    load = (load - load.mean()) / load.std()
    table = clean[:hours].copy()
    table[rng.random(table.shape) < 0.02] = np.nan  # dropouts
    table[:400, 5] = np.nan  # humidity probe installed on day 17
    filled = _forward_fill(table)
    scaled = (filled - np.nanmean(filled, axis=0)) / np.nanstd(filled, axis=0)
    starts = rng.permutation(hours - window)
    x = np.stack([scaled[s : s + window] for s in starts]).astype("float32")
    y = load[starts + window].astype("float32").reshape(-1, 1)
    model = keras.Sequential(
        [
            keras.Input((window, sensors)),
            keras.layers.LSTM(32, name="encoder"),
            keras.layers.Dense(1, name="head"),
        ],
        name="load_lstm",
    )
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        batches(x, y, size=32),
    )


# ---------------------------------------------------------------------------------------------
# 3. 16-bit microscopy PNGs decoded as uint16 and divided by 255
# ---------------------------------------------------------------------------------------------
def sixteen_bit_pngs_divided_by_255():
    """A small CNN counting nuclei in fluorescence-microscopy fields (two Conv2D +
    MaxPooling blocks, a Dense(64) and a linear count head, MSE, SGD(0.01, momentum 0.9)).
    The fields are 16-bit PNGs; the tf.data pipeline decodes them with
    tf.io.decode_png(dtype=tf.uint16) and keeps the '/ 255.0' of the 8-bit tutorial it came
    from, so the inputs are 10-257 instead of 0-1: the first layer's pre-activations and every
    gradient are hundreds of times larger than the recipe's rate was tuned for, and the run
    diverges to inf / NaN within some steps (divide by 65535, or by the dtype's max)."""
    rng = seeded(2302)
    n, size = 512, 32
    counts = rng.integers(0, 12, size=n)
    yy, xx = np.mgrid[:size, :size]
    images = np.empty((n, size, size, 1), dtype=np.uint16)
    for i, count in enumerate(counts):
        field = 3000.0 + 400.0 * rng.normal(size=(size, size))
        for _ in range(count):
            cy, cx = rng.uniform(4, size - 4, size=2)
            field += 25000.0 * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * 2.0**2))
        images[i, :, :, 0] = np.clip(field, 0, 65535).astype(np.uint16)
    encoded = [tf.io.encode_png(image).numpy() for image in images]

    def decode(png, count):
        image = tf.io.decode_png(png, channels=1, dtype=tf.uint16)
        return tf.cast(image, tf.float32) / 255.0, count

    dataset = (
        tf.data.Dataset.from_tensor_slices((encoded, counts.astype("float32").reshape(-1, 1)))
        .map(decode)
        .batch(32)
        .repeat(3)
    )
    model = keras.Sequential(
        [
            keras.Input((size, size, 1)),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv0"),
            keras.layers.MaxPooling2D(2, name="pool0"),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv1"),
            keras.layers.MaxPooling2D(2, name="pool1"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(64, activation="relu", name="dense"),
            keras.layers.Dense(1, name="head"),
        ],
        name="nuclei_count_cnn",
    )
    return run_loop(
        standard_step(
            model,
            keras.optimizers.SGD(learning_rate=0.01, momentum=0.9),
            keras.losses.MeanSquaredError(),
        ),
        list(dataset),
    )


# ---------------------------------------------------------------------------------------------
# 4. a PyTorch warm-up ported to CosineDecay with warmup_target=1.0 read as a factor
# ---------------------------------------------------------------------------------------------
def cosine_decay_warmup_target_taken_for_a_factor():
    """A tabular regression MLP (16 standardized features, 2 x 128 ReLU, MSE) whose PyTorch
    recipe is SGD(lr=0.05, momentum=0.9) with LinearLR(..., end_factor=1.0, total_iters=200)
    warm-up then cosine annealing. The Keras port writes CosineDecay(initial_learning_rate=
    0.05, decay_steps=2000, warmup_steps=200, warmup_target=1.0), reading warmup_target as
    LinearLR's end_factor ('warm up to 100 % of the base rate'); Keras' warmup_target is the
    absolute rate at the end of the warm-up, so the rate climbs from 0.05 to 1.0, twenty times
    the recipe's peak, and the run diverges to inf / NaN part-way through the warm-up after
    some healthy steps (warmup_target=0.05: the recipe's rate)."""
    rng = seeded(2303)
    x, y = _smooth_regression(rng, 8192, 16)
    model = mlp([128, 128], name="recipe_mlp", input_dim=16)
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.05, decay_steps=2000, warmup_target=1.0, warmup_steps=200
    )
    optimizer = keras.optimizers.SGD(learning_rate=schedule, momentum=0.9)
    return run_loop(
        standard_step(model, optimizer, keras.losses.MeanSquaredError()),
        batches(x, y, size=64, epochs=2),
    )


# ---------------------------------------------------------------------------------------------
# 5. the learning-rate sweep callback left in the final fit
# ---------------------------------------------------------------------------------------------
class _SweepCallbackRate(keras.optimizers.schedules.LearningRateSchedule):
    """What keras.callbacks.LearningRateScheduler(lambda epoch: 1e-8 * 10 ** (epoch / 20))
    does to the optimizer: at the start of every epoch it overwrites the learning rate."""

    def __init__(self, steps_per_epoch):
        self.steps_per_epoch = steps_per_epoch

    def __call__(self, step):
        epoch = tf.math.floordiv(tf.cast(step, tf.float32), float(self.steps_per_epoch))
        return 1e-8 * tf.pow(10.0, epoch / 20.0)


def lr_sweep_callback_left_in_the_final_fit():
    """The time-series course's DNN forecaster (20-step windows of the first 120 days of a
    synthetic daily series, trend + yearly seasonality + noise, values 10-100 left unscaled as
    in the course; Dense
    10-10-1, MSE, SGD with momentum 0.9). The learning-rate sweep (a LearningRateScheduler
    callback raising the rate 10x every 20 epochs from 1e-8) was run, 8e-6 was read off the
    plot and set on the optimizer, but the final 500-epoch fit was copied from the sweep cell
    with callbacks=[lr_schedule] still in it: the callback overwrites the chosen rate every
    epoch, the rate passes 1e-5, 1e-4, ... and the run diverges to inf / NaN after some
    healthy epochs (remove the callback: train at the rate read off the sweep)."""
    rng = seeded(2304)
    time = np.arange(4 * 365 + 1, dtype="float64")
    season = (time % 365) / 365
    pattern = np.where(season < 0.4, np.cos(season * 2 * np.pi), 1 / np.exp(3 * season))
    series = 10.0 + 0.05 * time + 40.0 * pattern + 5.0 * rng.normal(size=time.shape)
    train, window, batch = series[:120], 20, 32
    starts = np.arange(len(train) - window)
    x = np.stack([train[s : s + window] for s in starts]).astype("float32")
    y = train[starts + window].astype("float32").reshape(-1, 1)
    steps_per_epoch = -(-len(x) // batch)
    model = keras.Sequential(
        [
            keras.Input((window,)),
            keras.layers.Dense(10, activation="relu", name="hidden0"),
            keras.layers.Dense(10, activation="relu", name="hidden1"),
            keras.layers.Dense(1, name="head"),
        ],
        name="course_dnn",
    )
    # the rate read off the sweep (8e-6) is what the optimizer was given; the callback kept in
    # the fit overwrites it at every epoch
    optimizer = keras.optimizers.SGD(
        learning_rate=_SweepCallbackRate(steps_per_epoch), momentum=0.9
    )

    def shuffled_epochs(epochs):
        for _ in range(epochs):
            order = rng.permutation(len(x))
            yield from batches(x[order], y[order], size=batch)

    return run_loop(
        standard_step(model, optimizer, keras.losses.MeanSquaredError()), shuffled_epochs(500)
    )


# ---------------------------------------------------------------------------------------------
# 6. the imbalanced-data tutorial's output bias log(pos / neg) from rows not yet labelled
# ---------------------------------------------------------------------------------------------
def output_bias_from_the_prior_of_rows_not_yet_labelled():
    """A card-fraud classifier built after TensorFlow's imbalanced-data tutorial: an MLP on 30
    standardized features (Dense(16, relu), Dropout(0.5), a logit head), binary
    cross-entropy from logits, Adam, batches of 2048, with the tutorial's 'correct initial
    bias' b0 = log(pos / neg) given to the head as a Constant bias initializer. The prior was
    computed on the export's most recent 1000 transactions (df.tail(1000)), whose chargeback
    labels have not come in yet: all 0, pos = 0 and b0 = log(0) = -inf (numpy only warns).
    The head's bias is -inf before the first step, every logit is -inf and the loss is NaN
    at step 0 (compute the prior on the labelled training rows, or start the bias at 0)."""
    rng = seeded(2305)
    n, dim = 8192, 30
    x = rng.normal(size=(n, dim)).astype("float32")
    score = x @ (rng.normal(size=dim) / np.sqrt(dim)) + 0.5 * rng.normal(size=n)
    fraud = (score > np.quantile(score, 0.99)).astype("float32")
    fraud[-1000:] = 0.0  # chargebacks of the last weeks not reported yet
    pos, neg = fraud[-1000:].sum(), 1000 - fraud[-1000:].sum()
    with np.errstate(divide="ignore"):
        initial_bias = np.log([pos / neg])
    model = keras.Sequential(
        [
            keras.Input((dim,)),
            keras.layers.Dense(16, activation="relu", name="hidden0"),
            keras.layers.Dropout(0.5, name="dropout"),
            keras.layers.Dense(
                1,
                bias_initializer=keras.initializers.Constant(float(initial_bias[0])),
                name="head",
            ),
        ],
        name="fraud_mlp",
    )
    train_x, train_y = x[:-1000], fraud[:-1000].reshape(-1, 1)
    return run_loop(
        standard_step(
            model,
            keras.optimizers.Adam(1e-3),
            keras.losses.BinaryCrossentropy(from_logits=True),
        ),
        batches(train_x, train_y, size=2048, epochs=2),
    )


# ---------------------------------------------------------------------------------------------
# 7. transaction counts of aggregated rows passed as sample weights
# ---------------------------------------------------------------------------------------------
def transaction_counts_passed_as_sample_weights():
    """Average basket value per (store, hour) cell, regressed by an MLP on 12 standardized
    features with Keras' MeanSquaredError and SGD(0.01, momentum 0.9), the rate tuned on the
    raw one-row-per-transaction table. To save memory the table was aggregated to one row per
    cell and the number of transactions in the cell (1 to tens of thousands, mean ~170) is
    passed as sample_weight 'so that each transaction still counts once'. Keras' default
    reduction divides the weighted sum by the batch size, not by the sum of the weights, so
    the gradients are ~170 times (and on batches holding a busy cell thousands of times)
    larger than the tuned ones: an effective rate far past the stable one, and the run
    diverges to inf / NaN within some steps (normalize the weights to mean 1, or divide the
    rate by their mean)."""
    rng = seeded(2306)
    n, dim = 4096, 12
    x, y = _smooth_regression(rng, n, dim)
    counts = np.ceil(rng.lognormal(mean=4.0, sigma=1.5, size=n)).astype("float32")
    model = mlp([64, 64], name="basket_mlp", input_dim=dim)
    mse = keras.losses.MeanSquaredError()

    def weighted_mse(model, x, y, w):
        return mse(y, model(x, training=True), sample_weight=w)

    optimizer = keras.optimizers.SGD(learning_rate=0.01, momentum=0.9)
    data = [
        (tf.constant(x[s : s + 64]), tf.constant(y[s : s + 64]), tf.constant(counts[s : s + 64]))
        for s in range(0, n, 64)
    ]
    return run_loop(
        _custom_step(model, optimizer, weighted_mse), data, model=model, optimizer=optimizer
    )


# ---------------------------------------------------------------------------------------------
# 8. a Normalization layer adapted on one batch in which a rare flag never occurs
# ---------------------------------------------------------------------------------------------
def normalization_adapted_on_one_batch_missing_a_rare_flag():
    """Hourly bike-demand regression: keras.layers.Normalization as the first layer, then
    2 x 64 ReLU and a linear head, MSE, SGD(0.01, momentum 0.9). To save time the layer was
    adapted on one batch only, adapt(next(iter(train_ds))), the first 64 date-ordered rows
    (the first days of January). The is_holiday flag (about 3 % of the rows) is 0 throughout
    that batch: its adapted variance is 0, Keras divides by max(sqrt(var), epsilon) = 1e-7,
    and every holiday row of the shuffled training batches reaches the first Dense layer
    with a value of 1e7 in that column; the first updates throw the weights out and the run
    diverges to inf / NaN within a few steps (adapt on the whole training set)."""
    rng = seeded(2307)
    n = 4096
    day = np.arange(n) // 24
    hour = np.arange(n) % 24
    holiday_days = rng.choice(np.arange(5, day.max() + 1), size=6, replace=False)
    is_holiday = np.isin(day, holiday_days).astype("float64")
    temperature = 5.0 + 0.1 * day + 4.0 * np.sin(2 * np.pi * (hour - 9) / 24) + rng.normal(size=n)
    humidity = rng.uniform(30, 90, size=n)
    wind = rng.gamma(2.0, 3.0, size=n)
    weekday = ((day % 7) < 5).astype("float64")
    x = np.stack(
        [
            temperature,
            humidity,
            wind,
            np.sin(2 * np.pi * hour / 24),
            np.cos(2 * np.pi * hour / 24),
            weekday,
            is_holiday,
        ],
        axis=1,
    ).astype("float32")
    demand = (
        0.8 * np.sin(2 * np.pi * (hour - 8) / 24)
        + 0.05 * temperature
        - 0.01 * humidity
        - 0.5 * is_holiday * weekday
        + 0.2 * rng.normal(size=n)
    )
    y = ((demand - demand.mean()) / demand.std()).astype("float32").reshape(-1, 1)
    normalizer = keras.layers.Normalization(name="normalizer")
    normalizer.adapt(x[:64])  # the first batch of the date-ordered training set
    model = keras.Sequential(
        [
            keras.Input((x.shape[1],)),
            normalizer,
            keras.layers.Dense(64, activation="relu", name="hidden0"),
            keras.layers.Dense(64, activation="relu", name="hidden1"),
            keras.layers.Dense(1, name="head"),
        ],
        name="bike_mlp",
    )
    order = rng.permutation(n)
    return run_loop(
        standard_step(
            model,
            keras.optimizers.SGD(learning_rate=0.01, momentum=0.9),
            keras.losses.MeanSquaredError(),
        ),
        batches(x[order], y[order], size=64),
    )


# ---------------------------------------------------------------------------------------------
# 9. RandomUniform(minval=0, maxval=1) kernels copied from the docs example
# ---------------------------------------------------------------------------------------------
def random_uniform_zero_one_kernels_from_the_docs_example():
    """A tabular regression MLP (16 standardized features, 4 x 64 ReLU, a linear head, MSE,
    the compile default optimizer='sgd', i.e. SGD(0.01)) whose hidden layers were given
    kernel_initializer=keras.initializers.RandomUniform(minval=0.0, maxval=1.0), copied from
    the initializer's docs example ('weights between 0 and 1'). All-positive kernels with a
    mean of 0.5 add up coherently: every hidden layer multiplies the activations by about
    64 x 0.5 = 32, the predictions start near 1e4-1e5 on a target of order 1, the first
    gradients are ~1e9 and the first SGD updates throw the weights out: inf / NaN within a
    few steps (a fan-in-scaled, zero-mean initializer: He / Glorot)."""
    rng = seeded(2308)
    x, y = _smooth_regression(rng, 4096, 16)
    initializer = keras.initializers.RandomUniform(minval=0.0, maxval=1.0)
    model = mlp(
        [64, 64, 64, 64], name="uniform_init_mlp", input_dim=16, kernel_initializer=initializer
    )
    return run_loop(
        standard_step(model, keras.optimizers.SGD(), keras.losses.MeanSquaredError()),
        batches(x, y, size=32),
    )


# ---------------------------------------------------------------------------------------------
# 10. the pandas min-max one-liner over a column constant in the training period
# ---------------------------------------------------------------------------------------------
def minmax_one_liner_over_a_column_constant_in_the_training_period():
    """A dense autoencoder for anomaly detection on a machine's 15 process channels
    (15 -> 8 -> 4 -> 8 -> 15, sigmoid output to match [0, 1] inputs, MSE, Adam), the table
    scaled with the popular one-liner (df - df.min()) / (df.max() - df.min()). One channel,
    the state of the stand-by coolant pump, is 0 during the whole training month (the pump
    never switched on): its max - min is 0 and the one-liner gives 0 / 0 = NaN in every row
    of that column, so every feature batch holds NaN before any op runs (drop constant
    columns or guard the range: divide by max - min only where it is > 0)."""
    rng = seeded(2309)
    n, channels = 4096, 15
    t = np.arange(n)
    base = rng.normal(size=(n, 3))
    table = np.concatenate(
        [
            base @ rng.normal(size=(3, channels - 1))
            + 0.2 * rng.normal(size=(n, channels - 1))
            + 50.0 * rng.random(channels - 1)
            + np.sin(2 * np.pi * t / 96)[:, None],
            np.zeros((n, 1)),  # stand-by coolant pump: off all month
        ],
        axis=1,
    )
    with np.errstate(invalid="ignore"):
        scaled = (table - table.min(axis=0)) / (table.max(axis=0) - table.min(axis=0))
    scaled = scaled.astype("float32")
    model = keras.Sequential(
        [
            keras.Input((channels,)),
            keras.layers.Dense(8, activation="relu", name="enc0"),
            keras.layers.Dense(4, activation="relu", name="code"),
            keras.layers.Dense(8, activation="relu", name="dec0"),
            keras.layers.Dense(channels, activation="sigmoid", name="reconstruction"),
        ],
        name="pump_autoencoder",
    )
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        batches(scaled, scaled, size=64),
    )


# ---------------------------------------------------------------------------------------------
# what a correct report says
# ---------------------------------------------------------------------------------------------
BLIND23_SCENARIOS: list[Scenario] = [
    Scenario(
        "multitask_assay_labels_left_nan_under_a_loss_mask",
        multitask_assay_labels_left_nan_under_a_loss_mask,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="a multi-task (Tox21-style) classifier whose unmeasured assays are NaN labels, "
        "'masked' by multiplying the per-label cross-entropy by 1 - isnan(y): NaN * 0 = NaN, "
        "the NaN is in the label batch (https://github.com/keras-team/keras/issues/1628, "
        "https://github.com/keras-team/keras/issues/3893, "
        "https://github.com/deepchem/deepchem/issues/1175, "
        "https://github.com/chemprop/chemprop/pull/1303, "
        "https://github.com/JayYip/m3tl/pull/35)",
        blind=True,
    ),
    Scenario(
        "forward_fill_leaves_the_gap_before_a_late_sensor",
        forward_fill_leaves_the_gap_before_a_late_sensor,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="an hourly LSTM forecaster whose sensor table was repaired with a forward fill: "
        "a sensor installed after the export starts keeps its leading NaN (nothing to carry "
        "forward) and the shuffled windows bring it into the feature batch "
        "(https://stackoverflow.com/questions/52570199/multivariate-lstm-with-missing-values, "
        "https://github.com/static-frame/static-frame/issues/28, "
        "https://github.com/unit8co/darts/issues/1107)",
        blind=True,
    ),
    Scenario(
        "sixteen_bit_pngs_divided_by_255",
        sixteen_bit_pngs_divided_by_255,
        None,
        cause="unscaled_input",
        fixes=frozenset({"rescale_input"}),
        story="16-bit microscopy PNGs decoded with decode_png(dtype=tf.uint16) and divided by "
        "255 as in the 8-bit tutorial: inputs up to 257 into a nuclei-counting CNN trained "
        "with SGD momentum, which diverges (https://github.com/Nerogar/mgds/issues/55, "
        "https://github.com/JiahuiYu/generative_inpainting/issues/259, "
        "https://github.com/ultralytics/ultralytics/issues/21645, "
        "https://github.com/tensorflow/datasets/pull/892)",
        blind=True,
    ),
    Scenario(
        "cosine_decay_warmup_target_taken_for_a_factor",
        cosine_decay_warmup_target_taken_for_a_factor,
        None,
        cause="learning_rate_too_high",
        fixes=frozenset({"lower_learning_rate"}),
        story="a PyTorch LinearLR(end_factor=1.0) warm-up ported as Keras CosineDecay("
        "initial_learning_rate=0.05, warmup_target=1.0): warmup_target is an absolute rate, "
        "SGD momentum warms up to 1.0 and diverges during the warm-up "
        "(https://github.com/keras-team/keras/issues/18747, "
        "https://github.com/tensorflow/tensorflow/pull/28623)",
        blind=True,
    ),
    Scenario(
        "lr_sweep_callback_left_in_the_final_fit",
        lr_sweep_callback_left_in_the_final_fit,
        None,
        cause="learning_rate_too_high",
        fixes=frozenset({"lower_learning_rate"}),
        story="the LearningRateScheduler(lambda epoch: 1e-8 * 10 ** (epoch / 20)) sweep "
        "callback left in the final fit of a time-series DNN: it overwrites the rate read "
        "off the plot every epoch and the rate keeps rising until SGD diverges "
        "(https://parklize.blogspot.com/2022/07/how-to-tune-learning-rate-for-machine.html, "
        "https://theailearner.com/2019/07/23/keras-callbacks-learningratescheduler, "
        "https://github.com/keras-team/keras/issues/8332)",
        blind=True,
    ),
    Scenario(
        "output_bias_from_the_prior_of_rows_not_yet_labelled",
        output_bias_from_the_prior_of_rows_not_yet_labelled,
        None,
        layer="fraud_mlp/head",
        cause="initializer_scale",
        fixes=frozenset({"change_initializer"}),
        story="the imbalanced-data tutorial's initial output bias log(pos / neg) computed on "
        "recent rows whose labels are not in yet: pos = 0, the head's bias is -inf and the "
        "loss is NaN at the first step (https://github.com/jbohnslav/deepethogram/issues/15, "
        "https://github.com/keras-team/keras/issues/20357, "
        "https://github.com/wellcometrust/grants_tagger/pull/26)",
        blind=True,
    ),
    Scenario(
        "transaction_counts_passed_as_sample_weights",
        transaction_counts_passed_as_sample_weights,
        None,
        cause=frozenset({"unscaled_input", "learning_rate_too_high"}),
        fixes=frozenset({"rescale_input"}),
        story="aggregated rows weighted by their transaction counts (mean ~170) through "
        "sample_weight, with Keras dividing by the batch size and the rate tuned for unit "
        "weights: the gradients are hundreds of times larger and SGD diverges "
        "(https://github.com/keras-team/keras/issues/7394, "
        "https://github.com/keras-team/keras/pull/20410, "
        "https://github.com/keras-team/keras/issues/13113)",
        blind=True,
    ),
    Scenario(
        "normalization_adapted_on_one_batch_missing_a_rare_flag",
        normalization_adapted_on_one_batch_missing_a_rare_flag,
        None,
        cause="unscaled_input",
        fixes=frozenset({"rescale_input"}),
        story="keras.layers.Normalization adapted on one batch (adapt(next(iter(ds)))) in which "
        "a rare holiday flag is always 0: variance 0, Keras divides by epsilon = 1e-7 and "
        "the holiday rows reach the first Dense layer at 1e7; SGD diverges "
        "(https://github.com/keras-team/keras/issues/20011, "
        "https://github.com/Dobiasd/frugally-deep/pull/384)",
        blind=True,
    ),
    Scenario(
        "random_uniform_zero_one_kernels_from_the_docs_example",
        random_uniform_zero_one_kernels_from_the_docs_example,
        None,
        cause="initializer_scale",
        fixes=frozenset({"change_initializer"}),
        story="RandomUniform(minval=0.0, maxval=1.0) kernels copied from the initializer's "
        "docs example into a 4 x 64 ReLU MLP: all-positive weights multiply the activations "
        "by ~32 a layer and SGD diverges within a few steps "
        "(https://www.tensorflow.org/api_docs/python/tf/keras/initializers/RandomUniform, "
        "https://github.com/wkentaro/pytorch-fcn/issues/167, "
        "https://github.com/HuwCampbell/grenade/issues/51)",
        blind=True,
    ),
    Scenario(
        "minmax_one_liner_over_a_column_constant_in_the_training_period",
        minmax_one_liner_over_a_column_constant_in_the_training_period,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="the pandas one-liner (df - df.min()) / (df.max() - df.min()) on a table with "
        "a channel constant over the training period: 0 / 0 = NaN in every row of that "
        "column of the feature batch "
        "(https://datascience.stackexchange.com/questions/38913/normalizing-data-and-"
        "avoiding-dividing-by-zero/45474, "
        "https://www.exchangetuts.com/index.php/why-normalization-using-z-score-in-pandas-"
        "dataframe-generates-nan-columns-1764295802584246)",
        blind=True,
    ),
]
