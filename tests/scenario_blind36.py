"""A thirty-sixth set of NaN scenarios from public bug patterns, written BLIND (2026-12-05).

Written without reading nantrace's package, its docs, its README, its benchmarks or its test
modules (only the scenario helpers of ``scenario_cases.py`` (lines 1-120) /
``scenario_patterns.py`` (lines 1-50: ``_custom_step``), the format of ``scenario_blind20.py``,
the taxonomy section of the design notes and the list of names and one-line stories of the
existing scenarios), without git log or diff output of other files, without looking at any
other blind suite, and without importing or running nantrace: each expectation comes from the
bug pattern itself (where a careful ML engineer would say the first non-finite value appears,
why, and the first fix to try), and all ten were written into this file before anything was
run. The patterns come from public reports found with a search over GitHub issues and pull
requests and stored web pages; each story cites them. Theme: the plumbing around ordinary
Keras models - multi-task training (PCGrad over a task whose loss weight is ramped from 0,
Dynamic Task Prioritization weights read from Keras accuracy metrics without the KPI clamp),
multi-input models (a positional input list in another order than model.inputs, each branch
behind its own adapted Normalization; a log(exposure) offset input of a Poisson frequency
model), fine-tuning (ULMFiT's discriminative rates multiplied by 2.6 per layer instead of
divided; a Mean Teacher whose EMA decay 1 - 1 / step starts at Keras' iteration 0),
preprocessing inside the model (a log-popularity feature gathered by StringLookup index, the
OOV bucket having count 0), tf.data pipelines (per-batch standardization in a map after
batch() on a date-sorted table; a .cache(filename) written by an earlier version of the
pipeline, before the imputation map) and callbacks (a multiplicative warm-up keyed on the
per-epoch batch index, which restarts every epoch). Fix ids are only those of the design
notes' taxonomy; where none of them is the first fix a careful engineer would try, the fix
set is left empty; where the pattern does not determine the first op, kind / op / layer are
None.

The only thing checked after writing them is that plain TensorFlow, unwatched, really goes
non-finite on their batches (the batch, loss, gradients as applied and weights, and at which
step), and (with tf.debugging.enable_check_numerics, plain TF, the step compiled as the
scenario runs it) which op first produces the non-finite value, in a throwaway script outside
the repository that stands in plain-TF versions of the loop helpers, records from inside each
compiled step (a patched apply_gradients) whether the applied gradients are finite, and
asserts that nantrace was never imported. No expectation field (kind, op types, layer, cause,
fixes) was changed after that check, and no pattern was dropped. What the check showed:
PCGrad (loss finite, 0.72, at step 0; the projected gradients and the weights NaN at step 0,
the loss NaN from step 1; first op the projection's RealDiv 0 / 0), DTP (loss +inf at step 0,
gradients and weights NaN; first op the Log of the KPI), the warm-up (healthy through the
first epoch of 32 steps, loss 0.5; the loss inf at step 58, in the second epoch; first op the
MSE's Sum, +inf), the swapped inputs (after the change below: loss 1.3e3 at step 0, 2e25 at
step 1, inf at step 2 with gradients and weights NaN; first op the head's MatMul), ULMFiT
(loss 5.9, 7.6e5, then inf at step 2 with gradients and weights NaN; first op the MSE's
Square), the per-batch standardization (the first batch holds NaN, from the map; gradients
and weights NaN at step 0 while the loss stays finite, the ReLUs zeroing the NaN; with
check_numerics the map's RealDiv in the Dataset_map_standardize graph is flagged), the OOV
popularity (loss NaN at step 0; first op the log_popularity layer's Log), Mean Teacher (loss
2.7 at step 0, the teacher NaN after the first EMA update, the loss and the student NaN at
step 1; first op the RealDiv 1 / step, +inf, at step 0), the stale cache (TensorFlow reused
the cache files: the first batch holds NaN, the gradients and weights are NaN at step 0,
the loss stays finite; with check_numerics the IteratorGetNext that reads the cache is
flagged) and the exposure offset (no zero-exposure policy in batches 0-3; loss NaN at step 4
with the gradients finite (exp(-inf) - 0 = 0); first op the log_exposure layer's Log, -inf).
Constructions changed after the first check (expectation fields untouched): the PCGrad step
first asked tape.gradient for unconnected_gradients=ZERO, which fails on Keras 3 variables
(AttributeError before any training); the zeros for the heads a task does not reach are now
made by hand. The swapped-input model first had ReLU hidden layers: the first huge update
killed them, and the loss stayed finite at 1e17-1e22 over 128 (and 384) steps; the hidden
layers are now ELU and the run goes to inf at step 2.
Caveats a reader should know: three scenarios leave kind None (the check showed the MSE's
Sum for the warm-up, the head's MatMul for the swapped inputs and the MSE's Square for
ULMFiT); the swapped-input scenario's fix set is empty (the fix is to pass the inputs by
name), and so are the per-batch standardization's (standardize with training-set
statistics) and Mean Teacher's (count the steps from 1); the per-batch standardization and
the stale cache make their NaN inside tf.data, before the train step, and in both the loss
stays finite while the gradients and weights turn NaN; the exposure offset's loss is NaN
only on batches holding a zero-exposure policy, its gradients stay finite; the stale-cache
scenario writes its cache under a fresh tempfile.mkdtemp() directory on every build.

Layer names are set explicitly only so the expectations can name them.
"""

from __future__ import annotations

import os
import tempfile

import keras
import numpy as np
import tensorflow as tf
from scenario_cases import Scenario, batches, run_loop, seeded, standard_step
from scenario_patterns import _custom_step


def _tuples(*arrays, size=64, epochs=1):
    """Batches of several aligned arrays (features, several labels, ...), in order."""
    n = len(arrays[0])
    out = []
    for _ in range(epochs):
        for start in range(0, n, size):
            out.append(tuple(tf.constant(a[start : start + size]) for a in arrays))
    return out


def _flat(tensors):
    return tf.concat([tf.reshape(t, [-1]) for t in tensors], axis=0)


def _unflat(vector, variables):
    out, offset = [], 0
    for v in variables:
        size = int(np.prod(v.shape))
        out.append(tf.reshape(vector[offset : offset + size], v.shape))
        offset += size
    return out


# ---------------------------------------------------------------------------------------------
# 1. PCGrad over a main task and an auxiliary task whose loss weight is ramped up from 0
# ---------------------------------------------------------------------------------------------
def pcgrad_with_an_auxiliary_task_whose_loss_weight_ramps_from_zero():
    """A two-head model (shared 2 x 64 ReLU trunk, a regression head and an auxiliary
    churn head) trained with PCGrad, ported from the authors' PCGrad_tf.py: each task's
    gradient is projected onto the normal plane of every task gradient it conflicts with,
    proj = <g_i, g_j> / <g_j, g_j>, g_i -= min(proj, 0) g_j, without an epsilon in the
    denominator. The auxiliary loss weight follows a common curriculum, min(1, step / 500),
    so at the first step the auxiliary task's weighted gradient is exactly zero:
    <g_j, g_j> = 0 and the projection is 0 / 0 = NaN, which min(NaN, 0) keeps and which
    reaches every weight in the first update while the loss and the raw gradients are
    finite (an epsilon in the squared norm, or skip tasks whose gradient is zero)."""
    rng = seeded(3600)
    n, dim = 4096, 16
    x = rng.normal(size=(n, dim)).astype("float32")
    w = rng.normal(size=(dim,)) / np.sqrt(dim)
    y_main = (np.tanh(x @ w) + 0.1 * rng.normal(size=n)).astype("float32").reshape(-1, 1)
    y_aux = (rng.random(n) < 1 / (1 + np.exp(-2 * x[:, 0]))).astype("float32").reshape(-1, 1)
    inputs = keras.Input((dim,))
    h = keras.layers.Dense(64, activation="relu", name="shared0")(inputs)
    h = keras.layers.Dense(64, activation="relu", name="shared1")(h)
    main = keras.layers.Dense(1, name="main_head")(h)
    aux = keras.layers.Dense(1, name="aux_head")(h)
    model = keras.Model(inputs, [main, aux], name="pcgrad_mtl")
    optimizer = keras.optimizers.Adam(1e-3)
    mse = keras.losses.MeanSquaredError()
    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    variables = model.trainable_variables

    def train_step(x, y_main, y_aux):
        ramp = tf.minimum(1.0, tf.cast(optimizer.iterations, "float32") / 500.0)
        with tf.GradientTape(persistent=True) as tape:
            pred_main, pred_aux = model(x, training=True)
            losses = [mse(y_main, pred_main), ramp * bce(y_aux, pred_aux)]
        task_grads = []
        for loss in losses:
            grads = tape.gradient(loss, variables)
            task_grads.append(
                _flat(
                    [
                        tf.zeros(v.shape) if g is None else g
                        for g, v in zip(grads, variables, strict=True)
                    ]
                )
            )
        del tape
        projected = []
        for g in task_grads:
            for other in task_grads:
                inner = tf.reduce_sum(g * other)
                proj = inner / tf.reduce_sum(other * other)
                g = g - tf.minimum(proj, 0.0) * other
            projected.append(g)
        grads = _unflat(tf.add_n(projected), variables)
        optimizer.apply_gradients(zip(grads, variables, strict=True))
        return losses[0] + losses[1]

    return run_loop(train_step, _tuples(x, y_main, y_aux), model=model, optimizer=optimizer)


# ---------------------------------------------------------------------------------------------
# 2. Dynamic Task Prioritization weights from Keras accuracy metrics, without the KPI clamp
# ---------------------------------------------------------------------------------------------
def dynamic_task_priority_weights_without_the_kpi_clamp():
    """A ticket classifier with two softmax heads (category, 6 classes; urgency, 3 classes)
    on a shared trunk, its task weights set by Dynamic Task Prioritization (Guo et al.
    2018): w_t = -(1 - kappa_t) ** gamma * log(kappa_t), gamma = 2, where the KPI kappa_t is
    the task's running accuracy, read from a keras.metrics.SparseCategoricalAccuracy that is
    reset at the start of every epoch (as Keras resets metrics) and updated after the
    weights are read. The reference code clamps the KPI into [0.1, 0.99] first; the port
    left the clamp out, and a freshly reset metric reports 0.0: log(0) = -inf in the task
    weight and the loss is +inf at the first step (clamp the KPI away from 0)."""
    rng = seeded(3601)
    n, dim = 4096, 20
    x = rng.normal(size=(n, dim)).astype("float32")
    category = np.argmax(x[:, :6] + 0.5 * rng.normal(size=(n, 6)), axis=1).astype("int32")
    urgency = np.digitize(x[:, 6] + 0.3 * rng.normal(size=n), [-0.5, 0.5]).astype("int32")
    inputs = keras.Input((dim,))
    h = keras.layers.Dense(64, activation="relu", name="trunk0")(inputs)
    h = keras.layers.Dense(64, activation="relu", name="trunk1")(h)
    cat_out = keras.layers.Dense(6, activation="softmax", name="category")(h)
    urg_out = keras.layers.Dense(3, activation="softmax", name="urgency")(h)
    model = keras.Model(inputs, [cat_out, urg_out], name="ticket_mtl")
    optimizer = keras.optimizers.Adam(1e-3)
    ce = keras.losses.SparseCategoricalCrossentropy()
    kpis = [keras.metrics.SparseCategoricalAccuracy(), keras.metrics.SparseCategoricalAccuracy()]
    gamma = 2.0

    def dtp_loss(model, x, y_cat, y_urg):
        outputs = model(x, training=True)
        total = 0.0
        for kpi, y, p in zip(kpis, (y_cat, y_urg), outputs, strict=True):
            kappa = tf.stop_gradient(kpi.result())
            weight = -((1.0 - kappa) ** gamma) * tf.math.log(kappa)
            total += weight * ce(y, p)
            kpi.update_state(y, p)
        return total

    for kpi in kpis:
        kpi.reset_state()
    return run_loop(
        _custom_step(model, optimizer, dtp_loss),
        _tuples(x, category, urgency),
        model=model,
        optimizer=optimizer,
    )


# ---------------------------------------------------------------------------------------------
# 3. a multiplicative warm-up keyed on the batch index, which Keras restarts every epoch
# ---------------------------------------------------------------------------------------------
def multiplicative_warmup_keyed_on_the_batch_index_of_each_epoch():
    """An energy-load regressor (an MLP on 12 standardized features, MSE, SGD with momentum
    0.9) with a warm-up written as a callback in the on_train_batch_begin style: while
    batch < 16 it multiplies the learning rate by a growth factor that takes it from 1e-5
    to the target 1e-2 in 16 batches. Keras passes on_train_batch_begin the index of the
    batch WITHIN the epoch, which restarts at 0 every epoch (the loop here reproduces it
    with iterations % steps_per_epoch): the multiplicative warm-up runs again each epoch on
    top of the last rate, x 1000 per epoch, 10 in the second epoch, and the run diverges to
    inf / NaN (warm up on the global step, towards a capped target rate)."""
    rng = seeded(3602)
    n, dim = 2048, 12
    x = rng.normal(size=(n, dim)).astype("float32")
    w = rng.normal(size=(dim,)) / np.sqrt(dim)
    y = (np.tanh(x @ w) + 0.3 * np.sin(x[:, 0]) + 0.1 * rng.normal(size=n)).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((dim,)),
            keras.layers.Dense(64, activation="relu", name="hidden0"),
            keras.layers.Dense(64, activation="relu", name="hidden1"),
            keras.layers.Dense(1, name="head"),
        ],
        name="load_mlp",
    )
    optimizer = keras.optimizers.SGD(learning_rate=1e-5, momentum=0.9)
    loss_fn = keras.losses.MeanSquaredError()
    steps_per_epoch, warmup = n // 64, 16
    growth = (1e-2 / 1e-5) ** (1.0 / warmup)

    def train_step(x, y):
        batch_in_epoch = optimizer.iterations % steps_per_epoch
        lr = optimizer.learning_rate
        optimizer.learning_rate.assign(tf.where(batch_in_epoch < warmup, lr * growth, lr))
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    return run_loop(
        train_step,
        batches(x, y.reshape(-1, 1), size=64, epochs=6),
        model=model,
        optimizer=optimizer,
    )


# ---------------------------------------------------------------------------------------------
# 4. a multi-input model fed a positional list in another order than its inputs
# ---------------------------------------------------------------------------------------------
def multi_input_model_fed_a_positional_list_in_the_wrong_order():
    """A customer-value regressor with one input per numeric column group, each behind its
    own keras.layers.Normalization adapted on that column: inputs declared [age, income,
    behaviour]. The training loop builds its inputs from the DataFrame's column order,
    [income, age, behaviour], and passes them as a positional list, which Keras maps by
    position: incomes in dollars (~6e4) go through the normalization adapted on ages (mean
    ~50, std ~18) and reach the age branch as values in the thousands, the ages reach the
    income branch as ~-2. Under SGD with momentum 0.01 the first updates blow the age
    branch up and the run diverges to inf / NaN (pass the inputs by name, as a dict)."""
    rng = seeded(3603)
    n = 4096
    age = rng.uniform(18, 85, size=(n, 1)).astype("float32")
    income = np.exp(rng.normal(11.0, 0.5, size=(n, 1))).astype("float32")
    behaviour = rng.normal(size=(n, 6)).astype("float32")
    value = (
        0.4 * (age[:, 0] - 50) / 18
        + 0.6 * (np.log(income[:, 0]) - 11.0) / 0.5
        + 0.3 * behaviour[:, 0]
        + 0.1 * rng.normal(size=n)
    ).astype("float32")
    age_in = keras.Input((1,), name="age")
    income_in = keras.Input((1,), name="income")
    behaviour_in = keras.Input((6,), name="behaviour")
    age_norm = keras.layers.Normalization(name="age_norm")
    age_norm.adapt(age)
    income_norm = keras.layers.Normalization(name="income_norm")
    income_norm.adapt(income)
    h = keras.layers.Concatenate(name="concat")(
        [age_norm(age_in), income_norm(income_in), behaviour_in]
    )
    h = keras.layers.Dense(32, activation="elu", name="hidden0")(h)
    h = keras.layers.Dense(32, activation="elu", name="hidden1")(h)
    out = keras.layers.Dense(1, name="head")(h)
    model = keras.Model([age_in, income_in, behaviour_in], out, name="customer_value")
    optimizer = keras.optimizers.SGD(learning_rate=0.01, momentum=0.9)
    loss_fn = keras.losses.MeanSquaredError()

    def value_loss(model, income, age, behaviour, y):
        # the list follows the DataFrame's column order, not model.inputs
        return loss_fn(y, model([income, age, behaviour], training=True))

    return run_loop(
        _custom_step(model, optimizer, value_loss),
        _tuples(income, age, behaviour, value.reshape(-1, 1), epochs=2),
        model=model,
        optimizer=optimizer,
    )


# ---------------------------------------------------------------------------------------------
# 5. ULMFiT's discriminative fine-tuning rates multiplied by 2.6 per layer instead of divided
# ---------------------------------------------------------------------------------------------
def discriminative_fine_tuning_rates_multiplied_instead_of_divided():
    """Fine-tuning a pretrained 6 x 64 ReLU MLP backbone (trained first on a 8-class sensor
    task) with a new regression head, with ULMFiT's discriminative fine-tuning: each layer
    further down should get the rate of the layer above divided by 2.6. In a Keras custom
    loop with one SGD(0.01, momentum 0.9) the per-layer rates were ported as gradient
    multipliers 2.6 ** depth (depth counted from the head) instead of 2.6 ** -depth: the
    bottom layer's effective rate is 2.6 ** 6 ~ 300 times the base, ~3, and the run
    diverges to inf / NaN within some steps (divide, or a much lower base rate)."""
    rng = seeded(3604)
    n, dim, classes = 4096, 24, 8
    centres = rng.normal(scale=1.5, size=(classes, dim))
    labels = rng.integers(0, classes, size=n)
    x = (centres[labels] + rng.normal(size=(n, dim))).astype("float32")
    backbone = [keras.layers.Dense(64, activation="relu", name=f"backbone{i}") for i in range(6)]
    pretrain = keras.Sequential(
        [keras.Input((dim,)), *backbone, keras.layers.Dense(classes, name="old_head")],
        name="pretrain",
    )
    pretrain.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    pretrain.fit(x, labels, batch_size=64, epochs=1, verbose=0)
    target = (np.tanh(x[:, :4].sum(axis=1) / 4) + 0.1 * rng.normal(size=n)).astype("float32")
    model = keras.Sequential(
        [keras.Input((dim,)), *backbone, keras.layers.Dense(1, name="new_head")],
        name="finetune",
    )
    optimizer = keras.optimizers.SGD(learning_rate=0.01, momentum=0.9)
    loss_fn = keras.losses.MeanSquaredError()
    multipliers = []
    for layer in model.layers:
        depth = 0 if layer.name == "new_head" else 6 - int(layer.name[-1])
        multipliers += [2.6**depth] * len(layer.trainable_variables)

    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        grads = [g * m for g, m in zip(grads, multipliers, strict=True)]
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    return run_loop(
        train_step,
        batches(x, target.reshape(-1, 1), size=64, epochs=2),
        model=model,
        optimizer=optimizer,
    )


# ---------------------------------------------------------------------------------------------
# 6. per-batch standardization in a tf.data map, batching a date-sorted table before shuffling
# ---------------------------------------------------------------------------------------------
def per_batch_standardization_in_the_map_of_a_date_sorted_table():
    """Daily store sales (a table sorted by date: 10 standardized-ish numeric columns plus
    a promotion flag and a holiday flag that come in blocks of days) fed by a tf.data
    pipeline written from_tensor_slices -> batch(64) -> map(standardize) -> shuffle, where
    standardize is (x - mean) / std over the batch 'so every batch is standardized'.
    Batching before shuffling keeps 64 consecutive days together: in most batches the
    holiday flag (and in some the promotion flag) is constant, its batch std is 0 and the
    column is 0 / 0 = NaN in the feature batch before the model runs (standardize with
    statistics of the whole training set, e.g. an adapted Normalization layer)."""
    rng = seeded(3605)
    n, dim = 4096, 10
    day = np.arange(n)
    numeric = rng.normal(size=(n, dim)) + 0.5 * np.sin(day / 30.0)[:, None]
    promo = ((day // 40) % 5 == 0).astype("float64")
    holiday = ((day % 365) > 350).astype("float64")
    x = np.concatenate([numeric, promo[:, None], holiday[:, None]], axis=1).astype("float32")
    y = (numeric[:, :3].sum(axis=1) / 3 + 0.8 * promo + 0.5 * holiday).astype("float32")

    def standardize(x, y):
        mean = tf.reduce_mean(x, axis=0)
        std = tf.math.reduce_std(x, axis=0)
        return (x - mean) / std, y

    dataset = (
        tf.data.Dataset.from_tensor_slices((x, y.reshape(-1, 1)))
        .batch(64)
        .map(standardize)
        .shuffle(16, seed=3605)
    )
    model = keras.Sequential(
        [
            keras.Input((dim + 2,)),
            keras.layers.Dense(64, activation="relu", name="hidden0"),
            keras.layers.Dense(32, activation="relu", name="hidden1"),
            keras.layers.Dense(1, name="head"),
        ],
        name="sales_mlp",
    )
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        list(dataset),
    )


# ---------------------------------------------------------------------------------------------
# 7. a log-popularity feature looked up by StringLookup index, the OOV index having count 0
# ---------------------------------------------------------------------------------------------
class LogPopularity(keras.layers.Layer):
    """log(count) of an item, gathered by its StringLookup index."""

    def __init__(self, counts, **kwargs):
        super().__init__(**kwargs)
        self.counts = np.asarray(counts, dtype="float32")

    def call(self, index):
        counts = tf.constant(self.counts)
        return tf.math.log(tf.gather(counts, tf.cast(index, "int32")))[..., None]


def log_popularity_feature_of_the_oov_index():
    """A click-through model on (item id, 8 context features): the item id goes through a
    StringLookup built from last month's catalogue into an Embedding, and a popularity
    feature log(views) is gathered by the same index from a counts array aligned with
    lookup.get_vocabulary(), whose first entry is the '[UNK]' OOV bucket, given a count of
    0 (it has no views of its own). This month's traffic includes items added since: they
    map to the OOV index 0, log(0) = -inf inside the popularity layer, and the logits and
    the loss are non-finite at the first batch (add-one smoothing, log(views + 1))."""
    rng = seeded(3606)
    n, n_items, dim = 4096, 300, 8
    catalogue = [f"item_{i:04d}" for i in range(n_items)]
    views = rng.integers(5, 5000, size=n_items)
    new_items = [f"item_{i:04d}" for i in range(n_items, n_items + 40)]
    ids = np.where(
        rng.random(n) < 0.05,
        rng.choice(new_items, size=n),
        rng.choice(catalogue, size=n),
    )
    context = rng.normal(size=(n, dim)).astype("float32")
    clicks = (rng.random(n) < 1 / (1 + np.exp(-context[:, 0]))).astype("float32")
    lookup = keras.layers.StringLookup(vocabulary=catalogue, name="item_lookup")
    counts = np.concatenate([[0], views])  # '[UNK]' first, as get_vocabulary() lists it
    item_in = keras.Input((), dtype="string", name="item_id")
    context_in = keras.Input((dim,), name="context")
    index = lookup(item_in)
    embedded = keras.layers.Embedding(n_items + 1, 8, name="item_embedding")(index)
    popularity = LogPopularity(counts, name="log_popularity")(index)
    h = keras.layers.Concatenate(name="concat")([embedded, popularity, context_in])
    h = keras.layers.Dense(32, activation="relu", name="hidden0")(h)
    out = keras.layers.Dense(1, name="head")(h)
    model = keras.Model([item_in, context_in], out, name="ctr_model")
    optimizer = keras.optimizers.Adam(1e-3)
    bce = keras.losses.BinaryCrossentropy(from_logits=True)

    def ctr_loss(model, ids, context, y):
        return bce(y, model([ids, context], training=True))

    return run_loop(
        _custom_step(model, optimizer, ctr_loss),
        _tuples(ids, context, clicks.reshape(-1, 1)),
        model=model,
        optimizer=optimizer,
    )


# ---------------------------------------------------------------------------------------------
# 8. Mean Teacher's EMA decay min(1 - 1 / step, alpha) with a step counter that starts at 0
# ---------------------------------------------------------------------------------------------
def mean_teacher_ema_decay_from_iteration_zero():
    """Semi-supervised Mean Teacher on a 10-class table (an MLP student; the teacher a
    clone of it kept as an exponential moving average of the student's weights, with a
    consistency MSE between their softmaxes on unlabelled rows). The reference ramps the
    EMA decay as alpha = min(1 - 1 / (global_step + 1), 0.99); the Keras port wrote
    min(1 - 1 / step, 0.99) with step = optimizer.iterations read before the update, which
    is 0 at the first step: 1 / 0 = inf, alpha = -inf and the teacher's weights become
    -inf * t + inf * s = NaN in the first EMA update, the consistency loss NaN from the
    second step (count the steps from 1)."""
    rng = seeded(3607)
    n, dim, classes = 4096, 16, 10
    centres = rng.normal(scale=1.2, size=(classes, dim))
    labels = rng.integers(0, classes, size=n)
    x = (centres[labels] + rng.normal(size=(n, dim))).astype("float32")
    x_unlabelled = (centres[rng.integers(0, classes, size=n)] + rng.normal(size=(n, dim))).astype(
        "float32"
    )

    def make():
        return keras.Sequential(
            [
                keras.Input((dim,)),
                keras.layers.Dense(64, activation="relu", name="hidden0"),
                keras.layers.Dense(64, activation="relu", name="hidden1"),
                keras.layers.Dense(classes, name="logits"),
            ],
            name="student",
        )

    student = make()
    teacher = make()
    teacher.set_weights(student.get_weights())
    optimizer = keras.optimizers.Adam(1e-3)
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def train_step(x, y, x_u):
        step = tf.cast(optimizer.iterations, "float32")
        with tf.GradientTape() as tape:
            supervised = ce(y, student(x, training=True))
            consistency = tf.reduce_mean(
                tf.square(
                    tf.nn.softmax(student(x_u, training=True))
                    - tf.stop_gradient(tf.nn.softmax(teacher(x_u, training=False)))
                )
            )
            loss = supervised + 10.0 * consistency
        grads = tape.gradient(loss, student.trainable_variables)
        optimizer.apply_gradients(zip(grads, student.trainable_variables, strict=True))
        alpha = tf.minimum(1.0 - 1.0 / step, 0.99)
        for t, s in zip(teacher.weights, student.weights, strict=True):
            t.assign(alpha * t + (1.0 - alpha) * s)
        return loss

    return run_loop(
        train_step,
        _tuples(x, labels.astype("int32"), x_unlabelled),
        model=student,
        optimizer=optimizer,
    )


# ---------------------------------------------------------------------------------------------
# 9. a tf.data cache file left by an earlier version of the pipeline, before the imputation
# ---------------------------------------------------------------------------------------------
def stale_tf_data_cache_file_from_before_the_imputation():
    """A credit-risk MLP fed by a tf.data pipeline with .cache(filename) to a fixed path
    (to avoid re-parsing the files each run). The first version of the pipeline, run to
    explore the data, had no preprocessing and iterated the dataset to the end, which
    wrote the cache files; the imputation map (missing cells -> the column means) was
    added afterwards, in front of .cache() at the same path. tf.data reads an existing
    cache without running anything upstream of it: the map never runs, and the batches
    still carry the raw rows' NaN (~1 % of the cells), in the feature batch before the
    model runs (delete the stale cache, or key the cache path on the pipeline's version)."""
    rng = seeded(3608)
    n, dim = 4096, 14
    x = rng.normal(size=(n, dim)).astype("float32")
    w = rng.normal(size=(dim,)) / np.sqrt(dim)
    y = (rng.random(n) < 1 / (1 + np.exp(-1.5 * np.tanh(x @ w)))).astype("float32")
    raw = x.copy()
    raw[rng.random((n, dim)) < 0.01] = np.nan
    cache_path = os.path.join(tempfile.mkdtemp(prefix="blind36_cache_"), "train")

    # version 1 of the pipeline, iterated once while exploring the data
    explore = tf.data.Dataset.from_tensor_slices((raw, y.reshape(-1, 1))).cache(cache_path)
    for _ in explore:
        pass

    # version 2: the imputation added in front of the same cache path
    means = np.nanmean(raw, axis=0).astype("float32")

    def impute(features, label):
        return tf.where(tf.math.is_nan(features), means, features), label

    dataset = (
        tf.data.Dataset.from_tensor_slices((raw, y.reshape(-1, 1)))
        .map(impute)
        .cache(cache_path)
        .batch(64)
    )
    model = keras.Sequential(
        [
            keras.Input((dim,)),
            keras.layers.Dense(64, activation="relu", name="hidden0"),
            keras.layers.Dense(32, activation="relu", name="hidden1"),
            keras.layers.Dense(1, name="head"),
        ],
        name="credit_mlp",
    )
    return run_loop(
        standard_step(
            model,
            keras.optimizers.Adam(1e-3),
            keras.losses.BinaryCrossentropy(from_logits=True),
        ),
        list(dataset),
    )


# ---------------------------------------------------------------------------------------------
# 10. a Poisson frequency model with a log(exposure) offset input, on zero-exposure policies
# ---------------------------------------------------------------------------------------------
def log_exposure_offset_of_policies_cancelled_at_inception():
    """A claims-frequency model (an actuarial Poisson GLM grown into a two-input Keras
    model): rating features through an MLP give the log-rate, and a second input, the
    policy's exposure in years, enters as the usual offset through a Lambda log layer,
    log(mu) = f(x) + log(exposure), trained with tf.nn.log_poisson_loss on the claim
    counts. The policy extract includes policies cancelled on their inception day, with
    exposure exactly 0 (about 1 %): log(0) = -inf inside the offset layer, and in the loss
    their zero claim counts times the -inf log-rate are NaN at the first batch (drop the
    zero-exposure policies; they carry no information)."""
    rng = seeded(3609)
    n, dim = 4096, 10
    x = rng.normal(size=(n, dim)).astype("float32")
    exposure = rng.uniform(0.05, 1.0, size=n)
    exposure[rng.random(n) < 0.01] = 0.0
    w = rng.normal(size=(dim,)) / np.sqrt(dim)
    rate = np.exp(-2.0 + 0.5 * np.tanh(x @ w))
    claims = rng.poisson(rate * exposure).astype("float32")
    features_in = keras.Input((dim,), name="features")
    exposure_in = keras.Input((1,), name="exposure")
    h = keras.layers.Dense(32, activation="relu", name="hidden0")(features_in)
    log_rate = keras.layers.Dense(1, name="log_rate")(h)
    offset = keras.layers.Lambda(tf.math.log, name="log_exposure")(exposure_in)
    log_mu = keras.layers.Add(name="log_mu")([log_rate, offset])
    model = keras.Model([features_in, exposure_in], log_mu, name="claims_frequency")
    optimizer = keras.optimizers.Adam(1e-3)

    def poisson_loss(model, x, exposure, y):
        log_mu = model([x, exposure], training=True)
        return tf.reduce_mean(tf.nn.log_poisson_loss(y, log_mu))

    return run_loop(
        _custom_step(model, optimizer, poisson_loss),
        _tuples(x, exposure.astype("float32").reshape(-1, 1), claims.reshape(-1, 1)),
        model=model,
        optimizer=optimizer,
    )


# ---------------------------------------------------------------------------------------------
# what a correct report says
# ---------------------------------------------------------------------------------------------
BLIND36_SCENARIOS: list[Scenario] = [
    Scenario(
        "pcgrad_with_an_auxiliary_task_whose_loss_weight_ramps_from_zero",
        pcgrad_with_an_auxiliary_task_whose_loss_weight_ramps_from_zero,
        "optimizer_update",
        frozenset({"RealDiv"}),
        None,
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="PCGrad ported from PCGrad_tf.py, proj = <g_i, g_j> / <g_j, g_j> without an "
        "epsilon, with an auxiliary loss weight ramped from 0: at the first step the "
        "auxiliary gradient is exactly zero and the projection is 0 / 0 = NaN in every "
        "update (https://github.com/WeiChengTseng/Pytorch-PCGrad/issues/7, "
        "https://github.com/tianheyu927/PCGrad/issues/2, "
        "https://github.com/rlworkgroup/garage/pull/1922)",
        blind=True,
    ),
    Scenario(
        "dynamic_task_priority_weights_without_the_kpi_clamp",
        dynamic_task_priority_weights_without_the_kpi_clamp,
        "loss",
        frozenset({"Log"}),
        None,
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="Dynamic Task Prioritization weights -(1 - kpi) ** gamma * log(kpi) from Keras "
        "accuracy metrics, the reference's clamp of the KPI into [0.1, 0.99] left out: a "
        "freshly reset metric reports 0 and log(0) makes the loss inf "
        "(https://github.com/rogerrojur/tianchi-multi-task-nlp/issues/8, "
        "https://github.com/median-research-group/LibMTL/issues/86)",
        blind=True,
    ),
    Scenario(
        "multiplicative_warmup_keyed_on_the_batch_index_of_each_epoch",
        multiplicative_warmup_keyed_on_the_batch_index_of_each_epoch,
        None,
        cause="learning_rate_too_high",
        fixes=frozenset({"lower_learning_rate"}),
        story="a multiplicative warm-up callback keyed on the on_train_batch_begin batch "
        "index, which restarts at 0 every epoch: the warm-up re-runs on top of the last rate "
        "each epoch (x 1000 per epoch) and SGD diverges in the second epoch "
        "(https://github.com/huggingface/transformers/issues/5765, "
        "https://github.com/Vision-CAIR/MiniGPT-4/pull/263, "
        "https://github.com/Deci-AI/super-gradients/pull/568)",
        blind=True,
    ),
    Scenario(
        "multi_input_model_fed_a_positional_list_in_the_wrong_order",
        multi_input_model_fed_a_positional_list_in_the_wrong_order,
        None,
        cause="unscaled_input",
        fixes=frozenset(),
        story="a multi-input model whose branches each have a Normalization adapted on their "
        "own column, fed a positional list in the DataFrame's column order: incomes in "
        "dollars reach the branch normalized for ages as values in the thousands and SGD "
        "diverges; pass the inputs by name "
        "(https://github.com/tensorflow/tensorflow/issues/84278, "
        "https://github.com/keras-team/keras/issues/20086, "
        "https://github.com/tensorflow/tensorflow/issues/58087, "
        "https://github.com/tflearn/tflearn/issues/250)",
        blind=True,
    ),
    Scenario(
        "discriminative_fine_tuning_rates_multiplied_instead_of_divided",
        discriminative_fine_tuning_rates_multiplied_instead_of_divided,
        None,
        cause="learning_rate_too_high",
        fixes=frozenset({"lower_learning_rate"}),
        story="ULMFiT's discriminative fine-tuning (each lower layer's rate divided by 2.6) "
        "ported as gradient multipliers 2.6 ** depth: the bottom layers of the pretrained "
        "backbone train ~300x faster than the base rate and SGD diverges "
        "(https://github.com/xuyige/BERT4doc-Classification/issues/5, "
        "https://github.com/huggingface/transformers/issues/1444, "
        "https://github.com/jantic/DeOldify/issues/129, "
        "https://github.com/facebookresearch/ClassyVision/issues/289)",
        blind=True,
    ),
    Scenario(
        "per_batch_standardization_in_the_map_of_a_date_sorted_table",
        per_batch_standardization_in_the_map_of_a_date_sorted_table,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset(),
        story="a tf.data pipeline batch -> map(standardize over the batch) -> shuffle on a "
        "date-sorted table: flags that come in blocks of days are constant within a batch, "
        "their batch std is 0 and 0 / 0 = NaN in the feature batch; standardize with the "
        "training set's statistics (https://github.com/deepinv/deepinv/issues/908, "
        "https://github.com/timeseriesAI/tsai/issues/898, "
        "https://github.com/oscarkey/multitask-learning/issues/6)",
        blind=True,
    ),
    Scenario(
        "log_popularity_feature_of_the_oov_index",
        log_popularity_feature_of_the_oov_index,
        "activation",
        frozenset({"Log"}),
        "ctr_model/log_popularity",
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="a log(views) popularity feature gathered by StringLookup index from counts "
        "aligned with get_vocabulary(), whose '[UNK]' entry has count 0: items added since "
        "map to the OOV index and log(0) = -inf inside the layer "
        "(https://github.com/appeler/ethnicolr/issues/60, "
        "https://github.com/NTMC-Community/MatchZoo/pull/693, "
        "https://github.com/shibing624/pycorrector/issues/48)",
        blind=True,
    ),
    Scenario(
        "mean_teacher_ema_decay_from_iteration_zero",
        mean_teacher_ema_decay_from_iteration_zero,
        "optimizer_update",
        frozenset({"RealDiv"}),
        None,
        "missing_epsilon",
        frozenset(),
        story="Mean Teacher's EMA decay min(1 - 1 / (global_step + 1), alpha) ported as "
        "min(1 - 1 / step, alpha) with Keras' optimizer.iterations, 0 at the first step: "
        "1 / 0 = inf, alpha = -inf and the teacher's weights are NaN after the first EMA "
        "update (https://github.com/CuriousAI/mean-teacher/issues/51, "
        "https://github.com/CuriousAI/mean-teacher/issues/28, "
        "https://github.com/HiLab-git/SSL4MIS/issues/77)",
        blind=True,
    ),
    Scenario(
        "stale_tf_data_cache_file_from_before_the_imputation",
        stale_tf_data_cache_file_from_before_the_imputation,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="tf.data .cache(filename) at a fixed path, written by an earlier version of the "
        "pipeline without the imputation map: the cache is read as it is, the map upstream "
        "of it never runs and the batches carry the raw NaN "
        "(https://github.com/tensorflow/tensorflow/issues/54157, "
        "https://github.com/tensorflow/tensorflow/issues/18266, "
        "https://github.com/tensorflow/tensorflow/issues/37963)",
        blind=True,
    ),
    Scenario(
        "log_exposure_offset_of_policies_cancelled_at_inception",
        log_exposure_offset_of_policies_cancelled_at_inception,
        "activation",
        frozenset({"Log"}),
        "claims_frequency/log_exposure",
        "missing_epsilon",
        frozenset({"clean_input", "add_epsilon"}),
        story="a two-input Poisson frequency model with the usual log(exposure) offset as a "
        "Lambda layer, on a policy extract with zero-exposure policies (cancelled at "
        "inception): log(0) = -inf in the offset layer and 0 x -inf = NaN in "
        "log_poisson_loss; drop those policies "
        "(https://github.com/atahk/pscl/issues/5, "
        "https://github.com/dswah/pyGAM/issues/173, "
        "https://github.com/statsmodels/statsmodels/pull/1635)",
        blind=True,
    ),
]
