"""A twenty-seventh set of NaN scenarios from public bug patterns, written BLIND (2026-12-05).

Written without reading nantrace's package, its docs, its README, its benchmarks or its test
modules (only the scenario helpers of ``scenario_cases.py`` (lines 1-120) /
``scenario_patterns.py`` (lines 1-50: ``_custom_step``), the format of ``scenario_blind20.py``,
the taxonomy section of the design notes and the list of names and one-line stories of the
existing scenarios), without git log or diff output of other files, and without importing or
running nantrace: each expectation comes from the bug pattern itself (where a careful ML
engineer would say the first non-finite value appears, why, and the first fix to try), and all
ten were written into this file before anything was run. The patterns come from public reports
found with a search over GitHub issues and pull requests and stored web pages (Q&A threads,
tutorials, notebooks); each story cites them.

Theme: the NaN questions ordinary ML engineers ask most, in everyday code. Tabular: the Telco
churn table whose blank TotalCharges are coerced to NaN after the imputation already ran, and
the Kaggle house-prices habit of concatenating train and test for preprocessing, here sorted by
sale date before the first ntrain rows are taken back as the training set. Time series: a
transaction log pivoted to a store x day matrix without fill_value (days without a sale are
NaN), and a GRU forecaster whose hand-written warm-up divides by a step count computed from the
cardinality of a filtered tf.data pipeline (-2, unknown). NLP: a hand-written masked mean
pooling without the clamp of the denominator, on tweets that the cleaning empties, and a
three-class sentiment column mapped with the binary tutorial's {'positive': 1, 'negative': 0}.
Image classification: a gray-world white balance in the tf.data map applied to the black
placeholder images a loader substitutes for unreadable files, and a pretrained backbone
fine-tuned without the Rescaling(1 / 255) that lived in the pretraining wrapper. Custom losses
and loops: an RMSE loss with its square left out, and gradient accumulation whose loss is
divided by target_batch // batch_size, which is 0 once the batch was raised.

Fix ids are only those of the design notes' taxonomy; where none of them is the first fix a
careful engineer would try, the fix set is left empty, and where the pattern does not determine
a field it is None. pandas is not a dependency of the test suite, so the pandas steps of the
stories (to_numeric(errors='coerce'), pivot_table, Series.map, concat / sort_values) are
reproduced with numpy code that has their semantics (unparseable -> NaN, missing cell -> NaN,
unmapped key -> NaN, row order).

The only thing checked after writing them is that plain TensorFlow, unwatched, really goes
non-finite on their batches (loss, gradients, weights, and at which step), and (with
tf.debugging.enable_check_numerics, plain TF) which op first produces the non-finite value, in
a throwaway script outside the repository that stands in plain-TF versions of the loop helpers
and asserts that nantrace was never imported. No expectation field (kind, op types, layer,
cause, fixes) was changed after that check, and no pattern was dropped.
What the check showed: the Telco table (NaN features from step 2, the first batch with a tenure-0 row: the loss
stays finite, 0.70, while gradients and weights turn NaN; first op hidden0's MatMul of the NaN
feature), the Kaggle concat (NaN labels at step 1: loss, gradients and weights NaN; first op the
MSE's Sub), the pivot (NaN at step 0; first op the LSTM cell's MatMul), the RMSE without its
square (loss 0.22 at step 0, NaN at step 1; first op the loss's Sqrt), the masked mean pooling
(NaN at step 0; first op mean_pool's RealDiv), the cardinality warm-up (warmup_steps = -1; the
loss grows 0.56, 8e6 at step 8, 4e24 at step 16 and is inf at step 21 while that step's
gradients and weights are still finite; first op the MSE's Sum, +inf; with check_numerics on
from the start it first flags the Placeholder of the tf.data filter, which sees the NaN windows
that the filter then drops, so it was switched on after the pipeline was built), the gray-world
balance (NaN in the image batch at step 0; first op the RealDiv of the tf.data map; the loss of
that step is still finite, 1.6, the gradients and weights NaN), the sentiment map (NaN labels at
step 0; first op the binary cross-entropy's Mul), the fine-tuning without Rescaling (after the
change below: loss 256, 5.7e4, 3.3e11 at steps 0-2, NaN with gradients and weights at step 4;
first op the backbone's conv1 Conv2D, at step 3) and the accumulation divided by 0 (the loss is
inf at step 0, gradients and weights NaN; first op the RealDiv of the loss).
Construction changed after the first check (expectation fields untouched): the fine-tuning
backbone first used ReLU convolutions; the loss spiked to 5.7e5 at step 2 and then every unit
died and training went on at log 4, finite. The backbone now uses Keras' 'leaky_relu'
activation (slope 0.2), which keeps the factor 255 flowing; the run then diverges to NaN.
Caveats a reader should know: five of the ten are input_data patterns (features or labels
already NaN in the batch), as the theme's most common questions are; two leave kind None
(the warm-up and the fine-tuning: the check showed the MSE's Sum and a Conv2D); the
accumulation scenario's cause is None and several fix sets are empty where no taxonomy id is
the first fix (restore the square of the RMSE, validate the step count);
the pandas steps are reproduced in numpy (see above).

Layer names are set explicitly only so the expectations can name them.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import ops
from scenario_cases import (
    Scenario,
    batches,
    mlp,
    run_loop,
    seeded,
    standard_step,
)


def _to_numeric_coerce(strings):
    """pd.to_numeric(strings, errors='coerce'): what does not parse becomes NaN."""
    out = np.empty(len(strings), dtype="float64")
    for i, s in enumerate(strings):
        try:
            out[i] = float(s)
        except ValueError:
            out[i] = np.nan
    return out


def _standardize(columns):
    """(x - mean) / std per column, skipping NaN as pandas' mean() / std() do."""
    return (columns - np.nanmean(columns, axis=0)) / np.nanstd(columns, axis=0, ddof=1)


# ---------------------------------------------------------------------------------------------
# 1. Telco churn: blank TotalCharges coerced to NaN AFTER the fillna already ran
# ---------------------------------------------------------------------------------------------
def telco_total_charges_blanks_coerced_after_the_fillna():
    """Telco customer churn (tenure, MonthlyCharges, TotalCharges, a one-hot Contract), an MLP
    with binary cross-entropy from logits. TotalCharges is read as text because new customers
    (tenure 0) have a blank ' ' there. The notebook first imputes, df.fillna(df.median(
    numeric_only=True)), which finds nothing to fill (the blanks are strings, not NaN, and the
    column is not numeric yet), and only then converts, pd.to_numeric(df['TotalCharges'],
    errors='coerce'): the blanks become NaN after the imputation and reach the feature batch
    (standardizing with pandas' NaN-skipping mean / std keeps them NaN). Clean the column after
    the conversion (impute or drop those rows)."""
    rng = seeded(2700)
    n = 2048
    tenure = rng.integers(0, 73, size=n)
    monthly = rng.uniform(18.25, 118.75, size=n)
    total = tenure * monthly * rng.uniform(0.95, 1.05, size=n)
    total_text = np.where(tenure == 0, " ", np.char.mod("%.2f", total))
    contract = rng.integers(0, 3, size=n)  # month-to-month, one year, two year
    logit = 1.0 - 0.05 * tenure + 0.02 * (monthly - 70.0) + 1.2 * (contract == 0)
    churn = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype("float32")
    # df.fillna(df.median(numeric_only=True)) ran here: nothing to fill yet
    total_charges = _to_numeric_coerce(total_text)
    numeric = _standardize(np.stack([tenure, monthly, total_charges], axis=1))
    x = np.concatenate([numeric, np.eye(3)[contract]], axis=1).astype("float32")
    model = mlp([32, 16], name="churn_mlp", input_dim=x.shape[1])
    return run_loop(
        standard_step(
            model,
            keras.optimizers.Adam(1e-3),
            keras.losses.BinaryCrossentropy(from_logits=True),
        ),
        batches(x, churn.reshape(-1, 1), size=64),
    )


# ---------------------------------------------------------------------------------------------
# 2. Kaggle house prices: train + test concatenated, sorted by sale date, then split by position
# ---------------------------------------------------------------------------------------------
def kaggle_train_and_test_concatenated_then_sorted_by_sale_date():
    """House-prices regression (an MLP on 10 standardized features, MSE on log1p(SalePrice)).
    As in many Kaggle kernels, train (1460 rows) and test (1459 rows, no SalePrice) are
    concatenated with pd.concat so that one preprocessing pass covers both; a later edit sorts
    the combined frame by sale date (YrSold, MoSold) to compute a rolling market-index feature,
    and the training set is still taken back as all_data[:ntrain]. The test houses were sold
    in the same months, so about half of those first rows are test rows whose SalePrice is
    NaN: log1p(NaN) is NaN in the label batch (split by an is_train flag, not by position)."""
    rng = seeded(2701)
    n_train, n_test, dim = 1460, 1459, 10
    n = n_train + n_test
    features = rng.normal(size=(n, dim))
    w = rng.normal(size=dim) / np.sqrt(dim)
    price = np.exp(12.0 + 0.35 * np.tanh(features @ w) + 0.1 * rng.normal(size=n))
    price[n_train:] = np.nan  # the test rows have no SalePrice
    sold = rng.integers(0, 60, size=n)  # months since January 2006, train and test alike
    order = np.argsort(sold, kind="stable")  # all_data.sort_values(['YrSold', 'MoSold'])
    market = np.array([np.mean(features[sold <= m, 0]) for m in sold])  # rolling index
    all_x = np.concatenate([features, market[:, None]], axis=1)[order]
    all_y = np.log1p(price)[order]
    x_train = _standardize(all_x[:n_train]).astype("float32")
    y_train = all_y[:n_train].astype("float32").reshape(-1, 1)
    model = mlp([64, 32], name="house_mlp", input_dim=dim + 1)
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        batches(x_train, y_train, size=32),
    )


# ---------------------------------------------------------------------------------------------
# 3. a transaction log pivoted to store x day without fill_value, windowed for an LSTM
# ---------------------------------------------------------------------------------------------
def store_sales_pivot_without_fill_value():
    """Multi-store daily sales forecaster: the transaction log (one row per store and day WITH
    a sale) is turned into a day x store matrix with df.pivot_table(index='date',
    columns='store', values='sales', aggfunc='sum'), scaled per store by its maximum, cut into
    28-day windows and fed to an LSTM(32) -> Dense(8) predicting the next day of all stores
    (MSE). pivot_table fills the cells of days without any row with NaN, not 0 (fill_value=0
    was left out): two of the stores are closed on Sundays and all have a few days without a
    sale, so every window holds NaN in the feature batch (fill_value=0, or fillna(0))."""
    rng = seeded(2702)
    days, stores, window = 700, 8, 28
    t = np.arange(days)
    level = rng.uniform(50, 400, size=stores)
    season = 1.0 + 0.3 * np.sin(2 * np.pi * t[:, None] / 7.0 + rng.uniform(0, 6, size=stores))
    sales = rng.poisson(level * season).astype("float64")
    has_row = rng.random((days, stores)) > 0.02  # days without a sale leave no row
    has_row[:, :2] &= (t % 7 != 6)[:, None]  # two stores closed on Sundays
    wide = np.where(has_row, sales, np.nan)  # pivot_table without fill_value
    wide = wide / np.nanmax(wide, axis=0)  # wide / wide.max()
    x = np.stack([wide[i : i + window] for i in range(days - window)]).astype("float32")
    y = wide[window:].astype("float32")
    model = keras.Sequential(
        [
            keras.Input((window, stores)),
            keras.layers.LSTM(32, name="lstm"),
            keras.layers.Dense(stores, name="head"),
        ],
        name="store_forecaster",
    )
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        batches(x, y, size=32),
    )


# ---------------------------------------------------------------------------------------------
# 4. an RMSE loss for model.compile with the square left out
# ---------------------------------------------------------------------------------------------
def rmse_loss_with_the_square_left_out():
    """An energy-efficiency regressor (an MLP on 8 standardized features, standardized heating
    load) compiled with a hand-written RMSE loss, 'because the competition scores RMSE',
    typed as K.sqrt(K.mean(y_pred - y_true)): the square inside the mean was left out. The
    mean of signed residuals is negative on about half the batches from the start (and the
    optimizer drives it down), and the square root of a negative number is NaN in the loss
    (sqrt(mean(square(y_pred - y_true))), or plain MSE)."""
    rng = seeded(2703)
    n, dim = 4096, 8
    x = rng.normal(size=(n, dim)).astype("float32")
    w = rng.normal(size=dim) / np.sqrt(dim)
    y = np.tanh(x @ w) + 0.3 * x[:, 0] * x[:, 1] + 0.1 * rng.normal(size=n)
    y = ((y - y.mean()) / y.std()).astype("float32").reshape(-1, 1)
    model = mlp([64, 64], name="energy_mlp", input_dim=dim)

    def root_mean_squared_error(y_true, y_pred):
        return ops.sqrt(ops.mean(y_pred - y_true))

    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), root_mean_squared_error),
        batches(x, y, size=64),
    )


# ---------------------------------------------------------------------------------------------
# 5. hand-written masked mean pooling without the clamp, on tweets the cleaning empties
# ---------------------------------------------------------------------------------------------
class MaskedMeanPool(keras.layers.Layer):
    """Mean of the token vectors over the non-padding positions (id 0 is padding)."""

    def call(self, vectors, token_ids):
        mask = ops.expand_dims(ops.cast(ops.not_equal(token_ids, 0), vectors.dtype), -1)
        return ops.sum(vectors * mask, axis=1) / ops.sum(mask, axis=1)


def masked_mean_pooling_of_tweets_emptied_by_cleaning():
    """A tweet classifier (Embedding(5000, 32) -> Dense(32, relu) per token -> masked mean
    pooling -> Dense(1), binary cross-entropy from logits). The pooling is written by hand,
    sum(h * mask) / sum(mask), as in the sentence-transformers mean_pooling recipe but without
    its clamp(min=1e-9) of the denominator. The cleaning step strips @mentions, URLs and
    emoji before tokenization, so the tweets that were only a mention and a link (about one in
    twenty-five) come out as all padding: sum(mask) = 0 and the pooled vector is 0 / 0 = NaN
    inside the model at the first step (clamp the count: sum(mask) + eps, or max(., 1))."""
    rng = seeded(2704)
    n, vocab, max_len = 4096, 5000, 40
    lengths = rng.integers(3, max_len + 1, size=n)
    lengths[rng.random(n) < 0.04] = 0  # '@airline https://t.co/...' -> ''
    polarity = rng.normal(size=vocab)
    tokens = np.zeros((n, max_len), dtype="int32")
    labels = np.zeros(n, dtype="float32")
    for i, length in enumerate(lengths):
        ids = rng.integers(1, vocab, size=length)
        tokens[i, :length] = ids
        score = polarity[ids].mean() if length else 0.0
        labels[i] = float(rng.random() < 1.0 / (1.0 + np.exp(-4.0 * score)))
    inputs = keras.Input((max_len,), dtype="int32")
    h = keras.layers.Embedding(vocab, 32, name="embedding")(inputs)
    h = keras.layers.Dense(32, activation="relu", name="token_proj")(h)
    pooled = MaskedMeanPool(name="mean_pool")(h, inputs)
    outputs = keras.layers.Dense(1, name="head")(pooled)
    model = keras.Model(inputs, outputs, name="tweet_classifier")
    return run_loop(
        standard_step(
            model,
            keras.optimizers.Adam(1e-3),
            keras.losses.BinaryCrossentropy(from_logits=True),
        ),
        batches(tokens, labels.reshape(-1, 1), size=64),
    )


# ---------------------------------------------------------------------------------------------
# 6. a warm-up schedule sized from the cardinality of a filtered tf.data pipeline (-2)
# ---------------------------------------------------------------------------------------------
class LinearWarmup(keras.optimizers.schedules.LearningRateSchedule):
    """base * min(1, step / warmup_steps), written by hand."""

    def __init__(self, base, warmup_steps):
        self.base = base
        self.warmup_steps = warmup_steps

    def __call__(self, step):
        return self.base * ops.minimum(1.0, ops.cast(step, "float32") / self.warmup_steps)


def warmup_steps_from_the_unknown_cardinality_of_a_filtered_dataset():
    """An hourly load forecaster (GRU(32) -> Dense(1) on 24-hour windows of 3 standardized
    channels, MSE, SGD(0.05, momentum 0.9)) with a hand-written linear warm-up over the first
    10 % of training. The windows come from a tf.data pipeline that drops windows with sensor
    gaps (.filter(...)), and the step count is read from it as
    int(ds.batch(64).cardinality()) * epochs: after a filter the cardinality is UNKNOWN, -2, so
    warmup_steps = int(0.1 * 5 * -2) = -1 and the 'warm-up' rate is base * min(1, -step): a
    NEGATIVE rate that grows with the step count. SGD climbs the loss instead of descending,
    faster at every step, and the run diverges to inf / NaN after some steps (compute the
    steps from the data, or assert_cardinality; Keras' own schedules now reject
    decay_steps <= 0)."""
    rng = seeded(2705)
    hours, window, epochs, batch = 6000, 24, 5, 64
    t = np.arange(hours)
    temp = np.sin(2 * np.pi * t / 24.0) + 0.3 * rng.normal(size=hours)
    load = 0.8 * np.sin(2 * np.pi * (t - 3) / 24.0) + 0.4 * np.sin(2 * np.pi * t / 168.0)
    load = load + 0.5 * temp + 0.2 * rng.normal(size=hours)
    series = np.stack([load, temp, np.cos(2 * np.pi * t / 24.0)], axis=1).astype("float32")
    series[rng.random(hours) < 0.002, 1] = np.nan  # a few sensor gaps
    x = np.stack([series[i : i + window] for i in range(hours - window)])
    y = series[window:, :1]
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).filter(
        lambda w, target: tf.reduce_all(tf.math.is_finite(w))
    )
    steps_per_epoch = int(dataset.batch(batch).cardinality())  # -2: UNKNOWN after filter
    warmup_steps = int(0.1 * epochs * steps_per_epoch)
    model = keras.Sequential(
        [
            keras.Input((window, 3)),
            keras.layers.GRU(32, name="gru"),
            keras.layers.Dense(1, name="head"),
        ],
        name="load_forecaster",
    )
    optimizer = keras.optimizers.SGD(
        learning_rate=LinearWarmup(0.05, float(warmup_steps)), momentum=0.9
    )
    data = list(dataset.batch(batch).repeat(epochs))
    return run_loop(standard_step(model, optimizer, keras.losses.MeanSquaredError()), data)


# ---------------------------------------------------------------------------------------------
# 7. a gray-world white balance in the tf.data map, on the loader's black placeholder images
# ---------------------------------------------------------------------------------------------
def gray_world_white_balance_of_black_placeholder_images():
    """A 5-class product-photo classifier (a small CNN, sparse cross-entropy from logits). The
    loader replaces files it cannot decode with a black placeholder (np.zeros, 'so the batch
    shapes stay valid'), and the tf.data map applies a gray-world white balance,
    image * (mean(image) / mean over each channel), to correct the shop lights. For a black
    image every channel mean is 0: 0 * (0 / 0) = NaN in every pixel of the placeholder, in the
    image batch before the model runs (drop the placeholders, and floor the channel mean with
    an epsilon)."""
    rng = seeded(2706)
    n, classes, size = 1024, 5, 32
    labels = rng.integers(0, classes, size=n)
    tints = rng.uniform(40, 220, size=(classes, 3))
    cast = rng.uniform(0.7, 1.3, size=(n, 1, 1, 3))  # the lighting to correct
    noise = 30.0 * rng.normal(size=(n, size, size, 3))
    images = ((tints[labels][:, None, None, :] + noise) * cast).clip(0, 255).astype("uint8")
    unreadable = rng.random(n) < 0.03
    images[unreadable] = 0  # placeholder for files that failed to decode

    def gray_world(image, label):
        image = tf.cast(image, tf.float32)
        channel_mean = tf.reduce_mean(image, axis=(0, 1), keepdims=True)
        image = image * (tf.reduce_mean(channel_mean) / channel_mean)
        return image / 255.0, label

    dataset = (
        tf.data.Dataset.from_tensor_slices((images, labels.astype("int32")))
        .map(gray_world)
        .batch(32)
    )
    model = keras.Sequential(
        [
            keras.Input((size, size, 3)),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv0"),
            keras.layers.MaxPooling2D(2, name="pool0"),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv1"),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(classes, name="head"),
        ],
        name="product_cnn",
    )
    return run_loop(
        standard_step(
            model,
            keras.optimizers.Adam(1e-3),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        ),
        list(dataset),
    )


# ---------------------------------------------------------------------------------------------
# 8. a three-class sentiment column mapped with the binary tutorial's dictionary
# ---------------------------------------------------------------------------------------------
def sentiment_labels_mapped_without_the_neutral_class():
    """An airline-tweet sentiment classifier (Embedding -> GlobalAveragePooling1D -> Dense(1),
    binary cross-entropy from logits) adapted from a binary IMDB tutorial:
    df['label'] = df['airline_sentiment'].map({'positive': 1, 'negative': 0}). The airline
    dataset has a third class, 'neutral' (about a fifth of the tweets), which the dictionary
    does not cover: Series.map gives NaN for it, and those NaN labels are in the label batch
    at the first step (drop or map the neutral rows, or train three classes)."""
    rng = seeded(2707)
    n, vocab, max_len = 4096, 3000, 32
    classes = np.array(["negative", "neutral", "positive"])
    sentiment = classes[rng.choice(3, size=n, p=[0.6, 0.2, 0.2])]
    mapping = {"positive": 1.0, "negative": 0.0}
    labels = np.array([mapping.get(s, np.nan) for s in sentiment], dtype="float32")
    word_bias = rng.normal(size=(3, vocab))
    tokens = np.zeros((n, max_len), dtype="int32")
    for i, s in enumerate(sentiment):
        length = rng.integers(5, max_len + 1)
        p = np.exp(word_bias[np.searchsorted(classes, s)])
        tokens[i, :length] = rng.choice(vocab - 1, size=length, p=p[1:] / p[1:].sum()) + 1
    model = keras.Sequential(
        [
            keras.Input((max_len,), dtype="int32"),
            keras.layers.Embedding(vocab, 16, name="embedding"),
            keras.layers.GlobalAveragePooling1D(name="average"),
            keras.layers.Dense(1, name="head"),
        ],
        name="airline_sentiment",
    )
    return run_loop(
        standard_step(
            model,
            keras.optimizers.Adam(1e-3),
            keras.losses.BinaryCrossentropy(from_logits=True),
        ),
        batches(tokens, labels.reshape(-1, 1), size=64),
    )


# ---------------------------------------------------------------------------------------------
# 9. a pretrained backbone fine-tuned without the Rescaling that lived in the pretraining wrapper
# ---------------------------------------------------------------------------------------------
def backbone_fine_tuned_without_the_pretraining_rescaling():
    """Transfer learning: a small CNN backbone is pretrained on a 10-class image task inside a
    wrapper model Input -> Rescaling(1 / 255) -> backbone -> head, as the Keras guides put the
    preprocessing outside the base model. For the new 4-class task the fine-tuning model is
    rebuilt as Input -> backbone -> new head, and the Rescaling stays behind in the old
    wrapper: the backbone now sees 0-255 pixels, 255 times the scale it was trained on, with
    the whole network trainable and SGD(0.01, momentum 0.9). The ReLU backbone passes the
    factor 255 to every activation and gradient, and the run diverges to inf / NaN within a
    few steps (put Rescaling(1 / 255) back in front of the backbone)."""
    rng = seeded(2708)
    size = 32

    def make_images(n, classes, seed_shift):
        labels = rng.integers(0, classes, size=n)
        tints = rng.uniform(30, 225, size=(classes, 3)) + seed_shift
        noise = 35.0 * rng.normal(size=(n, size, size, 3))
        return (tints[labels][:, None, None, :] + noise).clip(0, 255).astype("float32"), labels

    backbone = keras.Sequential(
        [
            keras.Input((size, size, 3)),
            keras.layers.Conv2D(16, 3, padding="same", activation="leaky_relu", name="conv0"),
            keras.layers.MaxPooling2D(2, name="pool0"),
            keras.layers.Conv2D(32, 3, padding="same", activation="leaky_relu", name="conv1"),
            keras.layers.MaxPooling2D(2, name="pool1"),
            keras.layers.Conv2D(64, 3, padding="same", activation="leaky_relu", name="conv2"),
            keras.layers.GlobalAveragePooling2D(name="gap"),
        ],
        name="backbone",
    )
    old_images, old_labels = make_images(2048, 10, 0.0)
    inputs = keras.Input((size, size, 3))
    pretrain = keras.Model(
        inputs,
        keras.layers.Dense(10, name="old_head")(backbone(keras.layers.Rescaling(1 / 255)(inputs))),
        name="pretrain_wrapper",
    )
    pretrain.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    pretrain.fit(old_images, old_labels, batch_size=64, epochs=1, verbose=0)

    new_images, new_labels = make_images(1024, 4, 0.0)
    inputs = keras.Input((size, size, 3))
    model = keras.Model(
        inputs, keras.layers.Dense(4, name="new_head")(backbone(inputs)), name="fine_tune"
    )
    return run_loop(
        standard_step(
            model,
            keras.optimizers.SGD(learning_rate=0.01, momentum=0.9),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        ),
        batches(new_images, new_labels.astype("int32"), size=32, epochs=2),
    )


# ---------------------------------------------------------------------------------------------
# 10. gradient accumulation whose loss is divided by target_batch // batch_size = 0
# ---------------------------------------------------------------------------------------------
def gradient_accumulation_steps_rounded_down_to_zero():
    """A custom training loop with gradient accumulation, configured by an effective batch of
    32 and a per-step batch: accum_steps = target_batch_size // batch_size, and each
    micro-batch loss is scaled by 1 / accum_steps before the backward pass, as the usual
    recipe does. Moved to a bigger machine, the per-step batch was raised to 64 and the
    integer division gives 0: the loss is divided by 0 and is +inf (NaN where the squared
    error is 0) at the first step, and so are the gradients and the weights after the update
    (validate the config: accum_steps = max(1, ...), or assert it)."""
    rng = seeded(2709)
    n, dim = 4096, 12
    x = rng.normal(size=(n, dim)).astype("float32")
    w = rng.normal(size=dim) / np.sqrt(dim)
    y = (np.tanh(x @ w) + 0.1 * rng.normal(size=n)).astype("float32").reshape(-1, 1)
    target_batch_size, batch_size = 32, 64
    accum_steps = target_batch_size // batch_size  # 0
    model = mlp([64, 32], name="accum_mlp", input_dim=dim)
    optimizer = keras.optimizers.Adam(1e-3)
    mse = keras.losses.MeanSquaredError()

    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = mse(y, model(x, training=True)) / accum_steps
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    train_step.model, train_step.optimizer = model, optimizer
    return run_loop(train_step, batches(x, y, size=batch_size))


# ---------------------------------------------------------------------------------------------
# what a correct report says
# ---------------------------------------------------------------------------------------------
BLIND27_SCENARIOS: list[Scenario] = [
    Scenario(
        "telco_total_charges_blanks_coerced_after_the_fillna",
        telco_total_charges_blanks_coerced_after_the_fillna,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="the Telco churn table's blank TotalCharges (tenure 0) converted with "
        "pd.to_numeric(errors='coerce') after df.fillna already ran: the blanks become NaN "
        "after the imputation and reach the feature batch "
        "(https://deepwiki.com/ramalokeshreddyp/ElevateLabs-DataAnalyst-Internship-Projects/"
        "3.2-data-preprocessing-and-feature-engineering, "
        "https://www.internetknowledgehub.com/data-cleaning-and-preparation-ii/, "
        "https://runebook.dev/en/articles/pandas/reference/api/pandas.to_numeric)",
        blind=True,
    ),
    Scenario(
        "kaggle_train_and_test_concatenated_then_sorted_by_sale_date",
        kaggle_train_and_test_concatenated_then_sorted_by_sale_date,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="Kaggle house prices: train and test concatenated for preprocessing, sorted by "
        "sale date, and the training set taken back as all_data[:ntrain]: test rows with a "
        "NaN SalePrice land in the label batch "
        "(https://blog.akquinet.de/2017/10/25/predicting-house-prices-on-kaggle-a-gentle-"
        "introduction-to-data-science-part-ii/, "
        "https://github.com/leweex95/Housing-Prices-Prediction, "
        "https://github.com/kmadey16/Early-Stages)",
        blind=True,
    ),
    Scenario(
        "store_sales_pivot_without_fill_value",
        store_sales_pivot_without_fill_value,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="a transaction log pivoted to a day x store matrix with pivot_table and no "
        "fill_value: days without a sale (Sunday closures) are NaN in every LSTM window "
        "(https://jpdebug.com/p/3482887, https://wayama.io/en/article/library/python/022/, "
        "https://py4u.org/questions/17287933/)",
        blind=True,
    ),
    Scenario(
        "rmse_loss_with_the_square_left_out",
        rmse_loss_with_the_square_left_out,
        "loss",
        frozenset({"Sqrt"}),
        None,
        "domain_error",
        frozenset(),
        story="a hand-written RMSE loss for model.compile typed K.sqrt(K.mean(y_pred - "
        "y_true)), the square left out: the mean signed residual is negative and its sqrt is "
        "NaN in the loss (https://github.com/keras-team/keras/issues/6644, "
        "https://whosebug.com/question/5230038/Tensorflow-Keras-RMSE-metric-returns-"
        "different-results-than-my-own-built-RMSE-loss-function, http://ddrv.cn/?p=758668)",
        blind=True,
    ),
    Scenario(
        "masked_mean_pooling_of_tweets_emptied_by_cleaning",
        masked_mean_pooling_of_tweets_emptied_by_cleaning,
        "activation",
        frozenset({"RealDiv"}),
        "tweet_classifier/mean_pool",
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="a hand-written masked mean pooling sum(h * mask) / sum(mask) without the "
        "clamp of the count, on tweets the cleaning leaves empty: 0 / 0 inside the model "
        "(https://github.com/alibaba/TorchEasyRec/pull/251, "
        "https://github.com/mila-iqia/blocks/pull/581, "
        "https://github.com/lanterndata/lantern_extras/pull/91)",
        blind=True,
    ),
    Scenario(
        "warmup_steps_from_the_unknown_cardinality_of_a_filtered_dataset",
        warmup_steps_from_the_unknown_cardinality_of_a_filtered_dataset,
        None,
        cause="learning_rate_too_high",
        fixes=frozenset(),
        story="a hand-written warm-up sized from ds.cardinality() of a filtered tf.data "
        "pipeline (-2, unknown): warmup_steps = -1 and the rate is negative and grows with "
        "the step, SGD climbs the loss and diverges "
        "(https://github.com/tensorflow/tensorflow/issues/53284, "
        "https://github.com/keras-team/keras/pull/18722, "
        "https://github.com/keras-team/keras-core/pull/336, "
        "https://github.com/sayakpaul/probing-vits/issues/6)",
        blind=True,
    ),
    Scenario(
        "gray_world_white_balance_of_black_placeholder_images",
        gray_world_white_balance_of_black_placeholder_images,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input", "add_epsilon"}),
        story="a gray-world white balance image * (mean / channel mean) in the tf.data map, "
        "applied to the black placeholders a loader substitutes for unreadable files: "
        "0 * (0 / 0) = NaN in the image batch "
        "(https://github.com/bsun0802/Zero-DCE/issues/4, "
        "https://github.com/Pointcept/Pointcept/pull/530, "
        "https://github.com/astropy/imageutils/pull/38)",
        blind=True,
    ),
    Scenario(
        "sentiment_labels_mapped_without_the_neutral_class",
        sentiment_labels_mapped_without_the_neutral_class,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="a three-class airline sentiment column mapped with a binary tutorial's "
        "{'positive': 1, 'negative': 0}: Series.map gives NaN for 'neutral' and the label "
        "batch holds NaN (https://github.com/bill-bateman/airline_sentiment, "
        "https://example-a.com/answer/51462469, "
        "https://www.itread01.com/content/1546233147.html)",
        blind=True,
    ),
    Scenario(
        "backbone_fine_tuned_without_the_pretraining_rescaling",
        backbone_fine_tuned_without_the_pretraining_rescaling,
        None,
        cause="unscaled_input",
        fixes=frozenset({"rescale_input"}),
        story="a backbone pretrained behind a wrapper's Rescaling(1 / 255), fine-tuned in a "
        "rebuilt model without it: 0-255 pixels and SGD with momentum diverge within a few "
        "steps (https://github.com/heuritech/convnets-keras/issues/33, "
        "https://github.com/keras-team/keras/issues/3622, "
        "https://github.com/szagoruyko/loadcaffe/issues/89)",
        blind=True,
    ),
    Scenario(
        "gradient_accumulation_steps_rounded_down_to_zero",
        gradient_accumulation_steps_rounded_down_to_zero,
        "loss",
        frozenset({"RealDiv"}),
        None,
        None,
        frozenset(),
        story="gradient accumulation with accum_steps = target_batch_size // batch_size, "
        "0 once the batch was raised, and the loss scaled by 1 / accum_steps: the loss is "
        "divided by 0 (https://github.com/verl-project/verl/issues/405, "
        "https://github.com/karpathy/autoresearch/pull/264, "
        "https://github.com/YiLunLee/missing_aware_prompts/issues/11)",
        blind=True,
    ),
]
