"""A twenty-fifth set of NaN scenarios from public bug patterns, written BLIND (2026-12-05).

Written without reading nantrace's package, its docs, its README, its benchmarks or its test
modules: only the scenario helpers of ``scenario_cases.py`` (lines 1-120) and
``scenario_patterns.py`` (lines 1-50: ``_custom_step``), the format of ``scenario_blind20.py``,
the taxonomy section of the design notes and the list of names and one-line stories of the
existing scenarios were read; no other blind suite, no git log or diff output of other files,
and nantrace was never imported or run. The installed Keras source was read to check that
the constructions are what the stories say (BatchNormalization's inference branch and
tf.nn.batch_normalization's rsqrt, TextVectorization's tf_idf multiply and idf padding,
the built-in losses' epsilons). Each expectation comes from the bug pattern itself (where a
careful ML engineer would say the first non-finite value appears, why, and the first fix to
try), and all ten were written into this file before anything was run. The patterns come
from public reports found with a search over GitHub issues and pull requests, library docs
and stored web pages (Q&A threads, tutorials); each story cites them.

Theme: everyday Keras ``compile`` / ``fit`` code with one ordinary slip (run here through the
suite's custom loop): preprocessing layers and tf.data input pipelines, sample weights and
loss weights, transfer learning and fine-tuning, tabular, image, text and time-series data.
The ten: TextVectorization(output_mode='tf_idf') given hand-made idf weights log(N / df) for a
fixed lexicon with terms absent from the corpus (inf idf, 0 x inf in the tf.data map); sample
weights from net revenue with refund lines negative; PyTorch BatchNorm statistics set into a
frozen Keras backbone with running_mean and running_var swapped; a Normalization layer given
StandardScaler's scale_ (the std) as its variance; time-to-repurchase labels from an XGBoost
AFT table with censored customers at +inf; robust scaling (x - median) / IQR by hand of
zero-inflated count columns; multi-task loss weights 1 / var(target) with a constant target;
fine-tuning after unfreezing at the head phase's SGD rate; the LSTM tutorial's
normalise_windows (p / p0 - 1) on solar output that is 0 at night; Rescaling(255) typed for
Rescaling(1 / 255).

The only thing checked after writing them is that plain TensorFlow, unwatched, really goes
non-finite on their batches (loss, gradients, weights, and at which step), and (with
tf.debugging.enable_check_numerics, plain TF, the step compiled as the scenario runs it)
which op first produces the non-finite value, in a throwaway script outside the repository
that stands in plain-TF versions of the loop helpers and asserts that nantrace was never
imported. No expectation field (kind, op types, layer, cause, fixes) was changed after that
check, and no pattern was dropped; three constructions were changed, as told below. What the
check showed: the tf-idf pipeline (the first feature batch holds NaN; with check_numerics the
first flagged op is the ReadVariableOp of the layer's idf weights, +inf in 40 entries, in the
tf.data map; the step-0 loss is a finite 0.693 because the CPU Relu maps the NaN to 0, the
step-0 gradients and weights are non-finite), the refund weights (after the change below: the
loss runs negative, -1e36, and is -inf at step 253 while gradients and weights are still
finite; first op the MSE's weighted Sum, -inf, at step 253), the swapped BatchNorm statistics
(NaN at step 0; first op bn0's Rsqrt in ported_cnn, NaN), the Normalization given the std
(loss 1.1e3, 4.9e12, inf at step 2; first op the MSE's Square, +inf, at step 2), the +inf
repurchase labels (the first label batch holds +inf, loss inf at step 0; first op the MSE's
Sub of the labels), the robust scaling (the first feature batch holds +inf and NaN; loss a
finite 0.693 at step 0 as above, non-finite gradients; check_numerics flags hidden0's
MatMul, the first op that consumes the batch), the multi-task weights (loss inf at step 0;
check_numerics flags the Const holding the inf loss weight inside the compiled step, the Mul
with the charge-off MSE comes next), the fine-tuning (after the change below: phase 2 losses
90, 7e3, 3e4, 1e13, 1e26, NaN at step 7; with check_numerics conv3's Conv2D output, at
step 8), the normalise_windows (the first feature and label batches hold NaN and inf;
check_numerics flags the LSTM cell's first MatMul) and Rescaling(255) (after the change below:
loss 1.9e4, 9.4e14, NaN at step 2; first op the head's MatMul at step 2).
Constructions changed after the first check (expectation fields untouched, the docstrings and
stories rewritten to match): the refund-weighted model was first an MLP (2 x 64 ReLU) with 10 %
refund lines and SGD(0.02, momentum 0.9): it stayed finite over 384 steps (the ReLUs on the
refund rows die, which bounds their escape); it is now the team's linear baseline, with 15 %
refund lines and SGD(0.1, momentum 0.9). The fine-tuning CNN first used ReLU and noise-free new
labels (label % 4 of the tint classes): the new task was separated exactly, the loss was 0
and nothing moved; with noisy labels the ReLU network died at SGD 0.1-0.3 (loss log 4,
finite); the backbone now uses ELU and 30 % of the new labels are random. The Rescaling(255)
CNN first used ReLU: the first update killed every unit and the loss sat at log 10, finite;
its convolutions now use leaky ReLU.
Caveats a reader should know: four scenarios leave kind None (the check showed the MSE's
weighted Sum for the refund weights, the MSE's Square for the std-as-variance, conv3's
Conv2D for the fine-tuning and the head's MatMul for Rescaling(255)); the refund scenario's
cause is None (no id of the taxonomy names a loss made unbounded below by negative sample
weights) and the swapped-statistics scenario's fix set is empty (load the statistics in
Keras' order; an epsilon cannot help a negative variance); three fix sets allow two ids where
a careful engineer could reasonably start with either (smoothing the idf or dropping the
unseen terms; guarding the IQR or imputing the cells; scaling the series globally or
dropping the night windows); the multi-task scenario expects the loss's Mul, while the inf
itself is a Python-side constant that becomes a graph Const.

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


def _tinted_images(rng, n, classes, size=16, noise=40.0):
    """Small RGB images (0-255, float32) whose class is a tint, and their integer labels."""
    labels = rng.integers(0, classes, size=n)
    tints = rng.uniform(0, 255, size=(classes, 3))
    images = tints[labels][:, None, None, :] + noise * rng.normal(size=(n, size, size, 3))
    return images.clip(0, 255).astype("float32"), labels.astype("int32")


# ---------------------------------------------------------------------------------------------
# 1. TextVectorization(output_mode='tf_idf') given textbook idf weights log(N / df) for a fixed
#    lexicon, some of whose terms never occur in this month's tickets
# ---------------------------------------------------------------------------------------------
def tf_idf_of_a_fixed_lexicon_with_unsmoothed_idf():
    """Support-ticket escalation classifier (a small MLP on TF-IDF features, binary
    cross-entropy from logits). The vocabulary is a fixed 300-term product lexicon (kept fixed
    so that the model's input stays the same across monthly retrains), so Keras'
    TextVectorization(output_mode='tf_idf') cannot adapt() and requires idf_weights; they are
    computed by hand with the textbook formula idf = log(N / df) over this month's tickets,
    without smoothing. Forty lexicon terms (discontinued products) occur in no ticket this
    month: df = 0, idf = log(N / 0) = inf, and Keras pads the OOV token's weight with the
    average of the weights, inf too. The layer multiplies counts by idf, so every row of the
    feature batch holds 0 x inf = NaN in those columns, in the tf.data map before any op of the
    model runs (smooth the idf, log(1 + N / (1 + df)), or drop the unseen terms)."""
    rng = seeded(2500)
    n, lexicon_size, unseen = 2048, 300, 40
    lexicon = [f"term{i:03d}" for i in range(lexicon_size)]
    polarity = rng.normal(size=lexicon_size - unseen)
    docs, labels = [], []
    for _ in range(n):
        ids = rng.integers(0, lexicon_size - unseen, size=rng.integers(5, 40))
        docs.append(" ".join(lexicon[i] for i in ids))
        labels.append(float(rng.random() < 1.0 / (1.0 + np.exp(-3.0 * polarity[ids].mean()))))
    doc_freq = np.array(
        [sum(term in set(doc.split()) for doc in docs) for term in lexicon], dtype="float64"
    )
    with np.errstate(divide="ignore"):
        idf = np.log(n / doc_freq)
    vectorize = keras.layers.TextVectorization(
        output_mode="tf_idf", vocabulary=lexicon, idf_weights=idf, name="tf_idf"
    )
    dataset = (
        tf.data.Dataset.from_tensor_slices((docs, np.array(labels, "float32").reshape(-1, 1)))
        .batch(64)
        .map(lambda text, y: (vectorize(text), y))
    )
    model = mlp([64], name="ticket_mlp", input_dim=lexicon_size + 1)
    return run_loop(
        standard_step(
            model,
            keras.optimizers.Adam(1e-3),
            keras.losses.BinaryCrossentropy(from_logits=True),
        ),
        list(dataset),
    )


# ---------------------------------------------------------------------------------------------
# 2. order lines weighted by their net revenue, refunds included (negative sample weights)
# ---------------------------------------------------------------------------------------------
def refund_lines_weighted_by_their_negative_net_revenue():
    """Order-line margin model (the team's linear baseline, a single Dense on 10 standardized
    features plus an is_return flag, MSE, SGD(0.1, momentum 0.9)) whose rows are weighted
    through sample_weight by the line's net revenue divided by its mean, 'so that big orders
    count more'. Refund lines (about one in seven) carry a negative net revenue, hence a
    negative sample weight: for those rows the weighted loss is -|w| (y - f(x))^2, unbounded
    below, and gradient descent on it pushes their predictions away from the target ever
    faster (along the is_return weight nothing pulls back), so the loss runs to -inf after
    some hundred steps while every input, label and weight is finite (drop the refund lines
    or weight by |revenue|)."""
    rng = seeded(2501)
    n, dim = 8192, 10
    x = rng.normal(size=(n, dim)).astype("float32")
    is_return = (rng.random(n) < 0.15).astype("float32")
    w = rng.normal(size=(dim,)) / np.sqrt(dim)
    margin = np.tanh(x @ w) - 0.5 * is_return + 0.1 * rng.normal(size=n)
    revenue = rng.lognormal(3.0, 1.0, size=n)
    net_revenue = np.where(is_return > 0, -revenue, revenue)
    weights = (net_revenue / net_revenue.mean()).astype("float32")
    features = np.concatenate([x, is_return[:, None]], axis=1)
    model = keras.Sequential(
        [keras.Input((dim + 1,)), keras.layers.Dense(1, name="margin")], name="margin_linear"
    )
    optimizer = keras.optimizers.SGD(learning_rate=0.1, momentum=0.9)
    mse = keras.losses.MeanSquaredError()

    def weighted_loss(model, x, y, sample_weight):
        return mse(y, model(x, training=True), sample_weight=sample_weight)

    data = [
        (
            tf.constant(features[i : i + 64]),
            tf.constant(margin[i : i + 64].astype("float32").reshape(-1, 1)),
            tf.constant(weights[i : i + 64]),
        )
        for _ in range(3)
        for i in range(0, n, 64)
    ]
    return run_loop(
        _custom_step(model, optimizer, weighted_loss), data, model=model, optimizer=optimizer
    )


# ---------------------------------------------------------------------------------------------
# 3. BatchNormalization statistics ported from PyTorch with running_mean and running_var swapped
# ---------------------------------------------------------------------------------------------
def batchnorm_statistics_ported_with_mean_and_variance_swapped():
    """Transfer learning from a small conv backbone trained elsewhere (PyTorch-style weights:
    weight, bias, running_mean, running_var per BatchNorm) into the same Keras architecture:
    conv weights are copied, and each BatchNormalization gets set_weights([weight, bias,
    running_var, running_mean]), the running statistics swapped (Keras expects gamma, beta,
    moving_mean, moving_variance; the four vectors have the same shape, so nothing
    complains). The backbone is frozen, as the transfer-learning guide says, so its
    BatchNormalization layers run in inference mode on the moving statistics: the
    'moving_variance' now holds the running means, about half of them negative, and
    rsqrt(variance + epsilon) of a negative number is NaN in the first BatchNormalization
    at the first step (load the statistics in Keras' order)."""
    rng = seeded(2502)
    images, labels = _tinted_images(rng, 1536, classes=6)

    def backbone_layers():
        return [
            keras.layers.Rescaling(1.0 / 255, name="rescale"),
            keras.layers.Conv2D(16, 3, padding="same", use_bias=False, name="conv0"),
            keras.layers.BatchNormalization(name="bn0"),
            keras.layers.Activation("relu", name="relu0"),
            keras.layers.MaxPooling2D(2, name="pool0"),
            keras.layers.Conv2D(32, 3, padding="same", use_bias=False, name="conv1"),
            keras.layers.BatchNormalization(name="bn1"),
            keras.layers.Activation("relu", name="relu1"),
            keras.layers.GlobalAveragePooling2D(name="global_pool"),
        ]

    source = keras.Sequential(
        [keras.Input((16, 16, 3)), *backbone_layers(), keras.layers.Dense(6, name="old_head")],
        name="source_cnn",
    )
    source.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    source.fit(images[:1024], labels[:1024], batch_size=32, epochs=2, verbose=0)
    exported = {}
    for layer in source.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = (v.numpy() for v in layer.weights)
            exported[layer.name] = {
                "weight": gamma,
                "bias": beta,
                "running_mean": mean,
                "running_var": var,
            }
        elif isinstance(layer, keras.layers.Conv2D):
            exported[layer.name] = {"weight": layer.kernel.numpy()}

    layers = backbone_layers()
    model = keras.Sequential(
        [keras.Input((16, 16, 3)), *layers, keras.layers.Dense(3, name="new_head")],
        name="ported_cnn",
    )
    for layer in layers:
        if layer.name not in exported:
            continue
        state = exported[layer.name]
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.set_weights(
                [state["weight"], state["bias"], state["running_var"], state["running_mean"]]
            )
        else:
            layer.set_weights([state["weight"]])
        layer.trainable = False
    new_labels = (labels[1024:] % 3).astype("int32")
    return run_loop(
        standard_step(
            model,
            keras.optimizers.Adam(1e-3),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        ),
        batches(images[1024:], new_labels, size=32),
    )


# ---------------------------------------------------------------------------------------------
# 4. keras.layers.Normalization(mean=scaler.mean_, variance=scaler.scale_): the std as variance
# ---------------------------------------------------------------------------------------------
def normalization_layer_given_the_scalers_std_as_its_variance():
    """Customer-lifetime-value regressor on 8 raw banking columns (income ~60k, balance ~15k,
    credit score ~650, transactions ~120, age, tenure, products, rate). The statistics come
    from the StandardScaler fitted in the old scikit-learn pipeline and are moved into the
    model as keras.layers.Normalization(mean=scaler.mean_, variance=scaler.scale_): scale_ is
    the standard deviation, but the layer's argument is the variance, and it divides by
    sqrt(variance) = sqrt(std). The dollar columns come out with a spread of ~100-140 instead of
    1, and SGD(0.01, momentum 0.9), tuned on standardized inputs, diverges to inf / NaN within
    a few steps (pass scaler.var_, or adapt() the layer)."""
    rng = seeded(2503)
    n = 4096
    centres = np.array([6e4, 1.5e4, 650.0, 120.0, 40.0, 5.0, 2.0, 0.05])
    spreads = np.array([2e4, 1e4, 80.0, 60.0, 12.0, 3.0, 1.0, 0.02])
    z = rng.normal(size=(n, 8))
    raw = (centres + spreads * z).astype("float32")
    w = rng.normal(size=(8,)) / np.sqrt(8)
    clv = (np.tanh(z @ w) + 0.3 * np.sin(z[:, 0] * z[:, 2]) + 0.1 * rng.normal(size=n)).astype(
        "float32"
    )
    scaler_mean, scaler_scale = raw.mean(axis=0), raw.std(axis=0)
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Normalization(mean=scaler_mean, variance=scaler_scale, name="standardize"),
            keras.layers.Dense(64, activation="relu", name="hidden0"),
            keras.layers.Dense(64, activation="relu", name="hidden1"),
            keras.layers.Dense(1, name="head"),
        ],
        name="clv_mlp",
    )
    return run_loop(
        standard_step(
            model,
            keras.optimizers.SGD(learning_rate=0.01, momentum=0.9),
            keras.losses.MeanSquaredError(),
        ),
        batches(raw, clv.reshape(-1, 1), size=64, epochs=2),
    )


# ---------------------------------------------------------------------------------------------
# 5. time-to-repurchase labels exported for XGBoost's AFT objective: censored rows are +inf
# ---------------------------------------------------------------------------------------------
def repurchase_days_with_censored_customers_left_at_infinity():
    """Days-to-next-purchase regressor (an MLP on 12 standardized customer features, MSE on
    the label in months). The labels come from a table prepared for XGBoost's survival:aft
    objective, where a right-censored customer (no repurchase before the export, ~15 % of
    them) has y_lower = the days observed and y_upper = +inf. The Keras port reads y_upper as
    the regression target; dividing by 30 keeps inf, so the label batch holds +inf before any
    op runs and the loss is inf at the first step (drop or cap the censored rows, or train a
    censoring-aware loss on both bounds)."""
    rng = seeded(2504)
    n, dim = 4096, 12
    x = rng.normal(size=(n, dim)).astype("float32")
    w = rng.normal(size=(dim,)) / np.sqrt(dim)
    days = rng.gamma(2.0, 15.0 * np.exp(0.5 * np.tanh(x @ w)))
    censored = rng.random(n) < 0.15
    y_upper = np.where(censored, np.inf, days)
    months = (y_upper / 30.0).astype("float32").reshape(-1, 1)
    model = mlp([64, 32], name="repurchase_mlp", input_dim=dim)
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        batches(x, months, size=64),
    )


# ---------------------------------------------------------------------------------------------
# 6. robust scaling by hand, (x - median) / IQR, of zero-inflated count columns
# ---------------------------------------------------------------------------------------------
def robust_scaling_by_hand_of_zero_inflated_counts():
    """Churn classifier (an MLP on 10 columns, binary cross-entropy from logits) whose
    features were scaled with the outlier-robust recipe written in pandas,
    (df - df.median()) / (df.quantile(0.75) - df.quantile(0.25)), because the spend columns
    have heavy tails. Two columns are zero-inflated counts (complaints, support tickets: 0
    for over 80 % of the customers), so their median and both quartiles are 0 and the IQR is
    0: the customers with a complaint get +inf and all the others 0 / 0 = NaN, in every batch
    before any op runs (scikit-learn's RobustScaler replaces a zero scale by 1; guard the
    IQR, or scale those columns another way)."""
    rng = seeded(2505)
    n = 4096
    spend = rng.lognormal(4.0, 1.2, size=(n, 8))
    complaints = rng.poisson(0.1, size=n) * (rng.random(n) < 0.9)
    tickets = rng.poisson(0.15, size=n)
    table = np.concatenate([spend, complaints[:, None], tickets[:, None]], axis=1)
    median = np.median(table, axis=0)
    iqr = np.percentile(table, 75, axis=0) - np.percentile(table, 25, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = ((table - median) / iqr).astype("float32")
    logit = 0.8 * np.log(spend[:, 0] / spend[:, 1]) + 1.5 * complaints - 0.5
    churn = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype("float32").reshape(-1, 1)
    model = mlp([64, 32], name="churn_mlp", input_dim=10)
    return run_loop(
        standard_step(
            model,
            keras.optimizers.Adam(1e-3),
            keras.losses.BinaryCrossentropy(from_logits=True),
        ),
        batches(scaled, churn, size=64),
    )


# ---------------------------------------------------------------------------------------------
# 7. multi-task loss weights 1 / var(target) with a task whose target is constant in this region
# ---------------------------------------------------------------------------------------------
def multitask_loss_weights_from_a_constant_target_variance():
    """A loan model with a shared trunk and three regression heads (amount repaid, days late,
    charge-off fraction), each head's MSE weighted by 1 / var(target) computed on the
    training labels ('scale-free loss weights', as loss_weights in compile). The model is
    retrained for a new region where no loan has been charged off yet: that target is
    exactly 0 for every row, its variance is 0 and numpy's 1 / 0.0 gives a loss weight of
    inf (with only a RuntimeWarning). The charge-off head's MSE is positive at the
    initial weights, so inf x MSE makes the total loss inf at the first step, in the loss
    computation, while inputs, labels and the model's outputs are finite (floor the
    variance, or drop a task with no variance)."""
    rng = seeded(2506)
    n, dim = 4096, 14
    x = rng.normal(size=(n, dim)).astype("float32")
    w1, w2 = rng.normal(size=(2, dim)) / np.sqrt(dim)
    amount = (np.tanh(x @ w1) + 0.1 * rng.normal(size=n)).astype("float32")
    late = (np.abs(x @ w2) + 0.2 * rng.normal(size=n)).astype("float32")
    charge_off = np.zeros(n, dtype="float32")
    targets = [amount, late, charge_off]
    with np.errstate(divide="ignore"):
        loss_weights = [1.0 / np.var(t) for t in targets]

    inputs = keras.Input((dim,))
    h = keras.layers.Dense(64, activation="relu", name="trunk0")(inputs)
    h = keras.layers.Dense(64, activation="relu", name="trunk1")(h)
    outputs = [
        keras.layers.Dense(1, name=name)(h)
        for name in ("amount_head", "late_head", "charge_off_head")
    ]
    model = keras.Model(inputs, outputs, name="loan_multitask")
    optimizer = keras.optimizers.Adam(1e-3)
    mse = keras.losses.MeanSquaredError()

    def multitask_loss(model, x, y_amount, y_late, y_charge_off):
        predictions = model(x, training=True)
        labels = (y_amount, y_late, y_charge_off)
        return tf.add_n(
            [
                weight * mse(label, prediction)
                for weight, label, prediction in zip(loss_weights, labels, predictions, strict=True)
            ]
        )

    data = [
        (
            tf.constant(x[i : i + 64]),
            *(tf.constant(t[i : i + 64].reshape(-1, 1)) for t in targets),
        )
        for i in range(0, n, 64)
    ]
    return run_loop(
        _custom_step(model, optimizer, multitask_loss), data, model=model, optimizer=optimizer
    )


# ---------------------------------------------------------------------------------------------
# 8. fine-tuning after unfreezing the backbone at the head-training learning rate
# ---------------------------------------------------------------------------------------------
def fine_tuning_after_unfreezing_at_the_head_learning_rate():
    """Two-phase transfer learning on small images: a plain 4-block ELU CNN (no BatchNorm)
    pretrained on an 8-class task; phase 1 trains a new 4-class head (noisy labels) on the
    frozen backbone with SGD(0.1, momentum 0.9), which a linear head on pooled features
    survives; phase 2
    unfreezes the backbone and recompiles with the same SGD(0.1, momentum 0.9) instead of a
    rate 10-100x lower, as the Keras fine-tuning guide insists. The whole network at the
    head's rate takes steps far too large for the convolution kernels: the loss rises and the
    run diverges to inf / NaN after some steps (recompile with a much lower learning rate)."""
    rng = seeded(2507)
    images, labels = _tinted_images(rng, 3072, classes=8)
    images = images / 255.0
    backbone = []
    for i, filters in enumerate([16, 32, 32, 64]):
        backbone.append(
            keras.layers.Conv2D(filters, 3, padding="same", activation="elu", name=f"conv{i}")
        )
        if i < 3:
            backbone.append(keras.layers.MaxPooling2D(2, name=f"pool{i}"))
    backbone.append(keras.layers.GlobalAveragePooling2D(name="global_pool"))
    pretrain = keras.Sequential(
        [keras.Input((16, 16, 3)), *backbone, keras.layers.Dense(8, name="old_head")],
        name="pretrain_cnn",
    )
    pretrain.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    pretrain.fit(images[:2048], labels[:2048], batch_size=32, epochs=2, verbose=0)

    new_images = images[2048:]
    noisy = rng.random(len(new_images)) < 0.3
    new_labels = np.where(noisy, rng.integers(0, 4, size=len(new_images)), labels[2048:] % 4)
    new_labels = new_labels.astype("int32")
    model = keras.Sequential(
        [keras.Input((16, 16, 3)), *backbone, keras.layers.Dense(4, name="new_head")],
        name="finetune_cnn",
    )
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    for layer in backbone:
        layer.trainable = False
    head_step = tf.function(
        standard_step(model, keras.optimizers.SGD(learning_rate=0.1, momentum=0.9), loss_fn)
    )
    for xb, yb in batches(new_images, new_labels, size=32):
        head_step(xb, yb)
    for layer in backbone:
        layer.trainable = True
    # phase 2: 'recompile' after unfreezing, with the head phase's optimizer settings
    return run_loop(
        standard_step(model, keras.optimizers.SGD(learning_rate=0.1, momentum=0.9), loss_fn),
        batches(new_images, new_labels, size=32, epochs=3),
    )


# ---------------------------------------------------------------------------------------------
# 9. the popular normalise_windows (p / p0 - 1) on solar output that is exactly 0 at night
# ---------------------------------------------------------------------------------------------
def window_normalization_by_the_first_value_of_solar_output():
    """Next-hour PV forecaster (LSTM(32) + Dense, MSE) built from the popular LSTM
    time-series tutorial's data processor: each 48-hour window (and its target) is
    normalised by its own first value, p / p0 - 1, column by column, to make it
    'stationary'. The tutorial's stock prices are never 0; a rooftop PV plant's output is
    exactly 0 every night, so every window that starts between sunset and sunrise divides by
    0: the night hours are 0 / 0 = NaN and the day hours +inf, in the feature and label
    batches before any op runs (scale the series globally instead of by a value that can be
    0)."""
    rng = seeded(2508)
    hours = np.arange(24 * 150)
    daylight = np.maximum(0.0, np.sin(2 * np.pi * (hours % 24 - 6) / 24))
    clouds = np.clip(1.0 - 0.6 * rng.beta(2.0, 3.0, size=hours.size // 24).repeat(24), 0.1, 1.0)
    pv = 5.0 * daylight * clouds
    temperature = (
        15.0 + 8.0 * np.sin(2 * np.pi * (hours % 24 - 9) / 24) + rng.normal(size=hours.size)
    )
    series = np.stack([pv, temperature], axis=1)
    window = 48
    starts = np.arange(0, len(series) - window - 1, 3)
    raw = np.stack([series[s : s + window + 1] for s in starts])
    with np.errstate(divide="ignore", invalid="ignore"):
        normalised = (raw / raw[:, :1, :] - 1.0).astype("float32")
    order = rng.permutation(len(starts))
    x = normalised[order, :window, :]
    y = normalised[order, window, :1]
    model = keras.Sequential(
        [
            keras.Input((window, 2)),
            keras.layers.LSTM(32, name="lstm"),
            keras.layers.Dense(1, name="head"),
        ],
        name="pv_lstm",
    )
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        batches(x, y, size=64),
    )


# ---------------------------------------------------------------------------------------------
# 10. keras.layers.Rescaling(255) where Rescaling(1 / 255) was meant
# ---------------------------------------------------------------------------------------------
def rescaling_layer_given_255_instead_of_its_inverse():
    """A small image classifier (three Conv2D blocks with leaky ReLU, GlobalAveragePooling2D,
    Dense) fed
    image_dataset_from_directory-style float pixels in 0-255, with the preprocessing inside
    the model as the Keras guides show: keras.layers.Rescaling(255) was typed for
    Rescaling(1.0 / 255). The network sees pixels up to 65025 instead of 0-1, the logits
    and gradients are ~1e5 times too large and SGD(0.01, momentum 0.9) diverges to inf / NaN
    within a few steps (scale = 1 / 255)."""
    rng = seeded(2509)
    images, labels = _tinted_images(rng, 1024, classes=10)
    layers = [keras.Input((16, 16, 3)), keras.layers.Rescaling(255.0, name="rescale")]
    for i, filters in enumerate([16, 32, 64]):
        layers.append(
            keras.layers.Conv2D(
                filters, 3, padding="same", activation="leaky_relu", name=f"conv{i}"
            )
        )
        layers.append(keras.layers.MaxPooling2D(2, name=f"pool{i}"))
    layers += [
        keras.layers.GlobalAveragePooling2D(name="global_pool"),
        keras.layers.Dense(10, name="head"),
    ]
    model = keras.Sequential(layers, name="rescaled_cnn")
    return run_loop(
        standard_step(
            model,
            keras.optimizers.SGD(learning_rate=0.01, momentum=0.9),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        ),
        batches(images, labels, size=32, epochs=2),
    )


# ---------------------------------------------------------------------------------------------
# what a correct report says
# ---------------------------------------------------------------------------------------------
BLIND25_SCENARIOS: list[Scenario] = [
    Scenario(
        "tf_idf_of_a_fixed_lexicon_with_unsmoothed_idf",
        tf_idf_of_a_fixed_lexicon_with_unsmoothed_idf,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"add_epsilon", "clean_input"}),
        story="TextVectorization(output_mode='tf_idf') with a fixed vocabulary and hand-made "
        "idf_weights log(N / df): lexicon terms absent from the corpus have df = 0, idf = inf, "
        "and count x idf = 0 x inf = NaN in every row of the feature batch "
        "(https://github.com/petercorke/machinevision-toolbox-python/pull/89, "
        "https://github.com/ClearTK/cleartk/issues/141, "
        "https://github.com/iit-cs429/main/issues/11, "
        "https://github.com/scikit-learn/scikit-learn/issues/2998)",
        blind=True,
    ),
    Scenario(
        "refund_lines_weighted_by_their_negative_net_revenue",
        refund_lines_weighted_by_their_negative_net_revenue,
        None,
        cause=None,
        fixes=frozenset({"clean_input"}),
        story="sample_weight = net revenue / mean with refund lines negative: their weighted "
        "squared error is unbounded below, gradient descent pushes their predictions away and "
        "the run diverges (https://github.com/arogozhnikov/hep_ml/issues/51, "
        "https://github.com/facebookresearch/momentum/pull/531, "
        "https://github.com/scikit-learn/scikit-learn/pull/30886, "
        "https://kumo.ai/docs/troubleshooting/can-i-perform-weighted-training)",
        blind=True,
    ),
    Scenario(
        "batchnorm_statistics_ported_with_mean_and_variance_swapped",
        batchnorm_statistics_ported_with_mean_and_variance_swapped,
        "activation",
        frozenset({"Rsqrt"}),
        "ported_cnn/bn0",
        "domain_error",
        frozenset(),
        story="PyTorch BatchNorm weights set into Keras as [weight, bias, running_var, "
        "running_mean]: the frozen layer's moving_variance holds negative running means and "
        "rsqrt(variance + eps) is NaN in inference mode "
        "(https://github.com/gmalivenko/pytorch2keras/issues/120, "
        "https://github.com/keras-team/keras/pull/3248, "
        "https://github.com/Vladkryvoruchko/PSPNet-Keras-tensorflow/issues/23, "
        "https://github.com/Vladkryvoruchko/PSPNet-Keras-tensorflow/issues/31, "
        "https://github.com/tensorflow/tensorflow/issues/18334)",
        blind=True,
    ),
    Scenario(
        "normalization_layer_given_the_scalers_std_as_its_variance",
        normalization_layer_given_the_scalers_std_as_its_variance,
        None,
        cause="unscaled_input",
        fixes=frozenset({"rescale_input"}),
        story="keras.layers.Normalization(mean=scaler.mean_, variance=scaler.scale_): the "
        "layer divides by sqrt(std), the dollar columns keep a spread of ~100 and SGD with "
        "momentum diverges (https://github.com/tensorflow/tensorflow/issues/46266, "
        "https://keras.io/api/layers/preprocessing_layers/numerical/normalization/, "
        "https://github.com/keras-team/keras/issues/21715)",
        blind=True,
    ),
    Scenario(
        "repurchase_days_with_censored_customers_left_at_infinity",
        repurchase_days_with_censored_customers_left_at_infinity,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="time-to-repurchase labels from a table prepared for XGBoost's survival:aft "
        "objective, censored customers with y_upper = +inf, read as a Keras regression target: "
        "+inf in the label batch (https://github.com/dmlc/xgboost/issues/5838, "
        "https://github.com/dmlc/xgboost/pull/5716, "
        "https://github.com/dmlc/xgboost/pull/4650)",
        blind=True,
    ),
    Scenario(
        "robust_scaling_by_hand_of_zero_inflated_counts",
        robust_scaling_by_hand_of_zero_inflated_counts,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input", "rescale_input"}),
        story="robust scaling written in pandas, (x - median) / IQR, on zero-inflated count "
        "columns whose IQR is 0: +inf and 0 / 0 = NaN in every feature batch; scikit-learn's "
        "RobustScaler replaces a zero scale by 1 "
        "(https://github.com/time-series-foundation-models/lag-llama/issues/130, "
        "https://github.com/ray-project/ray/issues/26857, "
        "https://github.com/scikit-learn/scikit-learn/pull/4125, "
        "https://github.com/scikit-learn/scikit-learn/pull/11308)",
        blind=True,
    ),
    Scenario(
        "multitask_loss_weights_from_a_constant_target_variance",
        multitask_loss_weights_from_a_constant_target_variance,
        "loss",
        frozenset({"Mul"}),
        None,
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="multi-task loss weights 1 / var(target) with a task whose target is constant "
        "(no charge-off yet in the region): the weight is inf and inf x MSE makes the loss inf "
        "(https://github.com/alibaba/TorchEasyRec/pull/88, "
        "https://github.com/rickgroen/cov-weighting/issues/3, "
        "https://github.com/cambridge-mlg/EinsumNetworks/pull/12)",
        blind=True,
    ),
    Scenario(
        "fine_tuning_after_unfreezing_at_the_head_learning_rate",
        fine_tuning_after_unfreezing_at_the_head_learning_rate,
        None,
        cause="learning_rate_too_high",
        fixes=frozenset({"lower_learning_rate"}),
        story="transfer learning whose fine-tuning phase unfreezes the backbone and recompiles "
        "with the head phase's SGD(0.1, momentum 0.9) instead of a much lower rate: the run "
        "diverges (https://keras.io/guides/transfer_learning/, "
        "https://github.com/facebookresearch/maskrcnn-benchmark/issues/721, "
        "https://github.com/Welthungerhilfe/cgm-ml/issues/326, "
        "https://github.com/fferroni/DEC-Keras/issues/5, "
        "https://thecodeforge.io/ml-ai/tensorflow-transfer-learning/)",
        blind=True,
    ),
    Scenario(
        "window_normalization_by_the_first_value_of_solar_output",
        window_normalization_by_the_first_value_of_solar_output,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input", "rescale_input"}),
        story="the LSTM time-series tutorial's normalise_windows, p / p0 - 1 per window, on PV "
        "output that is exactly 0 at night: windows starting at night are 0 / 0 and x / 0 in "
        "the feature and label batches "
        "(https://github.com/jaungiers/LSTM-Neural-Network-for-Time-Series-Prediction/issues/66, "
        "https://github.com/jaungiers/LSTM-Neural-Network-for-Time-Series-Prediction/issues/44, "
        "https://github.com/jaungiers/LSTM-Neural-Network-for-Time-Series-Prediction/pull/46, "
        "https://github.com/ourownstory/neural_prophet/issues/122)",
        blind=True,
    ),
    Scenario(
        "rescaling_layer_given_255_instead_of_its_inverse",
        rescaling_layer_given_255_instead_of_its_inverse,
        None,
        cause="unscaled_input",
        fixes=frozenset({"rescale_input"}),
        story="keras.layers.Rescaling(255) typed for Rescaling(1 / 255) in front of a CNN "
        "trained with SGD and momentum: pixels up to 65025, the first updates blow the "
        "convolutions up (https://github.com/keras-team/keras/issues/19077, "
        "https://theneuralbase.com/keras/learn/beginner/nan-loss-gradient-explosion/, "
        "https://taourl.com/read-3018156.html)",
        blind=True,
    ),
]
