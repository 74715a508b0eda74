"""An eighth set of NaN scenarios from public bug patterns, written BLIND (2026-12-04).

Written without reading nantrace's package, its docs, its README or its test modules (only the
scenario helpers of ``scenario_cases.py`` / ``scenario_patterns.py``, the format of
``scenario_blind7.py`` and the taxonomy of the design notes), and without running nantrace on
them: each expectation comes from the bug pattern itself (what a careful ML engineer would name
as where the first non-finite value appears, why, and the first fix to try). The only thing
checked while writing them is that plain TensorFlow, unwatched, really goes non-finite on their
batches (a throwaway script outside the repository, a plain ``tf.function`` step). None repeats
a pattern on the list of existing scenarios that came with the brief; this set favours the
everyday Keras situations asked about as "loss becomes nan" (a preprocessing step, a Lambda or
TimeDistributed layer, a hand-written loss, the wrong activation for a Keras loss), with a couple
of less common ones. Each story cites the public report(s) the pattern comes from. Layer names
are set explicitly only so the expectations can name them.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from scenario_cases import Scenario, batches, run_loop, seeded, standard_step
from scenario_patterns import _custom_step


# ---------------------------------------------------------------------------------------------
# 1. RGBA product photos standardized per channel: the alpha channel is constant
# ---------------------------------------------------------------------------------------------
def rgba_photos_standardized_per_channel():
    """Product-photo classifier on PNGs read with PIL, which keeps them RGBA, so the arrays have
    four channels and the CNN's input was simply built with the data's shape. The images are
    standardized per channel over the training set, (x - mean) / std; the alpha channel is 255
    in every pixel of every photo, its std is 0 and every alpha value becomes 0 / 0 = NaN."""
    rng = seeded(1000)
    n, size = 160, 16
    labels = rng.integers(0, 3, size=n)
    rgb = rng.uniform(0, 200, size=(n, size, size, 3))
    for c in range(3):
        rgb[labels == c, 4:12, 4:12, c] += 55.0  # a coloured product in the centre
    alpha = np.full((n, size, size, 1), 255.0)
    images = np.concatenate([rgb, alpha], axis=-1)
    mean = images.mean(axis=(0, 1, 2))
    std = images.std(axis=(0, 1, 2))
    with np.errstate(invalid="ignore"):
        x = ((images - mean) / std).astype("float32")
    y = labels.astype("int32")
    model = keras.Sequential(
        [
            keras.Input((size, size, 4)),
            keras.layers.Conv2D(16, 3, activation="relu", name="conv0"),
            keras.layers.MaxPooling2D(name="pool0"),
            keras.layers.Conv2D(32, 3, activation="relu", name="conv1"),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(3, name="class_logits"),
        ],
        name="product_cnn",
    )
    return run_loop(
        standard_step(
            model,
            keras.optimizers.Adam(1e-3),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        ),
        batches(x, y),
    )


# ---------------------------------------------------------------------------------------------
# 2. term frequencies computed in a tf.data map: documents left empty by stop-word removal
# ---------------------------------------------------------------------------------------------
def term_frequencies_of_empty_documents_in_tf_data():
    """Review sentiment from TF-IDF features computed in the tf.data pipeline: a map turns each
    review's bag-of-words counts into term frequencies, counts / reduce_sum(counts), times the
    IDF. Reviews that are only stop words, emojis or a rating ('5/5 !!!') have no token left
    after filtering; their count vector is all zero and the term frequency 0 / 0 = NaN."""
    rng = seeded(1001)
    n, vocab = 320, 200
    sentiment = rng.integers(0, 2, size=n)
    lengths = rng.integers(3, 40, size=n)
    lengths[rng.random(n) < 0.06] = 0  # nothing left after stop-word / emoji filtering
    counts = np.zeros((n, vocab), dtype="float32")
    for i in range(n):
        lo = 0 if sentiment[i] else vocab // 2
        words = rng.integers(lo, lo + vocab // 2 + 20, size=lengths[i]) % vocab
        np.add.at(counts[i], words, 1.0)
    doc_freq = (counts > 0).sum(axis=0)
    idf = np.log((1 + n) / (1 + doc_freq)).astype("float32") + 1.0

    def tf_idf(c, label):
        return c / tf.reduce_sum(c) * idf, label

    dataset = (
        tf.data.Dataset.from_tensor_slices((counts, sentiment.reshape(-1, 1).astype("float32")))
        .map(tf_idf)
        .batch(32)
    )
    model = keras.Sequential(
        [
            keras.Input((vocab,)),
            keras.layers.Dense(64, activation="relu", name="hidden0"),
            keras.layers.Dense(1, name="sentiment_logit"),
        ],
        name="review_mlp",
    )
    return run_loop(
        standard_step(
            model,
            keras.optimizers.Adam(1e-3),
            keras.losses.BinaryCrossentropy(from_logits=True),
        ),
        dataset,
    )


# ---------------------------------------------------------------------------------------------
# 3. target encoding fitted on last year's table: new stores map to NaN
# ---------------------------------------------------------------------------------------------
def target_encoding_of_unseen_stores():
    """Weekly store-sales regression with the store id target-encoded: the per-store mean sales
    were computed on last year's table and mapped onto this year's rows with
    df['store'].map(store_means). Stores opened this year are not in the dictionary and pandas'
    map gives NaN for them, so their rows carry NaN into the feature batch."""
    rng = seeded(1002)
    n, old_stores, new_stores = 384, 40, 6
    store = rng.integers(0, old_stores + new_stores, size=n)
    store_level = rng.normal(size=old_stores + new_stores)
    promo = rng.integers(0, 2, size=n).astype("float64")
    week = rng.integers(0, 52, size=n)
    sales = store_level[store] + 0.5 * promo + 0.3 * np.sin(2 * np.pi * week / 52)
    sales = sales + 0.2 * rng.normal(size=n)
    store_means = {s: store_level[s] + 0.1 * rng.normal() for s in range(old_stores)}
    encoded = np.array([store_means.get(s, np.nan) for s in store])  # pandas' .map
    x = np.stack(
        [encoded, promo, np.sin(2 * np.pi * week / 52), np.cos(2 * np.pi * week / 52)], axis=1
    ).astype("float32")
    y = ((sales - sales.mean()) / sales.std()).reshape(-1, 1).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(32, activation="relu", name="hidden0"),
            keras.layers.Dense(16, activation="relu", name="hidden1"),
            keras.layers.Dense(1, name="weekly_sales"),
        ],
        name="store_sales_mlp",
    )
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        batches(x, y),
    )


# ---------------------------------------------------------------------------------------------
# 4. a Lambda layer that log-transforms raw count features, some of which are 0
# ---------------------------------------------------------------------------------------------
def lambda_log_of_raw_count_features():
    """Customer-spend regression whose model starts with Lambda(keras.ops.log) to tame the
    right-skewed count features (page views, sessions, cart adds, past orders, ...). The log
    was tested on active customers; customers who never added to a cart or never ordered have
    counts of exactly 0, and log(0) = -inf inside the Lambda layer (log1p was meant)."""
    rng = seeded(1003)
    n = 384
    rate = rng.gamma(2.0, 1.0, size=(n, 1))
    scale = np.array([[40.0, 8.0, 3.0, 1.5, 0.6, 12.0]])
    counts = rng.poisson(rate * scale).astype("float64")
    counts[:, 0] += 1  # everyone viewed at least one page
    spend = 0.8 * np.log1p(counts[:, 4]) + 0.4 * np.log1p(counts[:, 3]) + 0.1 * rng.normal(size=n)
    x = counts.astype("float32")
    y = ((spend - spend.mean()) / spend.std()).reshape(-1, 1).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Lambda(lambda c: keras.ops.log(c), name="log_counts"),
            keras.layers.Dense(32, activation="relu", name="hidden0"),
            keras.layers.Dense(1, name="next_month_spend"),
        ],
        name="spend_model",
    )
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        batches(x, y),
    )


# ---------------------------------------------------------------------------------------------
# 5. per-frame peak normalization in a TimeDistributed layer: black frames
# ---------------------------------------------------------------------------------------------
def timedistributed_peak_normalization_of_black_frames():
    """Clip classifier on raw 0-255 grayscale camera frames; every frame is brightness-
    normalized inside the model by TimeDistributed(Lambda(f / max(f))) so that day and dusk
    clips look alike. Clips that start or end on a fade to black (or a covered lens) hold frames
    that are exactly 0 everywhere: their max is 0 and the normalized frame is 0 / 0 = NaN."""
    rng = seeded(1004)
    n, steps, size = 128, 6, 12
    event = rng.integers(0, 2, size=n)
    brightness = rng.uniform(40, 255, size=(n, 1, 1, 1, 1))
    frames = rng.uniform(0.2, 0.6, size=(n, steps, size, size, 1))
    frames[event == 1, :, 3:9, 3:9, :] += 0.4  # a bright object crosses the scene
    frames = np.floor(frames * brightness)
    faded = rng.random(n) < 0.08
    frames[faded, -1] = 0.0  # the clip ends on a black frame
    x = frames.astype("float32")
    y = event.reshape(-1, 1).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((steps, size, size, 1)),
            keras.layers.TimeDistributed(
                keras.layers.Lambda(
                    lambda f: f / keras.ops.max(f, axis=(1, 2, 3), keepdims=True),
                    name="peak_scale",
                ),
                name="frame_peak_norm",
            ),
            keras.layers.TimeDistributed(
                keras.layers.Conv2D(8, 3, activation="relu"), name="frame_conv"
            ),
            keras.layers.TimeDistributed(keras.layers.GlobalAveragePooling2D(), name="frame_pool"),
            keras.layers.GRU(16, name="clip_gru"),
            keras.layers.Dense(1, name="event_logit"),
        ],
        name="clip_classifier",
    )
    return run_loop(
        standard_step(
            model,
            keras.optimizers.Adam(1e-3),
            keras.losses.BinaryCrossentropy(from_logits=True),
        ),
        batches(x, y),
    )


# ---------------------------------------------------------------------------------------------
# 6. a prototype (RBF) layer with the expanded distance ||x||^2 + ||c||^2 - 2 x.c
# ---------------------------------------------------------------------------------------------
class PrototypeDistance(keras.layers.Layer):
    """Negative Euclidean distance to learned prototypes, by the memory-friendly expansion."""

    def __init__(self, centers, **kwargs):
        super().__init__(**kwargs)
        self._init_centers = np.asarray(centers, dtype="float32")

    def build(self, input_shape):
        self.centers = self.add_weight(
            shape=self._init_centers.shape,
            initializer=keras.initializers.Constant(self._init_centers),
            name="centers",
        )

    def call(self, x):
        x2 = tf.reduce_sum(tf.square(x), axis=-1, keepdims=True)
        c2 = tf.reduce_sum(tf.square(self.centers), axis=-1)
        d2 = x2 + c2 - 2.0 * tf.matmul(x, self.centers, transpose_b=True)
        return -tf.sqrt(d2)


def prototype_layer_expanded_distance_of_its_own_samples():
    """Prototype / RBF classifier on sensor features with the prototypes initialized from
    training samples (the usual 'pick k random points' init), and the squared distance written
    in the expanded form ||x||^2 + ||c||^2 - 2 x.c. For the samples the prototypes were copied
    from, the true distance is 0 and the float32 cancellation leaves a tiny negative number:
    sqrt of it is NaN in the forward pass (clip the squared distance at 0 first)."""
    rng = seeded(1005)
    n, dim, classes, per_class = 256, 64, 4, 6
    labels = rng.integers(0, classes, size=n)
    centres = 3.0 * rng.normal(size=(classes, dim))
    x = (centres[labels] + rng.normal(size=(n, dim))).astype("float32")
    picked = np.concatenate(
        [rng.choice(np.flatnonzero(labels == c), per_class, replace=False) for c in range(classes)]
    )
    inputs = keras.Input((dim,))
    distances = PrototypeDistance(x[picked], name="prototype_distance")(inputs)
    logits = keras.layers.Dense(classes, name="class_logits")(distances)
    model = keras.Model(inputs, logits, name="protonet")
    return run_loop(
        standard_step(
            model,
            keras.optimizers.Adam(1e-3),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        ),
        batches(x, labels.astype("int32")),
    )


# ---------------------------------------------------------------------------------------------
# 7. a ReLU output layer with Keras' CategoricalCrossentropy (probabilities expected)
# ---------------------------------------------------------------------------------------------
def relu_output_layer_with_categorical_crossentropy():
    """Three-class classifier whose output layer was written Dense(3, activation='relu') (the
    activation copied from the hidden layers) and trained with Keras' CategoricalCrossentropy()
    on probabilities. Keras renormalizes the outputs, output / sum(output); a row whose three
    ReLU outputs are all 0 is 0 / 0 = NaN. The output should be logits (softmax, or
    from_logits=True)."""
    rng = seeded(1006)
    n = 384
    x = rng.normal(size=(n, 8)).astype("float32")
    w = rng.normal(size=(8, 3))
    labels = np.argmax(x @ w + 0.5 * rng.normal(size=(n, 3)), axis=1)
    y = np.eye(3, dtype="float32")[labels]
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(32, activation="relu", name="hidden0"),
            keras.layers.Dense(32, activation="relu", name="hidden1"),
            keras.layers.Dense(3, activation="relu", name="class_probs"),
        ],
        name="tabular_classifier",
    )
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.CategoricalCrossentropy()),
        batches(x, y),
    )


# ---------------------------------------------------------------------------------------------
# 8. MASE as the training loss of a Conv1D forecaster: flat history windows
# ---------------------------------------------------------------------------------------------
def mase_loss_on_flat_history_windows():
    """Conv1D store-sales forecaster trained on MASE by hand: the mean absolute error of the
    7-day forecast divided by the mean absolute day-to-day change of the 28-day input window
    (the naive forecast's error). Stores closed for a refit show 28 days of zero sales, a flat
    window whose naive error is 0: the scaled error is x / 0 (N-BEATS divides with
    divide_no_nan for exactly this)."""
    rng = seeded(1007)
    stores, days, window, horizon = 16, 120, 28, 7
    t = np.arange(days)
    level = rng.uniform(20, 80, size=(stores, 1))
    sales = level * (1 + 0.3 * np.sin(2 * np.pi * t / 7)) + 3 * rng.normal(size=(stores, days))
    sales = np.maximum(sales, 0.0)
    sales[3, 40:85] = 0.0  # store 3 closed for a refit
    sales[11, 0:40] = 0.0  # store 11 opened late
    xs, ys = [], []
    for start in range(0, days - window - horizon, 3):
        for s in range(stores):
            xs.append(sales[s, start : start + window])
            ys.append(sales[s, start + window : start + window + horizon])
    x = (np.array(xs)[..., None] / 100.0).astype("float32")
    y = (np.array(ys) / 100.0).astype("float32")
    order = rng.permutation(len(x))
    x, y = x[order], y[order]
    model = keras.Sequential(
        [
            keras.Input((window, 1)),
            keras.layers.Conv1D(16, 5, padding="causal", activation="relu", name="conv0"),
            keras.layers.Conv1D(
                16, 5, padding="causal", dilation_rate=2, activation="relu", name="conv1"
            ),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(horizon, name="forecast"),
        ],
        name="sales_forecaster",
    )

    def mase(model, window_batch, target):
        forecast = model(window_batch, training=True)
        naive_error = tf.reduce_mean(
            tf.abs(window_batch[:, 1:, 0] - window_batch[:, :-1, 0]), axis=1
        )
        scaled = tf.reduce_mean(tf.abs(target - forecast), axis=1) / naive_error
        return tf.reduce_mean(scaled)

    optimizer = keras.optimizers.Adam(1e-3)
    return run_loop(
        _custom_step(model, optimizer, mase),
        list(batches(x, y)),
        model=model,
        optimizer=optimizer,
    )


# ---------------------------------------------------------------------------------------------
# 9. a sparse autoencoder's KL sparsity penalty on ReLU code units
# ---------------------------------------------------------------------------------------------
def sparse_autoencoder_kl_penalty_on_dead_relu_units():
    """Sparse autoencoder with the KL sparsity penalty of the UFLDL notes,
    rho log(rho / rho_hat) + (1 - rho) log((1 - rho) / (1 - rho_hat)), where rho_hat is the
    batch mean of each code unit. The notes use sigmoid units; here the code layer is ReLU.
    On all-positive pixel inputs some ReLU units are silent on a whole batch from the start
    (and the penalty pushes the others down towards rho = 0.05): such a unit has rho_hat = 0
    and rho / rho_hat = rho / 0 = inf."""
    rng = seeded(1008)
    n, dim = 512, 64
    strokes = rng.random((n, 4)) < 0.5
    templates = (rng.random((4, dim)) < 0.25).astype("float64")
    x = np.clip(strokes @ templates + 0.1 * rng.random((n, dim)), 0, 1).astype("float32")
    inputs = keras.Input((dim,))
    code = keras.layers.Dense(32, activation="relu", name="code")(inputs)
    recon = keras.layers.Dense(dim, activation="sigmoid", name="reconstruction")(code)
    model = keras.Model(inputs, [code, recon], name="sparse_autoencoder")
    rho, beta = 0.05, 3.0

    def loss_of(model, images):
        code, recon = model(images, training=True)
        rho_hat = tf.reduce_mean(code, axis=0)
        kl = rho * tf.math.log(rho / rho_hat) + (1 - rho) * tf.math.log((1 - rho) / (1 - rho_hat))
        return tf.reduce_mean(tf.square(images - recon)) + beta * tf.reduce_sum(kl)

    optimizer = keras.optimizers.Adam(1e-2)
    return run_loop(
        _custom_step(model, optimizer, loss_of),
        [(tf.constant(x[i : i + 32]),) for i in range(0, n, 32)],
        model=model,
        optimizer=optimizer,
    )


# ---------------------------------------------------------------------------------------------
# 10. RMSE written as the loss: a dry-season batch predicted exactly right
# ---------------------------------------------------------------------------------------------
def rmse_loss_on_a_dry_season_batch():
    """Daily rainfall regression with a ReLU output (rain is never negative) trained on a
    hand-written RMSE, sqrt(mean(square(y - p))), 'because the competition scores RMSE'. The
    days are in calendar order and start with the dry season: when the ReLU head outputs exactly
    0 for a batch of dry days (all targets 0; here already for the first batch), the loss is
    sqrt(0) = 0, whose derivative is infinite, and 0 x inf = NaN in the backward pass (MSE, or
    sqrt(mse + eps))."""
    rng = seeded(1009)
    days = 365
    doy = np.arange(days)
    wet = (doy >= 150) & (doy < 300)  # monsoon from June to October
    humidity = np.where(wet, 0.8, 0.35) + 0.08 * rng.normal(size=days)
    pressure = np.where(wet, -0.6, 0.6) + 0.3 * rng.normal(size=days)
    cloud = np.where(wet, 0.7, 0.15) + 0.1 * rng.normal(size=days)
    rain = np.where(wet, rng.gamma(1.5, 6.0, size=days), 0.0)
    x = np.stack(
        [humidity, pressure, cloud, np.sin(2 * np.pi * doy / 365), np.cos(2 * np.pi * doy / 365)],
        axis=1,
    )
    x = ((x - x.mean(axis=0)) / x.std(axis=0)).astype("float32")
    y = (rain / 10.0).reshape(-1, 1).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((5,)),
            keras.layers.Dense(32, activation="relu", name="hidden0"),
            keras.layers.Dense(16, activation="relu", name="hidden1"),
            keras.layers.Dense(1, activation="relu", name="rain_mm"),
        ],
        name="rain_mlp",
    )

    def rmse(y_true, y_pred):
        return keras.ops.sqrt(keras.ops.mean(keras.ops.square(y_true - y_pred)))

    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-2), rmse),
        batches(x, y, size=16, epochs=3),
    )


# ---------------------------------------------------------------------------------------------
# what a correct report says
# ---------------------------------------------------------------------------------------------
BLIND8_SCENARIOS: list[Scenario] = [
    Scenario(
        "rgba_photos_standardized_per_channel",
        rgba_photos_standardized_per_channel,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="RGBA PNGs standardized per channel over the training set: the alpha channel is "
        "255 everywhere, its std is 0 and every alpha value is 0 / 0 = NaN in the batch; drop "
        "the alpha channel (convert('RGB')) or guard the std "
        "(https://github.com/JacobHanimann/scDINO/issues/5, "
        "https://github.com/keras-team/keras/issues/11309, "
        "https://github.com/vanvalenlab/deepcell-toolbox/pull/72, "
        "https://github.com/Sygil-Dev/sygil-webui/pull/752)",
        blind=True,
    ),
    Scenario(
        "term_frequencies_of_empty_documents_in_tf_data",
        term_frequencies_of_empty_documents_in_tf_data,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="TF-IDF computed in a tf.data map as counts / reduce_sum(counts): a review with "
        "no token left after stop-word filtering is 0 / 0 = NaN in the feature batch "
        "(https://github.com/Lab41/pythia/pull/130, "
        "https://github.com/GlobalMaksimum/sadedegel/issues/193, "
        "https://github.com/FreeDiscovery/FreeDiscovery/pull/167)",
        blind=True,
    ),
    Scenario(
        "target_encoding_of_unseen_stores",
        target_encoding_of_unseen_stores,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="a store id target-encoded with last year's per-store means via "
        "df['store'].map(means): stores opened since are missing from the dictionary and map "
        "to NaN in the feature batch; fill unseen categories with the global mean "
        "(https://github.com/feature-engine/feature_engine/issues/525, "
        "https://github.com/scikit-learn-contrib/category_encoders/issues/235, "
        "https://github.com/tcassou/mlencoders/pull/1)",
        blind=True,
    ),
    Scenario(
        "lambda_log_of_raw_count_features",
        lambda_log_of_raw_count_features,
        "activation",
        frozenset({"Log"}),
        "spend_model/log_counts",
        "missing_epsilon",
        frozenset({"add_epsilon", "clamp_argument"}),
        story="Lambda(keras.ops.log) as the first layer over raw count features: counts of "
        "exactly 0 give log(0) = -inf inside the Lambda layer; log1p (log(x + 1)) was meant "
        "(https://github.com/facebookarchive/fbnn/pull/2, "
        "https://github.com/kymatio/kymatio/pull/72, "
        "https://github.com/feature-engine/feature_engine/issues/274, "
        "https://github.com/wfondrie/mokapot/pull/60)",
        blind=True,
    ),
    Scenario(
        "timedistributed_peak_normalization_of_black_frames",
        timedistributed_peak_normalization_of_black_frames,
        "activation",
        frozenset({"RealDiv"}),
        "clip_classifier/frame_peak_norm",
        "missing_epsilon",
        frozenset({"add_epsilon", "divide_no_nan"}),
        story="per-frame brightness normalization f / max(f) in a TimeDistributed Lambda: a "
        "black frame (fade to black, covered lens) has max 0 and becomes 0 / 0 = NaN inside "
        "the model (https://github.com/albumentations-team/albumentations/issues/1742, "
        "https://github.com/obspy/obspy/pull/1343, "
        "https://github.com/blakeblackshear/frigate/pull/10528)",
        blind=True,
    ),
    Scenario(
        "prototype_layer_expanded_distance_of_its_own_samples",
        prototype_layer_expanded_distance_of_its_own_samples,
        "activation",
        frozenset({"Sqrt"}),
        "protonet/prototype_distance",
        "domain_error",
        frozenset({"clamp_argument"}),
        story="a prototype / RBF layer with the distance written sqrt(||x||^2 + ||c||^2 - "
        "2 x.c) and prototypes copied from training samples: for those samples float32 "
        "cancellation gives a tiny negative squared distance and sqrt is NaN; clamp it at 0 "
        "(plus an epsilon) first (https://github.com/Lightning-AI/torchmetrics/issues/1351, "
        "https://github.com/rsokl/Learning_Python/issues/164, "
        "https://github.com/SAG-KeLP/kelp-core/issues/2, "
        "https://github.com/JuliaStats/Distances.jl/pull/161)",
        blind=True,
    ),
    Scenario(
        "relu_output_layer_with_categorical_crossentropy",
        relu_output_layer_with_categorical_crossentropy,
        "loss",
        frozenset({"RealDiv"}),
        None,
        "unstable_loss",
        frozenset({"use_from_logits"}),
        story="Dense(3, activation='relu') as the output layer with Keras' "
        "CategoricalCrossentropy on probabilities: Keras renormalizes output / sum(output) and "
        "a row whose ReLU outputs are all 0 is 0 / 0 = NaN; the output must be logits (softmax "
        "or from_logits=True) (https://github.com/tiny-dnn/tiny-dnn/issues/410, "
        "https://github.com/keras-team/keras/issues/6983, "
        "https://github.com/marian-nmt/marian-dev/issues/14)",
        blind=True,
    ),
    Scenario(
        "mase_loss_on_flat_history_windows",
        mase_loss_on_flat_history_windows,
        "loss",
        frozenset({"RealDiv"}),
        None,
        "missing_epsilon",
        frozenset({"add_epsilon", "divide_no_nan"}),
        story="MASE by hand as the loss of a Conv1D forecaster: the error is divided by the "
        "input window's mean absolute day-to-day change, which is 0 for a closed store's flat "
        "window (https://github.com/Nixtla/neuralforecast/issues/72, "
        "https://github.com/unit8co/darts/issues/3054, "
        "https://github.com/awslabs/gluonts/pull/3316)",
        blind=True,
    ),
    Scenario(
        "sparse_autoencoder_kl_penalty_on_dead_relu_units",
        sparse_autoencoder_kl_penalty_on_dead_relu_units,
        "loss",
        frozenset({"RealDiv"}),
        None,
        "missing_epsilon",
        frozenset({"add_epsilon", "clamp_argument"}),
        story="the UFLDL KL sparsity penalty rho log(rho / rho_hat) + ... on a ReLU code layer: "
        "a unit silent on the whole batch has rho_hat = 0 and rho / 0 = inf; clip rho_hat "
        "into (eps, 1 - eps) (https://github.com/Abhipanda4/Sparse-Autoencoders/issues/1, "
        "https://github.com/jadhavhninad/Sparse_autoencoder/issues/1, "
        "https://github.com/wblgers/tensorflow_stacked_denoising_autoencoder/issues/1, "
        "https://github.com/keras-team/keras/issues/2663)",
        blind=True,
    ),
    Scenario(
        "rmse_loss_on_a_dry_season_batch",
        rmse_loss_on_a_dry_season_batch,
        "gradient",
        cause="missing_epsilon",
        fixes=frozenset({"add_epsilon"}),
        story="RMSE written as the loss, sqrt(mean(square(y - p))), with a ReLU rainfall head: "
        "a batch of dry days predicted exactly 0 has loss sqrt(0), whose derivative is "
        "infinite, and 0 x inf = NaN in the backward pass; sqrt(mse + eps) or plain MSE "
        "(https://github.com/keras-team/keras/issues/1172, "
        "https://github.com/keras-team/keras/issues/6644, "
        "https://github.com/open-mmlab/mmrotate/issues/205)",
        blind=True,
    ),
]
