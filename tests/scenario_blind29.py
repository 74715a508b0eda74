"""A twenty-ninth set of NaN scenarios from public bug patterns, written BLIND (2026-12-05).

Written without reading nantrace's package, its docs, its README, its benchmarks or its test
modules (only the scenario helpers of ``scenario_cases.py`` (lines 1-120) /
``scenario_patterns.py`` (lines 1-50: ``_custom_step``), the format of ``scenario_blind20.py``,
the taxonomy section of the design notes and the list of names and one-line stories of the
existing scenarios), without git log or diff output of other files, and without importing or
running nantrace: each expectation comes from the bug pattern itself (where a careful ML
engineer would say the first non-finite value appears, why, and the first fix to try), and all
ten were written into this file before anything was run. The patterns come from public reports
found with a search over GitHub issues and pull requests and stored web pages (library docs);
each story cites them. The theme is regression, tabular and scientific models as ordinary users
write them, each with one slip: DeepSurv's Cox loss divided by the number of events on a
heavily censored data set (a batch without events), a DeepHit likelihood ported without the
reference's log epsilon and without a bin past the horizon (patients censored in the last
bin), arch's standardized Student-t log-likelihood with the degrees of freedom from a plain
softplus (nu < 2), an in-graph annuity payment feature on 0 % promotional loans (0 / 0), an
in-graph logit of a rate column exported in percent, a PINN's learning-rate annealing weight
kept after the boundary condition was made a hard constraint (max / 0), a dollar-space loss
through the inverse Box-Cox of predictions (past the pole), Poisson regression of hourly counts
with an exponential head at SGD's default rate, a square-root (variance-stabilizing) loss on
counts with a ReLU head, and interval regression with exact answers exported as zero-width
brackets. One is a training-dynamics scenario (the Poisson run); the PINN scenario's kind is
left None (its first non-finite value is a loss weight computed from gradients, neither a
forward, loss, backward nor update op in the taxonomy's sense). Fix ids are only those of the
design notes' taxonomy; where none of them is the first fix a careful engineer would try
(nu = 2 + softplus, the zero-rate limit P / n, clipping 1 + lambda p above 0 or training on
the Box-Cox scale, the density for exact values), the fix set is left empty.

The only thing checked after writing them is that plain TensorFlow, unwatched, really goes
non-finite on their batches (loss, gradients, weights and optimizer variables, and at which
step), and (with tf.debugging.enable_check_numerics, plain TF, the step compiled as the
scenario runs it) which op first produces the non-finite value, in a throwaway script outside
the repository that stands in plain-TF versions of the loop helpers, records from inside each
compiled step (a patched apply_gradients) whether its gradients are finite, and asserts that
nantrace was never imported. No expectation field (kind, op types, layer, cause, fixes) was
changed after that check, and no pattern was dropped; two constructions were changed, as told
below. What the check showed: the Cox loss (finite, ~3.5, for 64 steps; NaN at step 64, the
first batch without an event, with gradients, weights and Adam slots; first op the loss's
RealDiv, -0 / 0), DeepHit (NaN at step 0; first op the Log of the mass after the last bin, 0),
the Student-t (NaN at step 0; first op the Log of pi (nu - 2) < 0), the annuity payment (first
op the monthly_payment layer's RealDiv, 0 / 0, at step 0; the loss of step 0 is finite, 1.09,
because the ReLU after the layer maps the NaN to 0 in the forward pass, and the NaN shows in
hidden0's kernel gradient at step 0), the percent logit (the same picture: first op the
rate_logit layer's Log, NaN, at step 0; loss 0.90 finite, gradients NaN at step 0), the PINN
(NaN at step 0; first op the RealDiv max|grad L_r| / mean|grad L_b| = max / 0, +inf), the
inverse Box-Cox (after the change below: loss 2736, 2870, 3190, then NaN at step 3; first op
the loss's Pow, NaN, of a negative base), the Poisson run (after the change below: loss 5.4,
-188, 7e32, then NaN at step 3; first op the head's Exp, +inf, at step 3), the square-root
loss (loss finite, 1.68, gradients NaN at step 0; first op the backward SqrtGrad) and the
interval regression (loss +inf at step 0; first op the Log of the zero CDF difference).
Constructions changed after the first check (expectation fields untouched, the docstrings and
stories kept): the Poisson model first had ReLU hidden layers; the first overshoot (loss 2e18
at step 1) killed every ReLU unit, all predictions became exactly 0 and the run stayed finite
(loss ~3300) for the whole pass, so the hidden layers are now tanh (with them the head's exp
overflows at step 3; a plain GLM, Dense(1, 'exponential'), overflowed at step 5 in a side
check). The inverse Box-Cox run first used Adam(1e-3): over three passes the largest
prediction stayed around 2.3-3.3, just below the pole, and the run stayed finite (MAE ~2000-
4500 dollars); it now uses Adam(1e-2), with which a prediction crosses the pole at step 3. An
alternative change, MSE instead of MAE in dollars at Adam(1e-3), went non-finite at step 31
but in Adam's squared gradients (an overflow of ~1e20 gradients near the pole, not a
prediction past it), so it was not taken; a reader should know that this scenario's forward
NaN depends on the step size.
Caveats a reader should know: the annuity and percent-logit scenarios have a finite loss at
the step where their layer first produces NaN (the following ReLU hides it in the forward
pass); the Cox scenario trips only at the first event-free batch (step 64), after 64 healthy
steps, which is data, not dynamics; the PINN scenario's step computes two gradient sets with a
persistent tape and applies g_r + lambda g_b, as Wang et al.'s code does; the Box-Cox lambda
(-0.3) is fixed in the code as if fitted earlier with scipy.stats.boxcox.

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
    standard_step,
)


def _tabular(rng, n, dim):
    """Standardized features and a smooth signal on them (both float32)."""
    x = rng.normal(size=(n, dim)).astype("float32")
    w = rng.normal(size=(dim,)) / np.sqrt(dim)
    v = rng.normal(size=(dim,)) / np.sqrt(dim)
    signal = np.tanh(x @ w) + 0.5 * np.sin(x @ v)
    return x, signal


# ---------------------------------------------------------------------------------------------
# 1. DeepSurv's Cox loss divided by the number of events, on a batch without any event
# ---------------------------------------------------------------------------------------------
def cox_loss_divided_by_the_events_of_a_fully_censored_batch():
    """A DeepSurv-style risk model (an MLP on 12 standardized clinical features, a linear
    risk score) trained with the Cox partial likelihood as DeepSurv writes it: sort the
    batch by time (descending), log(cumsum(exp(risk))) for the risk sets, and the sum of
    (risk - log risk set) over the events DIVIDED BY THE NUMBER OF EVENTS in the batch. The
    follow-up is short, so about nine patients in ten are censored; with batches of 32,
    a batch without any event turns up every few dozen batches, and for it the loss is
    -0 / 0 = NaN (an epsilon in the event count, or skip batches without events)."""
    rng = seeded(2900)
    n, dim = 4096, 12
    x, signal = _tabular(rng, n, dim)
    event_time = rng.exponential(1.0 / (0.05 * np.exp(0.8 * signal)))
    dropout_time = rng.exponential(40.0, size=n)
    follow_up = 2.0
    time = np.minimum(np.minimum(event_time, dropout_time), follow_up)
    event = (event_time <= np.minimum(dropout_time, follow_up)).astype("float32")
    y = np.stack([time, event], axis=1).astype("float32")
    model = mlp([32, 16], name="deepsurv_mlp", input_dim=dim)

    def cox_loss(y_true, y_pred):
        order = tf.argsort(y_true[:, 0], direction="DESCENDING")
        risk = tf.gather(y_pred[:, 0], order)
        observed = tf.gather(y_true[:, 1], order)
        log_risk_set = tf.math.log(tf.cumsum(tf.exp(risk)))
        return -tf.reduce_sum((risk - log_risk_set) * observed) / tf.reduce_sum(observed)

    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), cox_loss),
        batches(x, y, size=32, epochs=2),
    )


# ---------------------------------------------------------------------------------------------
# 2. DeepHit's likelihood without its log epsilon: censored in the last time bin
# ---------------------------------------------------------------------------------------------
def deephit_likelihood_of_patients_censored_in_the_last_time_bin():
    """A DeepHit-style discrete-time survival model (an MLP on 10 features, a softmax over
    20 time bins of the follow-up) trained on its log-likelihood, ported from the
    reference code but with tf.math.log in place of the reference's log(x + 1e-8): an event
    in bin k contributes log p_k, a patient censored in bin k contributes log of the mass
    AFTER bin k, sum_{j > k} p_j. The softmax has no bin for 'survives past the last bin'
    (pycox pads one), and every patient still alive at the end of the study is censored in
    the last bin: the mass after it is an empty sum, exactly 0, and log(0) = -inf in the
    loss at the first batch (an epsilon inside the log as the reference has, or an extra
    bin for survival past the horizon)."""
    rng = seeded(2901)
    n, dim, bins = 4096, 10, 20
    x, signal = _tabular(rng, n, dim)
    event_time = rng.weibull(1.5, size=n) * 30.0 * np.exp(-0.5 * signal)
    dropout_time = rng.exponential(200.0, size=n)
    end_of_study = 36.0
    time = np.minimum(np.minimum(event_time, dropout_time), end_of_study)
    event = (event_time <= np.minimum(dropout_time, end_of_study)).astype("float32")
    bin_index = np.minimum(np.floor(time / (end_of_study / bins)), bins - 1)
    y = np.stack([bin_index, event], axis=1).astype("float32")
    model = mlp([64, 64], name="deephit_mlp", input_dim=dim, out=bins)

    def deephit_nll(y_true, logits):
        k = tf.cast(y_true[:, 0], tf.int32)
        observed = y_true[:, 1]
        pmf = tf.nn.softmax(logits, axis=-1)
        at_k = tf.one_hot(k, bins)
        after_k = tf.cast(tf.range(bins)[None, :] > k[:, None], tf.float32)
        p_event = tf.reduce_sum(pmf * at_k, axis=1)
        p_after = tf.reduce_sum(pmf * after_k, axis=1)
        log_lik = observed * tf.math.log(p_event) + (1.0 - observed) * tf.math.log(p_after)
        return -tf.reduce_mean(log_lik)

    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), deephit_nll),
        batches(x, y, size=64),
    )


# ---------------------------------------------------------------------------------------------
# 3. the standardized Student-t log-likelihood with nu from a plain softplus (nu > 2 needed)
# ---------------------------------------------------------------------------------------------
def standardized_student_t_nll_with_a_softplus_degrees_of_freedom():
    """A neural volatility model for daily portfolio returns (in percent, fat-tailed): an
    MLP on 8 standardized lagged-volatility / market features outputs a mean, a variance
    and the degrees of freedom nu of a STANDARDIZED Student-t, whose log-likelihood is
    ported line by line from the arch package: lgamma((nu + 1) / 2) - lgamma(nu / 2)
    - log(pi (nu - 2)) / 2 - log(sigma2) / 2 - (nu + 1) / 2 log(1 + r^2 / (sigma2 (nu - 2))).
    That parametrization (sigma2 is the variance) needs nu > 2, but the degrees-of-freedom
    head got the same softplus as the variance head: at initialization nu = softplus(~0)
    ~ 0.7, pi (nu - 2) is negative and its log is NaN in the loss at the first step
    (nu = 2 + softplus(raw))."""
    rng = seeded(2902)
    n, dim = 4096, 8
    x, signal = _tabular(rng, n, dim)
    vol = np.exp(0.4 * signal)
    returns = 0.05 * signal + vol * rng.standard_t(4.0, size=n) / np.sqrt(2.0)
    y = returns.astype("float32").reshape(-1, 1)
    model = mlp([32, 32], name="t_volatility_mlp", input_dim=dim, out=3)

    def student_t_nll(y_true, y_pred):
        mu = y_pred[:, 0:1]
        sigma2 = tf.nn.softplus(y_pred[:, 1:2]) + 1e-6
        nu = tf.nn.softplus(y_pred[:, 2:3])
        resid = y_true - mu
        ll = tf.math.lgamma((nu + 1.0) / 2.0) - tf.math.lgamma(nu / 2.0)
        ll -= tf.math.log(math.pi * (nu - 2.0)) / 2.0
        ll -= 0.5 * tf.math.log(sigma2)
        ll -= (nu + 1.0) / 2.0 * tf.math.log(1.0 + resid**2 / (sigma2 * (nu - 2.0)))
        return -tf.reduce_mean(ll)

    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), student_t_nll),
        batches(x, y, size=64),
    )


# ---------------------------------------------------------------------------------------------
# 4. an in-graph loan payment feature (the annuity formula) on 0 % promotional loans
# ---------------------------------------------------------------------------------------------
class AnnuityPayment(keras.layers.Layer):
    """Columns 0-2 (principal in dollars, annual rate as a fraction, term in months) ->
    log1p of the monthly payment P r / (1 - (1 + r)^-n); the other columns pass through."""

    def call(self, loans):
        principal, rate, months = loans[:, 0:1], loans[:, 1:2] / 12.0, loans[:, 2:3]
        payment = principal * rate / (1.0 - tf.pow(1.0 + rate, -months))
        return tf.concat([tf.math.log1p(payment) / 8.0, loans[:, 3:]], axis=1)


def monthly_payment_feature_of_zero_interest_loans():
    """A consumer-loan model (an MLP predicting a standardized payment-to-income stress
    score) whose feature engineering lives in the graph: a custom layer turns principal,
    annual rate and term into the monthly payment with the textbook annuity formula
    P r / (1 - (1 + r)^-n) and feeds its log1p beside 9 standardized features. One loan in
    twenty is a 0 % APR promotional (dealer-subsidized) loan: r = 0, (1 + 0)^-n = 1, and the
    formula is 0 / 0 = NaN inside the layer at the first batch that holds one (the zero-rate
    limit P / n must be special-cased, as numpy-financial does)."""
    rng = seeded(2903)
    n = 4096
    principal = rng.uniform(2_000.0, 40_000.0, size=n)
    rate = rng.uniform(0.03, 0.24, size=n)
    rate[rng.random(n) < 0.05] = 0.0
    months = rng.choice([12.0, 24.0, 36.0, 48.0, 60.0, 72.0], size=n)
    r = rate / 12.0
    with np.errstate(divide="ignore", invalid="ignore"):
        payment = np.where(r > 0, principal * r / (1.0 - (1.0 + r) ** -months), principal / months)
    other, signal = _tabular(rng, n, 9)
    income = np.exp(8.3 + 0.4 * other[:, 0])
    stress = np.log(payment / income) + 0.3 * signal + 0.1 * rng.normal(size=n)
    y = ((stress - stress.mean()) / stress.std()).astype("float32").reshape(-1, 1)
    x = np.concatenate([np.stack([principal, rate, months], axis=1), other], axis=1)
    x = x.astype("float32")
    inputs = keras.Input((12,))
    h = AnnuityPayment(name="monthly_payment")(inputs)
    h = keras.layers.Dense(32, activation="relu", name="hidden0")(h)
    h = keras.layers.Dense(32, activation="relu", name="hidden1")(h)
    outputs = keras.layers.Dense(1, name="head")(h)
    model = keras.Model(inputs, outputs, name="loan_mlp")
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        batches(x, y, size=64),
    )


# ---------------------------------------------------------------------------------------------
# 5. an in-graph logit of a rate column that the export wrote in percent
# ---------------------------------------------------------------------------------------------
class RateLogit(keras.layers.Layer):
    """Column 0 (a rate, meant as a fraction in (0, 1)) -> log(p / (1 - p)); the rest pass."""

    def call(self, x):
        p = x[:, 0:1]
        return tf.concat([tf.math.log(p / (1.0 - p)), x[:, 1:]], axis=1)


def logit_feature_of_a_rate_exported_in_percent():
    """A county-level house-value regressor (an MLP on 10 columns, MSE on a standardized
    target) whose first layer puts the unemployment rate on the logit scale,
    log(p / (1 - p)), because rates are bounded and skewed. The layer was written for rates
    as fractions (0.052), but the census export gives them in percent (5.2): p / (1 - p) is
    negative for every county above 1 %, and its log is NaN inside the layer at the first
    step (divide the column by 100 before the logit)."""
    rng = seeded(2904)
    n, dim = 4096, 10
    other, signal = _tabular(rng, n, dim - 1)
    unemployment_pct = rng.uniform(1.5, 18.0, size=n)
    p = unemployment_pct / 100.0
    value = 0.6 * signal - 0.5 * np.log(p / (1.0 - p)) + 0.2 * rng.normal(size=n)
    y = ((value - value.mean()) / value.std()).astype("float32").reshape(-1, 1)
    x = np.concatenate([unemployment_pct[:, None], other], axis=1).astype("float32")
    inputs = keras.Input((dim,))
    h = RateLogit(name="rate_logit")(inputs)
    h = keras.layers.Dense(32, activation="relu", name="hidden0")(h)
    h = keras.layers.Dense(32, activation="relu", name="hidden1")(h)
    outputs = keras.layers.Dense(1, name="head")(h)
    model = keras.Model(inputs, outputs, name="county_mlp")
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        batches(x, y, size=64),
    )


# ---------------------------------------------------------------------------------------------
# 6. a PINN's learning-rate annealing weight kept after the boundary was made a hard constraint
# ---------------------------------------------------------------------------------------------
def pinn_annealing_weight_of_a_boundary_loss_made_identically_zero():
    """A physics-informed network for the 1-D Poisson problem u'' = -pi^2 sin(pi x) on
    (0, 1) with u(0) = u(1) = 0, trained with Wang, Teng & Perdikaris' learning-rate
    annealing: each step, lambda_hat = max|grad L_residual| / mean|grad L_boundary| and
    lambda <- 0.9 lambda + 0.1 lambda_hat weighs the boundary loss. Following the common
    advice to impose Dirichlet conditions exactly, the network output was then wrapped as
    u = x (1 - x) N(x), but the annealing code and its soft boundary loss were kept: the
    boundary loss is identically 0, so are its gradients, mean|grad L_boundary| = 0 and
    lambda_hat = max / 0 = inf at the first step, after which lambda * L_boundary =
    inf x 0 = NaN (an epsilon in the denominator, or drop the term the ansatz satisfies)."""
    rng = seeded(2905)
    net = keras.Sequential(
        [
            keras.Input((1,)),
            keras.layers.Dense(32, activation="tanh", name="hidden0"),
            keras.layers.Dense(32, activation="tanh", name="hidden1"),
            keras.layers.Dense(1, name="head"),
        ],
        name="poisson_pinn",
    )
    optimizer = keras.optimizers.Adam(1e-3)
    weight = tf.Variable(1.0, trainable=False, name="boundary_weight")

    def u_of(x):
        return x * (1.0 - x) * net(x, training=True)

    def train_step(x_f, x_b):
        variables = net.trainable_variables
        with tf.GradientTape(persistent=True) as tape:
            with tf.GradientTape() as tape2:
                tape2.watch(x_f)
                with tf.GradientTape() as tape1:
                    tape1.watch(x_f)
                    u = u_of(x_f)
                u_x = tape1.gradient(u, x_f)
            u_xx = tape2.gradient(u_x, x_f)
            source = -(math.pi**2) * tf.sin(math.pi * x_f)
            loss_r = tf.reduce_mean(tf.square(u_xx - source))
            loss_b = tf.reduce_mean(tf.square(u_of(x_b)))
        grads_r = tape.gradient(loss_r, variables)
        grads_b = tape.gradient(loss_b, variables)
        max_r = tf.reduce_max(tf.stack([tf.reduce_max(tf.abs(g)) for g in grads_r]))
        mean_b = tf.reduce_mean(tf.concat([tf.reshape(tf.abs(g), [-1]) for g in grads_b], 0))
        weight.assign(0.9 * weight + 0.1 * (max_r / mean_b))
        loss = loss_r + weight * loss_b
        grads = [gr + weight * gb for gr, gb in zip(grads_r, grads_b, strict=True)]
        optimizer.apply_gradients(zip(grads, variables, strict=True))
        return loss

    data = [
        (
            tf.constant(rng.uniform(0.0, 1.0, size=(128, 1)).astype("float32")),
            tf.constant([[0.0], [1.0]]),
        )
        for _ in range(50)
    ]
    return run_loop(train_step, data, model=net, optimizer=optimizer)


# ---------------------------------------------------------------------------------------------
# 7. a dollar-space loss through the inverse Box-Cox of predictions made on the Box-Cox scale
# ---------------------------------------------------------------------------------------------
def inverse_box_cox_of_predictions_in_a_dollar_space_loss():
    """An insurance claim-severity regressor (an MLP on 10 standardized policy features)
    whose head predicts on the Box-Cox scale fitted to the claims (scipy.stats.boxcox gave
    lambda = -0.3 on the very skewed amounts), while the loss is the business metric, MAE in
    dollars, on the back-transformed prediction (1 + lambda p) ** (1 / lambda), as
    scipy.special.inv_boxcox writes it. With lambda < 0 the inverse is only defined for
    p < -1 / lambda = 3.33, and the claims' own Box-Cox values sit just below that pole
    (2.5-3.2): as training pushes the predictions up towards them, some step carries a
    prediction past the pole, 1 + lambda p < 0 and its fractional power is NaN in the loss
    (clip 1 + lambda p above 0, or train on the Box-Cox scale and back-transform after)."""
    rng = seeded(2906)
    n, dim, lam = 4096, 10, -0.3
    x, signal = _tabular(rng, n, dim)
    claims = np.exp(7.5 + 0.8 * signal + 0.9 * rng.normal(size=n)).clip(120.0, 150_000.0)
    y = claims.astype("float32").reshape(-1, 1)
    model = mlp([64, 32], name="severity_mlp", input_dim=dim)

    def dollar_mae(y_true, y_pred):
        pred_dollars = tf.pow(1.0 + lam * y_pred, 1.0 / lam)
        return tf.reduce_mean(tf.abs(pred_dollars - y_true))

    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-2), dollar_mae),
        batches(x, y, size=64, epochs=3),
    )


# ---------------------------------------------------------------------------------------------
# 8. Poisson regression of hourly counts with an exponential head at SGD's default rate
# ---------------------------------------------------------------------------------------------
def poisson_regression_of_hourly_rentals_at_the_default_sgd_rate():
    """A bike-sharing demand model (an MLP on 12 standardized weather / calendar features,
    Dense(1, activation='exponential') as a log link) trained with keras.losses.Poisson and
    optimizer='sgd', i.e. SGD at its default rate 0.01. The hourly rentals average ~200: the
    Poisson loss's gradient in the log-rate is mu - y (~ -200 at the start) and its
    curvature is mu, so the step that suits unit-scale targets is hundreds of times too
    large: the first updates overshoot the log-rate by tens, the next gradients are ~e^20,
    and within a few steps the exponential head overflows to inf (a much lower learning
    rate)."""
    rng = seeded(2907)
    n, dim = 4096, 12
    x, signal = _tabular(rng, n, dim)
    rentals = rng.poisson(np.exp(5.2 + 0.7 * signal)).astype("float32").reshape(-1, 1)
    model = mlp(
        [32, 32],
        name="rentals_mlp",
        activation="tanh",
        input_dim=dim,
        out_activation="exponential",
    )
    return run_loop(
        standard_step(model, keras.optimizers.SGD(learning_rate=0.01), keras.losses.Poisson()),
        batches(x, rentals, size=64),
    )


# ---------------------------------------------------------------------------------------------
# 9. a square-root (variance-stabilizing) loss on counts with a ReLU output
# ---------------------------------------------------------------------------------------------
def square_root_scale_loss_on_counts_with_a_relu_output():
    """An emergency-call volume model (an MLP on 10 standardized district / hour features)
    for counts with many zeros, trained on the square-root scale that stabilizes Poisson
    variance, mean((sqrt(pred) - sqrt(y))^2), with Dense(1, activation='relu') as the head
    'because counts cannot be negative'. At initialization about half of the predictions
    are exactly 0: the forward pass is finite (sqrt(0) = 0) but sqrt's derivative
    1 / (2 sqrt(0)) is infinite, so the backward pass is -inf, and 0 x inf = NaN, at the
    first step (an epsilon or Anscombe's 3/8 inside the root, or a softplus head)."""
    rng = seeded(2908)
    n, dim = 4096, 10
    x, signal = _tabular(rng, n, dim)
    calls = rng.poisson(np.exp(0.6 + 0.9 * signal)).astype("float32").reshape(-1, 1)
    model = mlp([32, 32], name="calls_mlp", input_dim=dim, out_activation="relu")

    def sqrt_scale_mse(y_true, y_pred):
        return tf.reduce_mean(tf.square(tf.sqrt(y_pred) - tf.sqrt(y_true)))

    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), sqrt_scale_mse),
        batches(x, calls, size=64),
    )


# ---------------------------------------------------------------------------------------------
# 10. interval regression of salary brackets, exact salaries entered as zero-width brackets
# ---------------------------------------------------------------------------------------------
def interval_regression_with_exact_salaries_as_zero_width_brackets():
    """A salary model on survey data (an MLP on 10 standardized respondent features, a
    mean and a softplus scale for the standardized log salary) fitted by interval
    regression: most respondents only ticked a bracket, so the loss is
    -log(Phi((hi - mu) / s) - Phi((lo - mu) / s)) with Phi written with erf. The
    respondents who gave an exact figure (a third) were exported as lo = hi = that
    figure, so that 'every row is an interval': for them the two CDFs are the same number
    and their difference is exactly 0, log(0) = -inf in the loss at the first step (an
    exact value's likelihood is the density, not a zero-width CDF difference)."""
    rng = seeded(2909)
    n, dim = 4096, 10
    x, signal = _tabular(rng, n, dim)
    log_salary = 10.9 + 0.35 * signal + 0.3 * rng.normal(size=n)
    edges = np.log([12_000, 25_000, 40_000, 60_000, 85_000, 120_000, 200_000, 1_000_000])
    log_salary = log_salary.clip(edges[0] + 1e-3, edges[-1] - 1e-3)
    k = np.searchsorted(edges, log_salary) - 1
    lo, hi = edges[k], edges[k + 1]
    exact = rng.random(n) < 1.0 / 3.0
    lo, hi = np.where(exact, log_salary, lo), np.where(exact, log_salary, hi)
    centre, spread = log_salary.mean(), log_salary.std()
    y = (np.stack([lo, hi], axis=1) - centre) / spread
    y = y.astype("float32")
    model = mlp([32, 16], name="salary_mlp", input_dim=dim, out=2)

    def interval_nll(y_true, y_pred):
        mu, scale = y_pred[:, 0], tf.nn.softplus(y_pred[:, 1]) + 1e-3

        def cdf(bound):
            return 0.5 * (1.0 + tf.math.erf((bound - mu) / (scale * math.sqrt(2.0))))

        return -tf.reduce_mean(tf.math.log(cdf(y_true[:, 1]) - cdf(y_true[:, 0])))

    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), interval_nll),
        batches(x, y, size=64),
    )


# ---------------------------------------------------------------------------------------------
# what a correct report says
# ---------------------------------------------------------------------------------------------
BLIND29_SCENARIOS: list[Scenario] = [
    Scenario(
        "cox_loss_divided_by_the_events_of_a_fully_censored_batch",
        cox_loss_divided_by_the_events_of_a_fully_censored_batch,
        "loss",
        frozenset({"RealDiv"}),
        None,
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="DeepSurv's Cox partial likelihood divided by the number of events in the "
        "batch, with heavy censoring and batches of 32: a batch without any event gives "
        "-0 / 0 = NaN in the loss (https://github.com/havakv/pycox/issues/124, "
        "https://github.com/liupei101/TFDeepSurv/issues/15, "
        "https://github.com/lasso-net/lassonet/issues/52, "
        "https://github.com/mexchy1000/DeepSurv_Keras/issues/3)",
        blind=True,
    ),
    Scenario(
        "deephit_likelihood_of_patients_censored_in_the_last_time_bin",
        deephit_likelihood_of_patients_censored_in_the_last_time_bin,
        "loss",
        frozenset({"Log"}),
        None,
        frozenset({"unstable_loss", "missing_epsilon"}),
        frozenset({"add_epsilon"}),
        story="a DeepHit likelihood ported without the reference's log(x + 1e-8) and "
        "without a bin for survival past the horizon: patients censored in the last bin "
        "have an empty mass after it, log(0) = -inf in the loss "
        "(https://github.com/chl8856/DeepHit/issues/9, "
        "https://github.com/havakv/pycox/issues/47, "
        "https://github.com/havakv/pycox/pull/143)",
        blind=True,
    ),
    Scenario(
        "standardized_student_t_nll_with_a_softplus_degrees_of_freedom",
        standardized_student_t_nll_with_a_softplus_degrees_of_freedom,
        "loss",
        frozenset({"Log"}),
        None,
        "domain_error",
        frozenset(),
        story="arch's standardized Student-t log-likelihood (log(pi (nu - 2)), sigma2 (nu - 2)) "
        "ported to a Keras volatility model with nu = softplus(raw) instead of 2 + softplus: "
        "nu ~ 0.7 at the start and the log of pi (nu - 2) < 0 is NaN "
        "(https://github.com/bashtage/arch/issues/289, "
        "https://github.com/vast-lib/tinyVAST/issues/106, "
        "https://github.com/openturns/openturns/issues/2078, "
        "https://github.com/esheldon/ngmix/pull/1)",
        blind=True,
    ),
    Scenario(
        "monthly_payment_feature_of_zero_interest_loans",
        monthly_payment_feature_of_zero_interest_loans,
        "activation",
        frozenset({"RealDiv"}),
        "loan_mlp/monthly_payment",
        "missing_epsilon",
        frozenset(),
        story="an in-graph annuity payment feature P r / (1 - (1 + r)^-n) on a loan book "
        "with 0 % promotional loans: r = 0 gives 0 / 0 = NaN inside the feature layer; the "
        "zero-rate limit P / n must be special-cased "
        "(https://github.com/cfpb/loan-calc/issues/5, "
        "https://github.com/razorpay/go-financial/issues/13, "
        "https://github.com/noverde/exonio/issues/10, "
        "https://github.com/business-science/tidyquant/issues/256, "
        "https://github.com/numpy/numpy/pull/5577)",
        blind=True,
    ),
    Scenario(
        "logit_feature_of_a_rate_exported_in_percent",
        logit_feature_of_a_rate_exported_in_percent,
        "activation",
        frozenset({"Log"}),
        "county_mlp/rate_logit",
        "domain_error",
        frozenset({"rescale_input"}),
        story="an in-graph logit log(p / (1 - p)) of an unemployment rate written for "
        "fractions, fed the export's percentages: p / (1 - p) < 0 for every rate above 1 % "
        "and its log is NaN inside the layer; divide the column by 100 "
        "(https://r-packages.io/packages/car/logit, "
        "https://www.rdocumentation.org/packages/car/versions/3.1-2/topics/logit)",
        blind=True,
    ),
    Scenario(
        "pinn_annealing_weight_of_a_boundary_loss_made_identically_zero",
        pinn_annealing_weight_of_a_boundary_loss_made_identically_zero,
        None,
        frozenset({"RealDiv"}),
        None,
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="a PINN's learning-rate annealing weight max|grad L_r| / mean|grad L_b| kept "
        "after the Dirichlet boundary was imposed exactly by u = x (1 - x) N(x): the "
        "boundary loss and its gradients are identically 0, the weight is max / 0 = inf and "
        "inf x 0 = NaN (https://github.com/lululxvi/deepxde/issues/331, "
        "https://github.com/lululxvi/deepxde/issues/215, "
        "https://github.com/SciML/NeuralPDE.jl/issues/276, "
        "https://github.com/SciML/NeuralPDE.jl/pull/1055)",
        blind=True,
    ),
    Scenario(
        "inverse_box_cox_of_predictions_in_a_dollar_space_loss",
        inverse_box_cox_of_predictions_in_a_dollar_space_loss,
        "loss",
        frozenset({"Pow"}),
        None,
        "domain_error",
        frozenset(),
        story="a severity head on the Box-Cox scale (lambda = -0.3) with the loss taken in "
        "dollars through the inverse (1 + lambda p) ** (1 / lambda): a prediction pushed "
        "past the pole -1 / lambda gives a fractional power of a negative number, NaN "
        "(https://github.com/scikit-learn/scikit-learn/pull/29307, "
        "https://github.com/scikit-learn/scikit-learn/pull/27875, "
        "https://github.com/feature-engine/feature_engine/issues/248, "
        "https://github.com/alkaline-ml/pmdarima/issues/197)",
        blind=True,
    ),
    Scenario(
        "poisson_regression_of_hourly_rentals_at_the_default_sgd_rate",
        poisson_regression_of_hourly_rentals_at_the_default_sgd_rate,
        "activation",
        frozenset({"Exp"}),
        "rentals_mlp/head",
        "learning_rate_too_high",
        frozenset({"lower_learning_rate"}),
        story="keras.losses.Poisson with an exponential head on hourly counts of ~200 at "
        "SGD's default rate 0.01: gradients mu - y of hundreds and a curvature of mu make "
        "the step far too large, the log-rate overshoots and the head's exp overflows "
        "within a few steps (https://github.com/keras-team/keras/issues/590, "
        "https://github.com/keras-team/keras/issues/18886, "
        "https://github.com/rstudio/keras3/issues/1280, "
        "https://github.com/RJT1990/pyflux/issues/21)",
        blind=True,
    ),
    Scenario(
        "square_root_scale_loss_on_counts_with_a_relu_output",
        square_root_scale_loss_on_counts_with_a_relu_output,
        "gradient",
        frozenset({"SqrtGrad"}),
        None,
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="a variance-stabilizing loss mean((sqrt(pred) - sqrt(y))^2) on counts with a "
        "ReLU head: predictions that are exactly 0 have a finite forward value but an "
        "infinite sqrt derivative, -inf and 0 x inf = NaN in the backward pass "
        "(https://github.com/Theano/Theano/issues/3223, "
        "https://github.com/open-mmlab/mmrotate/issues/205, "
        "https://github.com/jvargasmu/population_estimation/issues/68, "
        "https://github.com/apache/mxnet/issues/2261)",
        blind=True,
    ),
    Scenario(
        "interval_regression_with_exact_salaries_as_zero_width_brackets",
        interval_regression_with_exact_salaries_as_zero_width_brackets,
        "loss",
        frozenset({"Log"}),
        None,
        frozenset({"unstable_loss", "missing_epsilon"}),
        frozenset(),
        story="interval regression -log(Phi(hi) - Phi(lo)) on survey salary brackets, with "
        "exact answers exported as lo = hi: their CDF difference is exactly 0 and log(0) = "
        "-inf in the loss; an exact value needs the density "
        "(https://github.com/chjackson/flexsurv/issues/173, "
        "https://github.com/bambinos/bambi/issues/1020, "
        "https://github.com/CamDavidsonPilon/lifelines/issues/693, "
        "https://github.com/paul-buerkner/brms/pull/1904)",
        blind=True,
    ),
]
