"""A twentieth set of NaN scenarios from public bug patterns, written BLIND (2026-12-05).

Written without reading nantrace's package, its docs, its README, its benchmarks or its test
modules (only the scenario helpers of ``scenario_cases.py`` (lines 1-120) /
``scenario_patterns.py`` (lines 1-50: ``_custom_step``), the format of ``scenario_blind19.py``,
the taxonomy section of the design notes and the list of names and one-line stories of the
existing scenarios), without git log or diff output of other files, and without importing or
running nantrace: each expectation comes from the bug pattern itself (where a careful ML
engineer would say the first non-finite value appears, why, and the first fix to try), and all
ten were written into this file before anything was run. The patterns come from public reports
found with a search over GitHub issues and pull requests and stored web pages (Q&A threads,
library docs, tutorials); each story cites them. This set favours ordinary Keras / TensorFlow
training code with one subtle slip: a tf.data CSV parser whose record_defaults only cover
empty fields, an RMSLE loss kept after the target was standardized, Keras' built-in MAPE on
intermittent demand, a learning-rate range test that leaves its last rate on the optimizer
before fine-tuning, a gradient accumulator that is never zeroed, a learnable power activation
started at an integer exponent, a fully convolutional classifier fed thumbnails, a
CategoryEncoding(count) bag of words trained at fastText's learning rate, an L1/2 sparsity
penalty on a magnitude-pruned layer, and a hand-written L-BFGS on a piecewise-linear (pinball)
loss. Three of them are training dynamics (the range test, the accumulator, the MAPE run);
where the pattern does not determine the first op, kind / op / layer are left None. Fix ids
are only those of the design notes' taxonomy; where none of them is the first fix a careful
engineer would try, the fix set is left empty.

The only thing checked after writing them is that plain TensorFlow, unwatched, really goes
non-finite on their batches (loss, gradients, weights and optimizer variables, and at which
step), and (with tf.debugging.enable_check_numerics, plain TF, the step compiled as the
scenario runs it) which op first produces the non-finite value, in a throwaway script outside
the repository that stands in plain-TF versions of the loop helpers, records from inside each
compiled step (a patched apply_gradients) whether its gradients are finite, and asserts that
nantrace was never imported. No expectation field (kind, op types, layer, cause, fixes) was
changed after that check, and no pattern was dropped; three constructions were changed, as
told below. What the check showed: the decode_csv pipeline (the first batch holds NaN, from
the parser; with check_numerics the DecodeCSV output itself is flagged), the RMSLE loss (NaN
at step 0; first op the Log1p of the labels, NaN), Keras' MAPE (loss 6e7 at step 0, 5e24 at
step 1, inf at step 2 with gradients, weights and SGD slots non-finite; first op the head's
MatMul, -inf, at step 2), the range test (after the change below: it stops at a rate of 2.26,
the fine-tuning loss is 1.8, then 1e12, then inf at step 2; first op the MSE's Square, +inf),
the never-zeroed accumulator (the loss grows to 1e23-1e35 over some 90 updates; with
check_numerics hidden1's MatMul is -inf at update 92 while the loss is still finite, the ReLU
zeroing it; in the plain run the loss and gradients turn non-finite at update 160), the power
activation (loss 5.4 at step 0, NaN at step 1; first op the layer's Pow, NaN), the thumbnails
(after the change below: NaN at step 0; first op global_pool's Mean of the empty map), the
count-encoded bag of words (after the change below: the loss grows ~1000x a step, 1e33 at
step 34, inf at step 35 while that step's gradients and weights are still finite; first op
the binary cross-entropy's Sum, +inf), the L1/2 penalty (the loss is finite, 0.72, and the
step-0 gradients are non-finite; first op the backward SqrtGrad, +inf) and the L-BFGS (eager,
as the scenario runs it: loss 89.7, then 88.9 with the weights NaN after the second update;
first op the RealDiv 1 / (y^T s), +inf, at step 1).
Constructions changed after the first check (expectation fields untouched, the docstrings and
stories rewritten to match): the thumbnail network first ended with a fifth MaxPooling2D
meant to leave a 0 x 0 map, but TensorFlow refuses a 'valid' pooling of a 1 x 1 map
('Negative dimension size'), and a Keras Cropping2D refuses to crop more than the map; the
empty map now comes from a border-trimming Lambda slice t[:, 1:-1, 1:-1, :] after four
poolings (16 -> 1 -> 0 x 0), which TensorFlow allows. The bag-of-words labels were first a
near-deterministic function of the words: the model separated them exactly, the sigmoid
saturated, the loss was exactly 0 and training stopped, finite; the labels are now drawn
from a logistic of the polarity (noisy star ratings), and the run covers two passes instead
of one. The range test first stopped, with a raw loss above four times its best and then
with fastai's and pytorch-lr-finder's smoothed loss and thresholds (4 and 5), at rates of
0.7 (classification head: the network died, loss log 4, finite), 0.025, 0.031 and 0.055
(regression head: a spike to 10-170 from the carried-over momentum, then the run trained),
all finite; fixed rates showed the fine-tuning diverging from about 0.5 on, so the test now
uses pytorch-lr-finder's smoothing with the divergence threshold raised to 100 ('to see the
blow-up on the plot') and stops at 2.26; the fine-tuning head is a regression head (MSE)
instead of the 4-class head first written.
Caveats a reader should know: four scenarios leave kind None (the check showed a MatMul for
the MAPE run and the accumulator, the MSE's Square for the range test and the
cross-entropy's Sum for the bag of words); the thumbnail scenario's cause is None (no id of
the taxonomy names an empty spatial map) and several fix sets are empty where no id is the
first fix (do not standardize an RMSLE target, a power of |x|, a larger resize, zeroing the
accumulators); the L-BFGS scenario runs eagerly (compiled=False), its step keeping Python
lists of curvature pairs.

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
# 1. tf.io.decode_csv with record_defaults, on a CSV whose missing cells were written as 'nan'
# ---------------------------------------------------------------------------------------------
def decode_csv_nan_literals_past_record_defaults():
    """Boiler-efficiency regressor (an MLP on 10 sensor columns, MSE) fed by a tf.data
    pipeline: TextLineDataset-style lines -> batch -> tf.io.decode_csv(record_defaults=[[0.0]]
    * 11), the defaults meant as 'missing readings become 0'. The export was written with
    np.savetxt, which prints a missing reading as the literal 'nan', not as an empty field:
    record_defaults only fill EMPTY fields, and decode_csv parses 'nan' as a float NaN, so
    about one row in ten carries NaN in the feature batch before any op runs (treat 'nan'
    as missing: drop or impute those cells)."""
    rng = seeded(2000)
    n, dim = 4096, 10
    x = rng.normal(size=(n, dim))
    y = np.tanh(x[:, :3].sum(axis=1)) + 0.1 * rng.normal(size=n)
    table = np.concatenate([x, y[:, None]], axis=1)
    missing = rng.random((n, dim)) < 0.01
    table[:, :dim][missing] = np.nan
    buffer = io.StringIO()
    np.savetxt(buffer, table, fmt="%.5f", delimiter=",")
    lines = buffer.getvalue().splitlines()

    def parse(line):
        fields = tf.io.decode_csv(line, record_defaults=[[0.0]] * (dim + 1))
        return tf.stack(fields[:dim], axis=1), tf.stack(fields[dim:], axis=1)

    dataset = tf.data.Dataset.from_tensor_slices(lines).batch(64).map(parse)
    model = mlp([64, 64], name="boiler_mlp", input_dim=dim)
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        list(dataset),
    )


# ---------------------------------------------------------------------------------------------
# 2. an RMSLE loss kept after the target was standardized with StandardScaler
# ---------------------------------------------------------------------------------------------
def rmsle_loss_on_a_standardized_target():
    """House-price regressor (an MLP on 12 standardized features, a softplus head so that
    predictions stay positive) trained on the competition's metric, RMSLE, written as the
    loss sqrt(mean((log1p(pred) - log1p(y))^2)). A later refactor ran the target through the
    same StandardScaler as the features: the standardized prices are negative below the mean,
    and every house cheaper than about one standard deviation below it (one row in eight) has
    y < -1, where log1p is NaN in the loss at the first step (RMSLE needs the raw,
    non-negative target: do not standardize it, or train MSE on log1p of the raw price)."""
    rng = seeded(2001)
    n, dim = 4096, 12
    x = rng.normal(size=(n, dim)).astype("float32")
    w = rng.normal(size=(dim,)) / np.sqrt(dim)
    price = np.exp(12.0 + 0.4 * np.tanh(x @ w) + 0.25 * rng.normal(size=n))
    y = ((price - price.mean()) / price.std()).astype("float32").reshape(-1, 1)
    model = mlp([64, 32], name="price_mlp", input_dim=dim, out_activation="softplus")

    def rmsle(y_true, y_pred):
        return tf.sqrt(tf.reduce_mean(tf.square(tf.math.log1p(y_pred) - tf.math.log1p(y_true))))

    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), rmsle), batches(x, y, size=64)
    )


# ---------------------------------------------------------------------------------------------
# 3. Keras' built-in MAPE on intermittent demand (zero-sales days), SGD with momentum
# ---------------------------------------------------------------------------------------------
def keras_mape_loss_on_intermittent_demand():
    """Store-item daily demand forecaster (an MLP on 16 standardized lag / price / calendar
    features, SGD(0.01, momentum 0.9)) trained with keras.losses.MeanAbsolutePercentageError
    because the business reports MAPE; about a third of the days sold nothing. Keras
    divides by max(|y|, epsilon) with epsilon = 1e-7, so the zero days do not give 0 / 0, but
    each of them weighs 100 / 1e-7 = 1e9 per unit of error: the gradients are of order 1e7
    from the first step, the first update throws the weights far out and the run diverges to
    inf / NaN within a few steps (MAPE is undefined on zero targets: MAE, or clip the
    gradients)."""
    rng = seeded(2002)
    n, dim = 4096, 16
    x = rng.normal(size=(n, dim)).astype("float32")
    w = rng.normal(size=(dim,)) / np.sqrt(dim)
    rate = np.exp(0.2 + 0.8 * np.tanh(x @ w))
    demand = rng.poisson(rate).astype("float32").reshape(-1, 1)
    model = mlp([64, 64], name="demand_mlp", input_dim=dim)
    optimizer = keras.optimizers.SGD(learning_rate=0.01, momentum=0.9)
    return run_loop(
        standard_step(model, optimizer, keras.losses.MeanAbsolutePercentageError()),
        batches(x, demand, size=64, epochs=2),
    )


# ---------------------------------------------------------------------------------------------
# 4. a learning-rate range test that restores the weights but leaves its last rate on the optimizer
# ---------------------------------------------------------------------------------------------
def lr_range_test_leaves_its_last_learning_rate_when_fine_tuning():
    """Fine-tuning a pretrained feature extractor (a 2 x 128 ReLU MLP trained first on a
    10-class sensor task) with a fresh regression head (MSE). Before fine-tuning, a
    learning-rate range test (Smith's LR finder, written by hand in the custom loop) raises
    SGD(momentum 0.9)'s rate exponentially from 1e-7 towards 10 and stops when the smoothed
    loss passes a hundred times its best; it then restores the saved weights, as the
    finder's 'reset' does for the model,
    but not the optimizer: the learning rate stays at the last rate tested (the one at which
    the loss blew up) and the momentum buffers keep the range test's last velocity. The
    fine-tuning run starts at that rate and diverges to inf / NaN within some steps (restore
    the optimizer too, and train at the rate read off the curve: a much lower one)."""
    rng = seeded(2003)
    n, dim, classes = 4096, 24, 10
    centres = rng.normal(scale=1.5, size=(classes, dim))
    labels = rng.integers(0, classes, size=n)
    x = (centres[labels] + rng.normal(size=(n, dim))).astype("float32")
    backbone = [
        keras.layers.Dense(128, activation="relu", name="features0"),
        keras.layers.Dense(128, activation="relu", name="features1"),
    ]
    pretrain = keras.Sequential(
        [keras.Input((dim,)), *backbone, keras.layers.Dense(classes, name="old_head")],
        name="pretrain",
    )
    pretrain.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    pretrain.fit(x, labels, batch_size=64, epochs=2, verbose=0)

    target = np.tanh(x[:, :4].sum(axis=1) / 4.0) + 0.1 * rng.normal(size=n)
    new_labels = target.astype("float32").reshape(-1, 1)
    model = keras.Sequential(
        [keras.Input((dim,)), *backbone, keras.layers.Dense(1, name="new_head")], name="finetune"
    )
    optimizer = keras.optimizers.SGD(learning_rate=1e-5, momentum=0.9)
    loss_fn = keras.losses.MeanSquaredError()
    step = standard_step(model, optimizer, loss_fn)
    range_step = tf.function(step)
    saved = model.get_weights()
    best, smoothed = np.inf, None
    test_batches = list(batches(x, new_labels, size=64, epochs=2))
    for i, (xb, yb) in enumerate(test_batches[:100]):
        optimizer.learning_rate = 1e-7 * (1e8 ** (i / 99))
        loss = float(range_step(xb, yb))
        # pytorch-lr-finder's smoothing (smooth_f=0.05), with diverge_th raised to 100 so
        # that the plot shows the blow-up
        smoothed = loss if smoothed is None else 0.05 * loss + 0.95 * smoothed
        best = min(best, smoothed)
        if not np.isfinite(loss) or smoothed > 100.0 * best:
            break
    model.set_weights(saved)  # the model is reset; the optimizer (rate, momentum) is not
    return run_loop(step, batches(x, new_labels, size=64, epochs=2))


# ---------------------------------------------------------------------------------------------
# 5. gradient accumulation whose accumulators are never zeroed after an update
# ---------------------------------------------------------------------------------------------
def gradient_accumulator_never_zeroed():
    """A regression MLP (16 standardized features, MSE) trained with gradient accumulation
    over 4 micro-batches of 32 per update, SGD(0.05, momentum 0.9) as tuned for a batch of
    128: the port keeps one tf.Variable accumulator per weight, adds g / 4 for each
    micro-batch and applies the accumulators, but the reset that PyTorch's
    optimizer.zero_grad() did at the start of each update was left out. Every update applies
    the sum of ALL gradients since the start: the step grows with the update count on top of
    the momentum, the weights oscillate with growing amplitude and the run diverges to inf /
    NaN after some healthy-looking updates (zero the accumulators after each update)."""
    rng = seeded(2004)
    x, y = _smooth_regression(rng, 8192, 16)
    model = mlp([64, 64], name="accumulated_mlp", input_dim=16)
    optimizer = keras.optimizers.SGD(learning_rate=0.05, momentum=0.9)
    optimizer.build(model.trainable_variables)
    mse = keras.losses.MeanSquaredError()
    accumulators = [
        tf.Variable(tf.zeros_like(v), trainable=False) for v in model.trainable_variables
    ]
    micro = 4

    def train_step(x, y):
        # (the accumulators should be zeroed here)
        losses = []
        for i in range(micro):
            with tf.GradientTape() as tape:
                loss = mse(y[i], model(x[i], training=True))
            grads = tape.gradient(loss, model.trainable_variables)
            for acc, g in zip(accumulators, grads, strict=True):
                acc.assign_add(g / micro)
            losses.append(loss)
        optimizer.apply_gradients(
            zip([tf.identity(a) for a in accumulators], model.trainable_variables, strict=True)
        )
        return tf.add_n(losses) / micro

    train_step.model, train_step.optimizer = model, optimizer
    data = []
    for _ in range(3):
        for start in range(0, len(x), 128):
            data.append(
                (
                    tf.constant(x[start : start + 128].reshape(micro, 32, 16)),
                    tf.constant(y[start : start + 128].reshape(micro, 32, 1)),
                )
            )
    return run_loop(train_step, data)


# ---------------------------------------------------------------------------------------------
# 6. a learnable power activation started at an integer exponent
# ---------------------------------------------------------------------------------------------
class PowerActivation(keras.layers.Layer):
    """x ** p element-wise, with p a trainable scalar started at 2.0 ('start as a square')."""

    def build(self, input_shape):
        self.exponent = self.add_weight(
            shape=(), initializer=keras.initializers.Constant(2.0), name="exponent"
        )

    def call(self, x):
        return tf.pow(x, self.exponent)


def learnable_power_activation_leaves_its_integer_exponent():
    """A tabular regressor whose hidden layer uses a learnable power activation x ** p (a
    'learnable polynomial' unit), p started at 2.0, after a linear Dense with negative and
    positive pre-activations. At p = 2.0 a negative base is fine (the power is an integer) and
    the first step is finite; the first Adam update moves p to 2.0 +- 0.001, and a negative
    base to a non-integer power is NaN: from the second step on about half the activations of
    the power layer are NaN in the forward pass (a power of |x|, of a positive input such
    as softplus(x), or an integer exponent kept fixed)."""
    rng = seeded(2005)
    x, y = _smooth_regression(rng, 4096, 12)
    inputs = keras.Input((12,))
    h = keras.layers.Dense(32, name="hidden0")(inputs)
    h = PowerActivation(name="power_activation")(h)
    outputs = keras.layers.Dense(1, name="head")(h)
    model = keras.Model(inputs, outputs, name="power_mlp")
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        batches(x, y, size=64),
    )


# ---------------------------------------------------------------------------------------------
# 7. a fully convolutional classifier built for 224-pixel images fed 16-pixel thumbnails
# ---------------------------------------------------------------------------------------------
def fully_convolutional_classifier_fed_thumbnails():
    """An image classifier with a variable input size (Input((None, None, 3))),
    designed for 224-pixel images: four blocks of Conv2D(3 x 3, same) + MaxPooling2D(2),
    a Lambda that trims the feature map's one-pixel border (where 'same' padding leaves
    artefacts: 14 x 14 -> 12 x 12), GlobalAveragePooling2D and a Dense head. To iterate
    faster the tf.data pipeline's resize was changed to 16 x 16 thumbnails without touching
    the network: 16 -> 8 -> 4 -> 2 -> 1, the trim of a 1 x 1 map leaves an empty 0 x 0 map
    (a slice raises no error), and the global average pooling of an empty map is 0 / 0 = NaN
    in every feature, inside the model at the first step (resize to at least 32 pixels, or
    fewer poolings)."""
    rng = seeded(2006)
    n, classes = 1024, 10
    labels = rng.integers(0, classes, size=n)
    tints = rng.uniform(0, 255, size=(classes, 3))
    images = (tints[labels][:, None, None, :] + 40.0 * rng.normal(size=(n, 64, 64, 3))).clip(0, 255)
    images = images.astype("uint8")

    def preprocess(image, label):
        image = tf.image.resize(tf.cast(image, tf.float32) / 255.0, (16, 16))
        return image, label

    dataset = (
        tf.data.Dataset.from_tensor_slices((images, labels.astype("int32")))
        .map(preprocess)
        .batch(32)
    )
    layers = [keras.Input((None, None, 3))]
    for i, filters in enumerate([16, 32, 32, 64]):
        layers.append(
            keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{i}")
        )
        layers.append(keras.layers.MaxPooling2D(2, name=f"pool{i}"))
    layers.append(keras.layers.Lambda(lambda t: t[:, 1:-1, 1:-1, :], name="trim_border"))
    layers.append(keras.layers.GlobalAveragePooling2D(name="global_pool"))
    layers.append(keras.layers.Dense(classes, name="head"))
    model = keras.Sequential(layers, name="thumbnail_cnn")
    return run_loop(
        standard_step(
            model,
            keras.optimizers.Adam(1e-3),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        ),
        list(dataset),
    )


# ---------------------------------------------------------------------------------------------
# 8. a CategoryEncoding(output_mode='count') bag of words trained at fastText's learning rate
# ---------------------------------------------------------------------------------------------
def category_encoding_counts_at_fasttext_learning_rate():
    """A fastText-style review classifier ported to Keras: padded token ids (0 = padding,
    reviews of 200-1200 tokens) -> keras.layers.CategoryEncoding(output_mode='count') ->
    a linear Dense(32) 'embedding' -> Dense(1) logit (noisy star-rating labels), binary
    cross-entropy from logits, and
    fastText's supervised learning rate, SGD(0.1). fastText AVERAGES the word vectors of a
    document; the count encoding SUMS them (and counts the padding id hundreds of times), so
    the inputs are counts in the tens to hundreds instead of fractions, the effective step
    is thousands of times larger and the first updates throw the two linear layers out: the
    run diverges to inf / NaN within a few steps (normalize the counts: output_mode='tf_idf'
    or divide by the length; a lower learning rate)."""
    rng = seeded(2007)
    n, vocab, max_len = 2048, 5000, 1200
    lengths = rng.integers(200, max_len + 1, size=n)
    polarity = rng.normal(size=vocab)
    tokens = np.zeros((n, max_len), dtype="int32")
    labels = np.zeros(n, dtype="float32")
    for i, length in enumerate(lengths):
        ids = rng.zipf(1.3, size=length) % (vocab - 1) + 1
        tokens[i, :length] = ids
        labels[i] = float(rng.random() < 1.0 / (1.0 + np.exp(-20.0 * polarity[ids].mean())))
    inputs = keras.Input((max_len,), dtype="int32")
    counts = keras.layers.CategoryEncoding(vocab, output_mode="count", name="bag_of_words")(inputs)
    h = keras.layers.Dense(32, name="doc_embedding")(counts)
    outputs = keras.layers.Dense(1, name="head")(h)
    model = keras.Model(inputs, outputs, name="fasttext_port")
    return run_loop(
        standard_step(
            model,
            keras.optimizers.SGD(learning_rate=0.1),
            keras.losses.BinaryCrossentropy(from_logits=True),
        ),
        batches(tokens, labels.reshape(-1, 1), size=64, epochs=2),
    )


# ---------------------------------------------------------------------------------------------
# 9. an L1/2 sparsity penalty, sum(sqrt(|w|)), while fine-tuning a magnitude-pruned layer
# ---------------------------------------------------------------------------------------------
def l_half_sparsity_penalty_on_a_magnitude_pruned_layer():
    """A churn classifier (an MLP on 20 features) is magnitude-pruned after training: the
    half of hidden0's kernel entries smallest in magnitude are set to exactly 0 (as a
    pruning wrapper's strip step leaves them). It is then fine-tuned on the next month's
    data with an L1/2 penalty, 1e-4 * sum(sqrt(|w|)) over the kernels, added to keep it
    sparse. The penalty's value is finite (sqrt(0) = 0), but its derivative
    sign(w) / (2 sqrt(|w|)) is inf x 0 at every pruned entry: the backward pass is NaN at
    the first step while the forward pass and the loss are finite (an epsilon inside the
    root, sqrt(|w| + eps), or L1's subgradient sign(w))."""
    rng = seeded(2008)
    n, dim = 4096, 20
    x = rng.normal(size=(n, dim)).astype("float32")
    w = rng.normal(size=(dim,)) / np.sqrt(dim)
    churn = (rng.random(n) < 1.0 / (1.0 + np.exp(-2.0 * np.tanh(x @ w)))).astype("float32")
    model = mlp([64, 32], name="churn_mlp", input_dim=dim)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
    )
    model.fit(x[:2048], churn[:2048], batch_size=64, epochs=1, verbose=0)
    layer = model.get_layer("hidden0")
    kernel = layer.kernel.numpy()
    kernel[np.abs(kernel) < np.median(np.abs(kernel))] = 0.0
    layer.kernel.assign(kernel)
    kernels = [v for v in model.trainable_variables if "kernel" in v.path]
    bce = keras.losses.BinaryCrossentropy(from_logits=True)

    def fine_tune_loss(model, x, y):
        penalty = tf.add_n([tf.reduce_sum(tf.sqrt(tf.abs(k))) for k in kernels])
        return bce(y, model(x, training=True)) + 1e-4 * penalty

    optimizer = keras.optimizers.Adam(1e-4)
    return run_loop(
        _custom_step(model, optimizer, fine_tune_loss),
        batches(x[2048:], churn[2048:].reshape(-1, 1), size=64),
        model=model,
        optimizer=optimizer,
    )


# ---------------------------------------------------------------------------------------------
# 10. a hand-written L-BFGS on a pinball (quantile) loss, without the curvature-pair guard
# ---------------------------------------------------------------------------------------------
def lbfgs_by_hand_on_a_pinball_loss():
    """A linear 0.9-quantile demand model (Dense(1) on 12 standardized features, the pinball
    loss, full batch) fitted with L-BFGS written by hand in the loop (two-loop recursion,
    memory 5, unit step) without the usual guard that skips a curvature pair when
    y^T s <= eps. The pinball loss is piecewise linear: its gradient only changes when a
    residual changes sign, and the demand (in units, ~100) is far above the initial
    predictions, so after the first step every residual is still positive and the gradient
    is bit-for-bit the same: y = g1 - g0 = 0, rho = 1 / (y^T s) = 1 / 0 = inf and
    inf x 0 = NaN in the search direction, so the weights become NaN in the second update
    while the loss and the gradients are finite (skip pairs with y^T s <= eps, as PyTorch's
    LBFGS does)."""
    rng = seeded(2009)
    n, dim, tau = 2048, 12, 0.9
    x = rng.normal(size=(n, dim)).astype("float32")
    w = rng.normal(size=(dim,)) / np.sqrt(dim)
    demand = (100.0 + 20.0 * np.tanh(x @ w) + 10.0 * rng.normal(size=n)).astype("float32")
    model = keras.Sequential(
        [keras.Input((dim,)), keras.layers.Dense(1, name="quantile_head")], name="quantile_model"
    )
    variables = model.trainable_variables
    memory = {"s": [], "y": [], "w": None, "g": None}

    def flat(tensors):
        return tf.concat([tf.reshape(t, [-1]) for t in tensors], axis=0)

    def train_step(x, y):
        with tf.GradientTape() as tape:
            residual = y - model(x, training=True)
            loss = tf.reduce_mean(tf.maximum(tau * residual, (tau - 1.0) * residual))
        g = flat(tape.gradient(loss, variables))
        w_now = flat(variables)
        if memory["w"] is not None:
            memory["s"] = (memory["s"] + [w_now - memory["w"]])[-5:]
            memory["y"] = (memory["y"] + [g - memory["g"]])[-5:]
        q = g
        history = []
        for s, yk in reversed(list(zip(memory["s"], memory["y"], strict=True))):
            rho = 1.0 / tf.reduce_sum(yk * s)
            alpha = rho * tf.reduce_sum(s * q)
            q = q - alpha * yk
            history.append((rho, alpha, s, yk))
        if memory["s"]:
            s, yk = memory["s"][-1], memory["y"][-1]
            r = q * (tf.reduce_sum(s * yk) / tf.reduce_sum(yk * yk))
        else:
            r = q
        for rho, alpha, s, yk in reversed(history):
            beta = rho * tf.reduce_sum(yk * r)
            r = r + s * (alpha - beta)
        memory["w"], memory["g"] = w_now, g
        offset = 0
        for v in variables:
            size = int(np.prod(v.shape))
            v.assign_sub(tf.reshape(r[offset : offset + size], v.shape))
            offset += size
        return loss

    full_batch = (tf.constant(x), tf.constant(demand.reshape(-1, 1)))
    return run_loop(train_step, [full_batch] * 20, compiled=False, model=model)


# ---------------------------------------------------------------------------------------------
# what a correct report says
# ---------------------------------------------------------------------------------------------
BLIND20_SCENARIOS: list[Scenario] = [
    Scenario(
        "decode_csv_nan_literals_past_record_defaults",
        decode_csv_nan_literals_past_record_defaults,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="a tf.data pipeline parsing a np.savetxt export with tf.io.decode_csv("
        "record_defaults=[[0.0]] * k): the defaults fill only empty fields, the missing "
        "readings were written as the literal 'nan' and parse as NaN in the feature batch "
        "(https://github.com/tensorflow/tensorflow/issues/25825, "
        "https://github.com/tensorflow/tensorflow/issues/13007, "
        "https://github.com/deeplearning4j/DataVec/issues/481)",
        blind=True,
    ),
    Scenario(
        "rmsle_loss_on_a_standardized_target",
        rmsle_loss_on_a_standardized_target,
        "loss",
        frozenset({"Log1p"}),
        None,
        "domain_error",
        frozenset(),
        story="an RMSLE loss sqrt(mean((log1p(pred) - log1p(y))^2)) kept after the target "
        "was standardized: the standardized prices below -1 give log1p of a number below -1, "
        "NaN in the loss; RMSLE needs the raw non-negative target "
        "(https://j-jae0.github.io/error-warning/warning-01, "
        "https://www.whosebug.com/question/4620390/How-to-pre-process-the-data-to-calculate-"
        "Root-Mean-Squared-Logarithmic-Error, "
        "https://www.slingacademy.com/article/fixing-log-function-error-with-negative-values-"
        "in-scikit-learn/)",
        blind=True,
    ),
    Scenario(
        "keras_mape_loss_on_intermittent_demand",
        keras_mape_loss_on_intermittent_demand,
        None,
        cause=frozenset({"missing_epsilon", "gradient_explosion"}),
        fixes=frozenset({"clip_gradients"}),
        story="keras.losses.MeanAbsolutePercentageError on daily demand with zero-sales days "
        "and SGD with momentum: Keras' max(|y|, 1e-7) floor avoids 0 / 0 but weighs each zero "
        "day 1e9 per unit of error, the gradients are ~1e7 and the run diverges within a few "
        "steps (https://github.com/keras-team/keras/issues/2908, "
        "https://github.com/keras-team/keras/pull/333, "
        "https://github.com/keras-team/keras/pull/15761, "
        "https://github.com/unit8co/darts/issues/2517, "
        "https://github.com/dmlc/xgboost/issues/7586)",
        blind=True,
    ),
    Scenario(
        "lr_range_test_leaves_its_last_learning_rate_when_fine_tuning",
        lr_range_test_leaves_its_last_learning_rate_when_fine_tuning,
        None,
        cause="learning_rate_too_high",
        fixes=frozenset({"lower_learning_rate"}),
        story="a learning-rate range test before fine-tuning a pretrained backbone restores "
        "the weights but not the optimizer: training starts at the last (diverging) rate "
        "tested, with the test's momentum, and diverges after some steps "
        "(https://github.com/davidtvs/pytorch-lr-finder/issues/11, "
        "https://github.com/Lightning-AI/pytorch-lightning/issues/6675, "
        "https://github.com/OHDSI/DeepPatientLevelPrediction/issues/141, "
        "https://github.com/pytorch/ignite/issues/1482)",
        blind=True,
    ),
    Scenario(
        "gradient_accumulator_never_zeroed",
        gradient_accumulator_never_zeroed,
        None,
        cause="learning_rate_too_high",
        fixes=frozenset(),
        story="gradient accumulation ported from PyTorch without the zero_grad(): the "
        "tf.Variable accumulators are never reset, every update applies the sum of all "
        "gradients so far, the steps grow with the update count and the run diverges after "
        "some updates; reset the accumulators "
        "(https://runebook.dev/en/docs/pytorch/generated/torch.optim.optimizer.zero_grad, "
        "https://thecodeforge.io/ml-ai/pytorch-training-loop/, "
        "https://github.com/tensorflow/tensorflow/issues/55478, "
        "https://github.com/fastai/fastai2/pull/194)",
        blind=True,
    ),
    Scenario(
        "learnable_power_activation_leaves_its_integer_exponent",
        learnable_power_activation_leaves_its_integer_exponent,
        "activation",
        frozenset({"Pow"}),
        "power_mlp/power_activation",
        "domain_error",
        frozenset(),
        story="a learnable power activation x ** p started at p = 2.0 after a linear Dense: "
        "the first update makes p non-integer and the negative pre-activations raised to it "
        "are NaN inside the layer (https://github.com/pytorch/pytorch/issues/75405, "
        "https://github.com/Verified-Intelligence/auto_LiRPA/issues/57, "
        "https://github.com/torch/nn/pull/596, "
        "https://github.com/pytorch/pytorch/issues/76483)",
        blind=True,
    ),
    Scenario(
        "fully_convolutional_classifier_fed_thumbnails",
        fully_convolutional_classifier_fed_thumbnails,
        "activation",
        frozenset({"Mean"}),
        "thumbnail_cnn/global_pool",
        None,
        frozenset(),
        story="a variable-size CNN with four 2 x 2 poolings and a border trim, built for "
        "224-pixel images, fed 16-pixel thumbnails by the tf.data resize: the trim of the 1 x 1 "
        "map leaves a 0 x 0 map and GlobalAveragePooling2D of it is 0 / 0 = NaN "
        "(https://github.com/keras-team/keras/issues/16491, "
        "https://github.com/keras-team/tf-keras/issues/632, "
        "https://github.com/megvii-research/DPGN/issues/13, "
        "https://github.com/pytorch/vision/issues/696)",
        blind=True,
    ),
    Scenario(
        "category_encoding_counts_at_fasttext_learning_rate",
        category_encoding_counts_at_fasttext_learning_rate,
        None,
        cause=frozenset({"unscaled_input", "learning_rate_too_high"}),
        fixes=frozenset({"rescale_input", "lower_learning_rate"}),
        story="a fastText port with CategoryEncoding(output_mode='count') (the padding id "
        "counted too) instead of averaged word vectors, at fastText's rate 0.1: the summed "
        "counts make the steps thousands of times larger and the run diverges "
        "(https://github.com/keras-team/keras/pull/3446, "
        "https://github.com/facebookresearch/fastText/issues/687, "
        "https://github.com/facebookresearch/fastText/issues/343)",
        blind=True,
    ),
    Scenario(
        "l_half_sparsity_penalty_on_a_magnitude_pruned_layer",
        l_half_sparsity_penalty_on_a_magnitude_pruned_layer,
        "gradient",
        cause="missing_epsilon",
        fixes=frozenset({"add_epsilon"}),
        story="fine-tuning a magnitude-pruned layer (exact zeros) with an L1/2 penalty "
        "sum(sqrt(|w|)): finite forward, but the derivative sign(w) / (2 sqrt|w|) is inf x 0 "
        "= NaN at the pruned entries in the backward pass "
        "(https://github.com/mlpack/mlpack/pull/3545, "
        "https://github.com/pytorch/pytorch/issues/95111, "
        "https://github.com/wenwei202/iss-rnns/issues/5)",
        blind=True,
    ),
    Scenario(
        "lbfgs_by_hand_on_a_pinball_loss",
        lbfgs_by_hand_on_a_pinball_loss,
        "optimizer_update",
        frozenset({"RealDiv"}),
        None,
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="L-BFGS by hand on a piecewise-linear pinball loss without the y^T s > eps guard: "
        "the gradient does not change between two steps, rho = 1 / (y^T s) = 1 / 0 and the "
        "search direction and the weights are NaN "
        "(https://github.com/pytorch/pytorch/issues/5953, "
        "https://github.com/argmin-rs/argmin/pull/657, "
        "https://github.com/yixuan/LBFGSpp/issues/31, "
        "https://github.com/mlpack/ensmallen/pull/368, "
        "https://github.com/google-deepmind/optax/issues/1708)",
        blind=True,
    ),
]
