"""A seventh set of NaN scenarios from public bug patterns, written BLIND (2026-12-04).

Written without reading nantrace's package, its docs, its README or its test modules (only the
scenario helpers of ``scenario_cases.py`` / ``scenario_patterns.py``, the format of
``scenario_blind6.py`` and the taxonomy of the design notes), and without running nantrace on
them: each expectation comes from the bug pattern itself (what a careful ML engineer would name
as where the first non-finite value appears, why, and the first fix to try). The only thing
checked while writing them is that plain TensorFlow, unwatched, really goes non-finite on their
batches (a throwaway script outside the repository, a plain ``tf.function`` step). None repeats
a pattern on the list of existing scenarios that came with the brief; each story cites the
public report(s) the pattern comes from. Layer names are set explicitly only so the
expectations can name them.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from scenario_cases import Scenario, batches, dtype_policy, run_loop, seeded, standard_step
from scenario_patterns import _custom_step


# ---------------------------------------------------------------------------------------------
# 1. lag / rolling-window features whose first rows are NaN, never dropped
# ---------------------------------------------------------------------------------------------
def _shift(series, lag):
    """pandas' Series.shift(lag): the first ``lag`` values are NaN."""
    out = np.full_like(series, np.nan)
    out[lag:] = series[:-lag]
    return out


def _rolling(series, window, reduce):
    """pandas' Series.rolling(window).mean() / .std(): NaN until the window is full."""
    out = np.full_like(series, np.nan)
    for t in range(window - 1, len(series)):
        out[t] = reduce(series[t - window + 1 : t + 1])
    return out


def lag_features_rolling_window_nan():
    """Next-day electricity load forecast with a GRU over 14-day windows of engineered
    features: yesterday's and last week's load (shift(1), shift(7)) and a 7-day rolling mean
    and std. The feature table is standardized column by column (the NaN-skipping statistics
    are finite) but never dropna()'d, so the first rows of the series keep the NaN that shift
    and rolling put there, and the first (chronological) windows carry them into the batch."""
    rng = seeded(900)
    days = 400
    t = np.arange(days, dtype="float64")
    load = 100 + 15 * np.sin(2 * np.pi * t / 7) + 0.05 * t + 5 * rng.normal(size=days)
    feats = np.stack(
        [
            load,
            _shift(load, 1),
            _shift(load, 7),
            _rolling(load, 7, np.mean),
            _rolling(load, 7, lambda w: np.std(w, ddof=1)),
            np.sin(2 * np.pi * t / 7),
            np.cos(2 * np.pi * t / 7),
        ],
        axis=1,
    )
    feats = (feats - np.nanmean(feats, axis=0)) / np.nanstd(feats, axis=0)
    window = 14
    x = np.stack([feats[i : i + window] for i in range(days - window)]).astype("float32")
    target = (load - load.mean()) / load.std()
    y = target[window:].reshape(-1, 1).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((window, feats.shape[1])),
            keras.layers.GRU(32, name="gru"),
            keras.layers.Dense(1, name="next_day_load"),
        ],
        name="load_forecaster",
    )
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        batches(x, y),
    )


# ---------------------------------------------------------------------------------------------
# 2. regression on log-transformed targets with zero-sales rows
# ---------------------------------------------------------------------------------------------
def log_target_with_zero_sales():
    """Item-level sales regression on a log-transformed target, y = np.log(units_sold), the
    usual trick for a right-skewed target. Days on which an item sold nothing have
    units_sold = 0 and np.log(0) = -inf (numpy only warns), so the label column holds -inf
    for those rows and the MSE is inf at the first batch that contains one."""
    rng = seeded(901)
    n = 512
    price = rng.uniform(1, 20, size=n)
    promo = rng.integers(0, 2, size=n).astype("float64")
    weekday = rng.integers(0, 7, size=n)
    shelf = rng.uniform(0, 1, size=n)
    rate = np.exp(1.5 - 0.12 * price + 0.6 * promo + 0.4 * shelf + 0.1 * (weekday >= 5))
    units = rng.poisson(rate).astype("float64")  # ~10 % zero-sales days
    with np.errstate(divide="ignore"):
        y = np.log(units).reshape(-1, 1).astype("float32")
    x = np.stack(
        [price, promo, shelf, np.sin(2 * np.pi * weekday / 7), np.cos(2 * np.pi * weekday / 7)],
        axis=1,
    )
    x = ((x - x.mean(axis=0)) / x.std(axis=0)).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((5,)),
            keras.layers.Dense(32, activation="relu", name="hidden0"),
            keras.layers.Dense(16, activation="relu", name="hidden1"),
            keras.layers.Dense(1, name="log_units"),
        ],
        name="sales_mlp",
    )
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        batches(x, y),
    )


# ---------------------------------------------------------------------------------------------
# 3. inverse-variance sample weights with a reported uncertainty of 0
# ---------------------------------------------------------------------------------------------
def inverse_variance_weights_of_exact_measurements():
    """Photometric-redshift regression weighted by the catalogue's measurement errors,
    sample_weight = 1 / sigma**2 (inverse-variance weighting). A few objects come from a
    spectroscopic sub-survey whose error column was filled with 0 ('exact'), so their weight is
    1 / 0 = inf in the batch; the weighted MSE is inf (or NaN where the error is exactly 0)."""
    rng = seeded(902)
    n = 384
    mags = rng.uniform(18, 24, size=(n, 5))
    colors = np.diff(mags, axis=1)
    z = 0.3 + 0.25 * colors[:, 0] - 0.15 * colors[:, 2] + 0.05 * rng.normal(size=n)
    sigma = rng.uniform(0.02, 0.1, size=n)
    sigma[rng.random(n) < 0.04] = 0.0  # spectroscopic objects: error exported as 0
    with np.errstate(divide="ignore"):
        weight = (1.0 / sigma**2).astype("float32")
    x = np.concatenate([mags, colors], axis=1)
    x = ((x - x.mean(axis=0)) / x.std(axis=0)).astype("float32")
    y = ((z - z.mean()) / z.std()).reshape(-1, 1).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((9,)),
            keras.layers.Dense(64, activation="relu", name="hidden0"),
            keras.layers.Dense(32, activation="relu", name="hidden1"),
            keras.layers.Dense(1, name="redshift"),
        ],
        name="photoz_mlp",
    )
    optimizer = keras.optimizers.Adam(1e-3)
    mse = keras.losses.MeanSquaredError()

    def weighted_mse(model, x, y, w):
        return mse(y, model(x, training=True), sample_weight=w)

    data = [
        (tf.constant(x[i : i + 32]), tf.constant(y[i : i + 32]), tf.constant(weight[i : i + 32]))
        for i in range(0, n, 32)
    ]
    return run_loop(
        _custom_step(model, optimizer, weighted_mse), data, model=model, optimizer=optimizer
    )


# ---------------------------------------------------------------------------------------------
# 4. an ExponentialDecay schedule whose decay_rate is 10 ('divide by 10')
# ---------------------------------------------------------------------------------------------
def exponential_decay_rate_above_one():
    """An image-recipe schedule ('divide the learning rate by 10 every N steps', PyTorch's
    StepLR(gamma=0.1)) ported to Keras as ExponentialDecay(0.01, decay_steps=6,
    decay_rate=10, staircase=True): Keras multiplies by decay_rate, so the learning rate of
    SGD with momentum is 0.1 after 6 steps, 1 after 12 and 10 after 18, and training on a
    healthy, standardized regression diverges."""
    rng = seeded(903)
    n = 2048
    x = rng.normal(size=(n, 12)).astype("float32")
    w = rng.normal(size=(12, 1)) / np.sqrt(12)
    y = x @ w + 0.5 * np.tanh(x[:, :1] * x[:, 1:2]) + 0.1 * rng.normal(size=(n, 1))
    y = ((y - y.mean()) / y.std()).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((12,)),
            keras.layers.Dense(64, activation="relu", name="hidden0"),
            keras.layers.Dense(64, activation="relu", name="hidden1"),
            keras.layers.Dense(1, name="head"),
        ],
        name="decay_mlp",
    )
    schedule = keras.optimizers.schedules.ExponentialDecay(
        0.01, decay_steps=6, decay_rate=10.0, staircase=True
    )
    optimizer = keras.optimizers.SGD(schedule, momentum=0.9)
    return run_loop(
        standard_step(model, optimizer, keras.losses.MeanSquaredError()),
        batches(x, y, size=64),
    )


# ---------------------------------------------------------------------------------------------
# 5. Tweedie deviance by hand on a linear output
# ---------------------------------------------------------------------------------------------
def tweedie_deviance(y, mu, p=1.5):
    """Tweedie negative log-likelihood (up to terms without mu), as LightGBM / XGBoost write
    it: -y mu^(1-p) / (1-p) + mu^(2-p) / (2-p), here with mu taken straight from the model."""
    return tf.reduce_mean(-y * tf.pow(mu, 1.0 - p) / (1.0 - p) + tf.pow(mu, 2.0 - p) / (2.0 - p))


def tweedie_deviance_on_linear_head():
    """Insurance pure-premium regression (claim cost per policy, mostly 0, a few large
    claims, in thousands) with a hand-written Tweedie loss, p = 1.5. The output layer is a
    plain Dense(1): the mean mu is meant to be positive (a log link, exp / softplus), but a
    linear head gives negative mu for part of the batch and a negative number to the power
    -0.5 or 0.5 is NaN."""
    rng = seeded(904)
    n = 512
    age = rng.uniform(18, 80, size=n)
    car_power = rng.uniform(40, 200, size=n)
    density = rng.lognormal(6, 1.2, size=n)
    bonus = rng.uniform(50, 150, size=n)
    freq = np.exp(-2.5 + 0.01 * (bonus - 100) + 0.2 * np.log(density / 400) - 0.01 * (age - 45))
    claims = rng.poisson(freq)
    cost = np.array([rng.gamma(2.0, 1.0, size=k).sum() for k in claims])
    x = np.stack([age, car_power, np.log(density), bonus], axis=1)
    x = ((x - x.mean(axis=0)) / x.std(axis=0)).astype("float32")
    y = cost.reshape(-1, 1).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(32, activation="relu", name="hidden0"),
            keras.layers.Dense(16, activation="relu", name="hidden1"),
            keras.layers.Dense(1, name="mean_cost"),
        ],
        name="premium_mlp",
    )
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), tweedie_deviance), batches(x, y)
    )


# ---------------------------------------------------------------------------------------------
# 6. -PSNR as the loss of a super-resolution net, on letterbox (black) patches
# ---------------------------------------------------------------------------------------------
def psnr_loss(hr, sr):
    """Maximize the metric itself: the loss is -mean(tf.image.psnr), i.e. 10 log10 of the
    per-image MSE, with no floor on the MSE."""
    return -tf.reduce_mean(tf.image.psnr(hr, sr, max_val=1.0))


def psnr_loss_on_black_letterbox_patches():
    """A x2 super-resolution net (bilinear upsampling plus a learned residual of three convs)
    trained on random 16x16 crops of video frames with -PSNR as the loss, the metric the paper
    reports. Crops that fall in a frame's letterbox bars are pure black in both the low- and
    the high-resolution frame; with Keras' zero-initialized biases the net maps a black input to
    exactly 0, the crop's MSE is exactly 0 and log(0) makes its PSNR inf."""
    rng = seeded(905)
    n = 128
    yy, xx = np.meshgrid(np.linspace(0, 1, 16), np.linspace(0, 1, 16), indexing="ij")
    freq = rng.uniform(1, 4, size=(n, 1, 1))
    phase = rng.uniform(0, 6.3, size=(n, 1, 1))
    hr = 0.5 + 0.3 * np.sin(2 * np.pi * freq * (xx + 0.5 * yy) + phase)
    hr = hr + 0.05 * rng.normal(size=hr.shape)
    letterbox = rng.random(n) < 0.12
    letterbox[3] = True  # one in the first batch
    hr[letterbox] = 0.0
    hr = np.clip(hr, 0, 1)[..., None].astype("float32")
    lr = hr.reshape(n, 8, 2, 8, 2, 1).mean(axis=(2, 4)).astype("float32")
    inputs = keras.Input((8, 8, 1))
    up = keras.layers.UpSampling2D(2, interpolation="bilinear", name="upsample")(inputs)
    h = keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv1")(up)
    h = keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2")(h)
    residual = keras.layers.Conv2D(1, 3, padding="same", name="residual")(h)
    sr = keras.layers.Add(name="add")([up, residual])
    model = keras.Model(inputs, sr, name="sr_net")
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), psnr_loss), batches(lr, hr, size=16)
    )


# ---------------------------------------------------------------------------------------------
# 7. a unit-norm constraint by hand on an embedding whose unknown words are zero rows
# ---------------------------------------------------------------------------------------------
def unit_rows(w):
    """Keep every embedding row on the unit sphere, like the pretrained vectors: w / ||w||."""
    return w / tf.norm(w, axis=1, keepdims=True)


def unit_norm_constraint_on_zero_oov_rows():
    """Review sentiment classifier on pretrained word vectors, built as in the Keras
    'pretrained word embeddings' example: embedding_matrix = np.zeros((vocab, dim)), then each
    word found in the vector file gets its (unit-norm) vector; words not found keep a zero row.
    A hand-written constraint keeps rows at unit norm after every update. Rows of words that
    are absent from the batch get no update and stay exactly zero, and the constraint's
    w / ||w|| makes them 0 / 0 = NaN after the first apply_gradients."""
    rng = seeded(906)
    vocab, dim, length, n = 400, 16, 20, 256
    matrix = rng.normal(size=(vocab, dim))
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    not_found = rng.random(vocab) < 0.15
    not_found[0] = True  # padding
    matrix[not_found] = 0.0
    sentiment = rng.normal(size=vocab)
    tokens = rng.integers(1, vocab, size=(n, length))
    lengths = rng.integers(5, length + 1, size=n)
    tokens[np.arange(length)[None, :] >= lengths[:, None]] = 0
    score = np.array([sentiment[row[row > 0]].mean() for row in tokens])
    y = (score > np.median(score)).astype("float32").reshape(-1, 1)
    model = keras.Sequential(
        [
            keras.Input((length,), dtype="int32"),
            keras.layers.Embedding(
                vocab,
                dim,
                embeddings_initializer=keras.initializers.Constant(matrix),
                embeddings_constraint=unit_rows,
                name="word_embedding",
            ),
            keras.layers.GlobalAveragePooling1D(name="mean_pool"),
            keras.layers.Dense(16, activation="relu", name="hidden"),
            keras.layers.Dense(1, name="sentiment_logit"),
        ],
        name="sentiment_net",
    )
    loss = keras.losses.BinaryCrossentropy(from_logits=True)
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), loss),
        batches(tokens.astype("int32"), y),
    )


# ---------------------------------------------------------------------------------------------
# 8. Snake activation written sin^2(a x) / a with a zero-initialized a
# ---------------------------------------------------------------------------------------------
class Snake(keras.layers.Layer):
    """Snake x + sin^2(alpha x) / alpha (Liu Ziyin et al. 2020, BigVGAN), one trainable
    alpha per channel. The initializer was copied from BigVGAN's log-scale variant (zeros,
    meaning alpha = exp(0) = 1) while the layer uses alpha directly."""

    def build(self, input_shape):
        self.alpha = self.add_weight(shape=(input_shape[-1],), initializer="zeros", name="alpha")

    def call(self, x):
        return x + tf.square(tf.sin(self.alpha * x)) / self.alpha


def snake_activation_with_zero_alpha():
    """A small Conv1D regressor on periodic sensor windows (the task Snake was proposed for)
    with Snake activations. alpha starts at exactly 0, so sin^2(0 x) / 0 = 0 / 0 = NaN in the
    first forward pass of the first Snake layer."""
    rng = seeded(907)
    n, length = 256, 64
    t = np.arange(length) / length
    period = rng.uniform(0.1, 0.5, size=n)
    amp = rng.uniform(0.5, 2.0, size=n)
    wave = amp[:, None] * np.sin(2 * np.pi * t[None, :] / period[:, None])
    wave = wave + 0.1 * rng.normal(size=wave.shape)
    y = ((period - period.mean()) / period.std()).reshape(-1, 1).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((length, 1)),
            keras.layers.Conv1D(16, 5, padding="same", name="conv1"),
            Snake(name="snake1"),
            keras.layers.Conv1D(16, 5, padding="same", name="conv2"),
            Snake(name="snake2"),
            keras.layers.GlobalAveragePooling1D(name="gap"),
            keras.layers.Dense(1, name="period"),
        ],
        name="snake_net",
    )
    return run_loop(
        standard_step(model, keras.optimizers.Adam(1e-3), keras.losses.MeanSquaredError()),
        batches(wave[..., None].astype("float32"), y),
    )


# ---------------------------------------------------------------------------------------------
# 9. int16 PCM straight from scipy.io.wavfile into a float16 Conv1D
# ---------------------------------------------------------------------------------------------
def int16_pcm_into_mixed_float16_conv1d():
    """Keyword spotting on raw waveforms read with scipy.io.wavfile.read, which returns the
    int16 PCM samples (+-32767) without scaling them to [-1, 1] as librosa / soundfile do;
    the model runs under mixed_float16 for speed, the output layer kept in float32 as the
    guide says. The first Conv1D (64-tap He-initialized kernels, which keep the input's scale)
    sums samples in the tens of thousands: its output passes 65504 and is inf in float16."""
    with dtype_policy("mixed_float16"):
        rng = seeded(908)
        n, length, words = 96, 1024, 3
        t = np.arange(length) / 8000.0
        word = rng.integers(0, words, size=n)
        f0 = np.array([300.0, 520.0, 800.0])[word] * rng.uniform(0.95, 1.05, size=n)
        envelope = np.exp(-((t[None, :] - 0.064) ** 2) / 0.002)
        clean = envelope * np.sin(2 * np.pi * f0[:, None] * t[None, :])
        gain = rng.uniform(0.7, 1.0, size=(n, 1))  # peak-normalized recordings
        pcm = np.round(32767 * gain * clean + 300 * rng.normal(size=(n, length)))
        pcm = np.clip(pcm, -32768, 32767).astype(np.int16)  # what wavfile.read returns
        he = "he_normal"  # the initializer recommended for ReLU
        model = keras.Sequential(
            [
                keras.Input((length, 1)),
                keras.layers.Conv1D(
                    16, 64, strides=4, activation="relu", kernel_initializer=he, name="conv1"
                ),
                keras.layers.MaxPooling1D(4, name="pool1"),
                keras.layers.Conv1D(32, 8, activation="relu", kernel_initializer=he, name="conv2"),
                keras.layers.GlobalAveragePooling1D(name="gap"),
                keras.layers.Dense(words, name="logits", dtype="float32"),
            ],
            name="kws_net",
        )
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        return run_loop(
            standard_step(model, keras.optimizers.Adam(1e-3), loss),
            batches(pcm[..., None].astype("float32"), word.astype("int32")),
        )


# ---------------------------------------------------------------------------------------------
# 10. an attention-entropy regularizer on the attention weights of padded keys
# ---------------------------------------------------------------------------------------------
def attention_entropy_regularizer_on_padded_keys():
    """Text classifier with a Keras MultiHeadAttention block and a padding mask, plus an
    attention-entropy penalty -sum(a log a) on the returned attention weights (to keep the
    heads from collapsing). Keras' masked softmax gives the padded keys a weight of exactly 0,
    and log(0) = -inf (then 0 * -inf = NaN) in the regularizer at the first step."""
    rng = seeded(909)
    vocab, length, n, dim = 200, 24, 256, 32
    tokens = rng.integers(1, vocab, size=(n, length))
    lengths = rng.integers(6, length + 1, size=n)
    pad = np.arange(length)[None, :] >= lengths[:, None]
    tokens[pad] = 0
    positive = rng.choice(np.arange(1, vocab), size=20, replace=False)
    y = np.isin(tokens, positive).sum(axis=1) >= 2
    tok_in = keras.Input((length,), dtype="int32")
    mask_in = keras.Input((length,), dtype="bool")
    h = keras.layers.Embedding(vocab, dim, name="token_embedding")(tok_in)
    attn_mask = keras.ops.logical_and(mask_in[:, None, :], mask_in[:, :, None])
    attended, scores = keras.layers.MultiHeadAttention(4, 8, name="self_attention")(
        h, h, attention_mask=attn_mask, return_attention_scores=True
    )
    pooled = keras.layers.GlobalAveragePooling1D(name="mean_pool")(attended)
    logit = keras.layers.Dense(1, name="logit")(pooled)
    model = keras.Model([tok_in, mask_in], [logit, scores], name="attn_classifier")
    optimizer = keras.optimizers.Adam(1e-3)
    bce = keras.losses.BinaryCrossentropy(from_logits=True)

    def loss_of(model, tokens, mask, y):
        logit, attention = model([tokens, mask], training=True)
        entropy = -tf.reduce_sum(attention * tf.math.log(attention), axis=-1)
        return bce(y, logit) - 0.01 * tf.reduce_mean(entropy)

    data = [
        (
            tf.constant(tokens[i : i + 32].astype("int32")),
            tf.constant(~pad[i : i + 32]),
            tf.constant(y[i : i + 32].astype("float32").reshape(-1, 1)),
        )
        for i in range(0, n, 32)
    ]
    return run_loop(_custom_step(model, optimizer, loss_of), data, model=model, optimizer=optimizer)


# ---------------------------------------------------------------------------------------------
# 11. sMAPE by hand on intermittent demand with a ReLU (non-negative) forecast head
# ---------------------------------------------------------------------------------------------
def smape(y, pred):
    """The M4 competition's symmetric MAPE, 2 |y - p| / (|y| + |p|), used as the loss."""
    return tf.reduce_mean(2.0 * tf.abs(y - pred) / (tf.abs(y) + tf.abs(pred)))


def smape_loss_on_intermittent_demand():
    """Spare-parts demand forecasting: a Conv1D over the last 28 days of (mostly zero) daily
    demand predicts the next day, with a ReLU output because demand cannot be negative, and
    the competition's sMAPE as the loss. Most slow-moving parts sell nothing in the window nor
    the next day; for an all-zero window the net (zero-initialized biases, later the ReLU head's
    clamp) says exactly 0 too, and sMAPE's 2 |0 - 0| / (0 + 0) is 0 / 0 = NaN."""
    rng = seeded(910)
    n, window = 384, 28
    rate = rng.uniform(0.01, 0.4, size=n)  # slow movers: most parts sell nothing in a month
    demand = rng.poisson(rate[:, None] * (rng.random((n, window + 1)) < 0.5))
    x = (demand[:, :window, None] / 3.0).astype("float32")
    y = demand[:, window:].astype("float32")
    model = keras.Sequential(
        [
            keras.Input((window, 1)),
            keras.layers.Conv1D(16, 7, activation="relu", name="conv1"),
            keras.layers.Conv1D(16, 7, activation="relu", name="conv2"),
            keras.layers.GlobalAveragePooling1D(name="gap"),
            keras.layers.Dense(1, activation="relu", name="demand"),
        ],
        name="demand_cnn",
    )
    return run_loop(standard_step(model, keras.optimizers.Adam(1e-3), smape), batches(x, y))


# ---------------------------------------------------------------------------------------------
# 12. GAN losses by hand with the discriminator's sigmoid left in float16
# ---------------------------------------------------------------------------------------------
def gan_sigmoid_discriminator_in_float16():
    """A small GAN on 8x8 'patches' moved to mixed_float16, the discriminator ending in
    Dense(1, activation='sigmoid') left in the float16 policy, and the textbook losses written
    by hand: D minimizes -log D(x) - log(1 - D(G(z))), G minimizes -log D(G(z)); the
    discriminator's learning rate (1e-2) is set well above the generator's. In float16
    the sigmoid rounds to exactly 1.0 for logits above ~8 and to 0 below ~-17, so as soon as
    the discriminator is confident about one sample a log(0) = -inf appears in the loss."""
    with dtype_policy("mixed_float16"):
        rng = seeded(911)
        n, noise_dim = 512, 16
        yy, xx = np.meshgrid(np.arange(8), np.arange(8), indexing="ij")
        freq = rng.uniform(0.5, 1.5, size=(n, 1, 1))
        real = np.sin(freq * (xx + yy) + rng.uniform(0, 6.3, size=(n, 1, 1)))
        real = real.reshape(n, 64).astype("float32")
        generator = keras.Sequential(
            [
                keras.Input((noise_dim,)),
                keras.layers.Dense(64, activation="relu", name="g_hidden"),
                keras.layers.Dense(64, activation="tanh", name="g_out", dtype="float32"),
            ],
            name="generator",
        )
        discriminator = keras.Sequential(
            [
                keras.Input((64,)),
                keras.layers.Dense(64, activation="relu", name="d_hidden0"),
                keras.layers.Dense(64, activation="relu", name="d_hidden1"),
                keras.layers.Dense(1, activation="sigmoid", name="d_prob"),
            ],
            name="discriminator",
        )
        d_opt = keras.optimizers.Adam(1e-2)
        g_opt = keras.optimizers.Adam(2e-4)

        def gan_step(real_batch, noise):
            with tf.GradientTape() as d_tape:
                d_real = tf.cast(discriminator(real_batch, training=True), "float32")
                fake = generator(noise, training=True)
                d_fake = tf.cast(discriminator(fake, training=True), "float32")
                d_loss = -tf.reduce_mean(tf.math.log(d_real) + tf.math.log(1.0 - d_fake))
            d_vars = discriminator.trainable_variables
            d_opt.apply_gradients(zip(d_tape.gradient(d_loss, d_vars), d_vars, strict=True))
            with tf.GradientTape() as g_tape:
                d_fake = tf.cast(discriminator(generator(noise, training=True)), "float32")
                g_loss = -tf.reduce_mean(tf.math.log(d_fake))
            g_vars = generator.trainable_variables
            g_opt.apply_gradients(zip(g_tape.gradient(g_loss, g_vars), g_vars, strict=True))
            return d_loss + g_loss

        data = [
            (
                tf.constant(real[i : i + 32]),
                tf.constant(rng.normal(size=(32, noise_dim)).astype("float32")),
            )
            for i in range(0, n, 32)
        ] * 3
        return run_loop(gan_step, data, model=discriminator, optimizer=d_opt)


# ---------------------------------------------------------------------------------------------
# what a correct report says
# ---------------------------------------------------------------------------------------------
BLIND7_SCENARIOS: list[Scenario] = [
    Scenario(
        "lag_features_rolling_window_nan",
        lag_features_rolling_window_nan,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="lag / rolling-window features (shift, rolling mean / std) of a load series never "
        "dropna()'d: the first rows are NaN and the first GRU windows carry them into the batch "
        "(https://github.com/feature-engine/feature_engine/issues/536, "
        "https://github.com/sktime/sktime/pull/6017, https://github.com/bukosabino/ta/pull/44)",
        blind=True,
    ),
    Scenario(
        "log_target_with_zero_sales",
        log_target_with_zero_sales,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="a right-skewed sales target log-transformed with np.log: zero-sales days give "
        "-inf labels and the MSE is inf (log1p, or dropping those rows, is the fix) "
        "(https://github.com/cschlaffner/PROTzilla2/issues/41, "
        "https://github.com/uber/orbit/issues/92, "
        "https://github.com/RTIInternational/teehr/issues/521)",
        blind=True,
    ),
    Scenario(
        "inverse_variance_weights_of_exact_measurements",
        inverse_variance_weights_of_exact_measurements,
        "input_data",
        cause="non_finite_input",
        fixes=frozenset({"clean_input"}),
        story="inverse-variance sample weights 1 / sigma**2 where a sub-survey exported its "
        "errors as 0: the batch's sample weights hold inf "
        "(https://github.com/JuliaPhysics/Measurements.jl/issues/130, "
        "https://github.com/paulegradie/Sailfish/pull/234, "
        "https://github.com/andycasey/AnniesLasso/issues/81)",
        blind=True,
    ),
    Scenario(
        "exponential_decay_rate_above_one",
        exponential_decay_rate_above_one,
        None,
        cause="learning_rate_too_high",
        fixes=frozenset({"lower_learning_rate"}),
        story="'divide by 10' (StepLR gamma=0.1) ported as ExponentialDecay(decay_rate=10): "
        "Keras multiplies, the learning rate grows 10x every 6 steps and SGD with momentum "
        "diverges (https://github.com/hunglc007/tensorflow-yolov4-tflite/issues/138, "
        "https://github.com/tensorflow/tensor2tensor/issues/614)",
        blind=True,
    ),
    Scenario(
        "tweedie_deviance_on_linear_head",
        tweedie_deviance_on_linear_head,
        "loss",
        frozenset({"Pow"}),
        None,
        "domain_error",
        frozenset({"positive_output", "clamp_argument"}),
        story="Tweedie deviance (p = 1.5) by hand, mu ** (1 - p) and mu ** (2 - p), on a linear "
        "output head: a negative mean to a fractional power is NaN; a log link / softplus head "
        "(or a floor on mu) is the fix (https://github.com/dmlc/xgboost/issues/2473, "
        "https://github.com/Lightning-AI/torchmetrics/issues/846, "
        "https://github.com/Evovest/EvoTrees.jl/pull/385)",
        blind=True,
    ),
    Scenario(
        "psnr_loss_on_black_letterbox_patches",
        psnr_loss_on_black_letterbox_patches,
        "loss",
        frozenset({"Log"}),
        None,
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="-tf.image.psnr as a super-resolution loss: a black letterbox crop is reproduced "
        "exactly (zero biases), its MSE is 0 and log(0) makes the PSNR inf; floor the MSE "
        "(https://github.com/hzwer/ECCV2022-RIFE/issues/271, "
        "https://github.com/ArthurBrussee/brush/pull/540, "
        "https://github.com/mlcommons/GaNDLF/pull/693)",
        blind=True,
    ),
    Scenario(
        "unit_norm_constraint_on_zero_oov_rows",
        unit_norm_constraint_on_zero_oov_rows,
        "optimizer_update",
        frozenset({"RealDiv"}),
        "sentiment_net/word_embedding",
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="a hand-written unit-norm constraint w / ||w|| on a pretrained embedding matrix "
        "whose words without a vector are zero rows: rows absent from the batch stay 0 and the "
        "constraint makes them 0 / 0 after the first update; Keras' UnitNorm adds an epsilon "
        "(https://github.com/tensorflow/tensorboard/pull/473, "
        "https://github.com/pytorch/pytorch/pull/9448, "
        "https://github.com/keras-team/keras/issues/1580)",
        blind=True,
    ),
    Scenario(
        "snake_activation_with_zero_alpha",
        snake_activation_with_zero_alpha,
        "activation",
        frozenset({"RealDiv"}),
        "snake_net/snake1",
        "missing_epsilon",
        frozenset({"add_epsilon", "change_initializer"}),
        story="Snake activation x + sin^2(alpha x) / alpha with alpha initialized to 0 (the "
        "log-scale variant's init used for the linear form): 0 / 0 in the first forward pass; "
        "BigVGAN divides by alpha + 1e-9 (https://github.com/acids-ircam/RAVE/issues/351, "
        "https://github.com/EdwardDixon/snake/blob/master/snake/activations.py)",
        blind=True,
    ),
    Scenario(
        "int16_pcm_into_mixed_float16_conv1d",
        int16_pcm_into_mixed_float16_conv1d,
        "matmul_overflow",
        frozenset({"Conv2D"}),
        "kws_net/conv1",
        frozenset({"unscaled_input", "float16_range"}),
        frozenset({"rescale_input"}),
        story="int16 PCM from scipy.io.wavfile.read (+-32767, never divided by 32768) into a "
        "He-initialized Conv1D under mixed_float16: the first convolution passes 65504 "
        "(https://github.com/JusperLee/Dual-Path-RNN-Pytorch/issues/16, "
        "https://github.com/clovaai/voxceleb_trainer/issues/107, "
        "https://github.com/dscripka/openWakeWord/issues/295)",
        blind=True,
    ),
    Scenario(
        "attention_entropy_regularizer_on_padded_keys",
        attention_entropy_regularizer_on_padded_keys,
        "loss",
        frozenset({"Log"}),
        None,
        frozenset({"missing_epsilon", "unstable_loss"}),
        frozenset({"add_epsilon"}),
        story="an attention-entropy penalty -sum(a log a) on Keras MultiHeadAttention weights "
        "with a padding mask: padded keys get exactly 0 and log(0) = -inf, 0 * -inf = NaN; "
        "the reference code adds 1e-8 (https://github.com/joshyZhou/AST/issues/17, "
        "https://github.com/xjdr-alt/entropix/issues/62, "
        "https://github.com/huggingface/trl/pull/7252)",
        blind=True,
    ),
    Scenario(
        "smape_loss_on_intermittent_demand",
        smape_loss_on_intermittent_demand,
        "loss",
        frozenset({"RealDiv"}),
        None,
        "missing_epsilon",
        frozenset({"add_epsilon", "divide_no_nan"}),
        story="sMAPE 2 |y - p| / (|y| + |p|) as the loss of an intermittent-demand forecaster: "
        "a zero-demand day predicted exactly 0 is 0 / 0 "
        "(https://github.com/unit8co/darts/issues/2983, "
        "https://github.com/uber/causalml/pull/1050, "
        "https://github.com/Pieter-Cawood/FFORMA-ESRNN/issues/1)",
        blind=True,
    ),
    Scenario(
        "gan_sigmoid_discriminator_in_float16",
        gan_sigmoid_discriminator_in_float16,
        "loss",
        frozenset({"Log"}),
        None,
        frozenset({"float16_range", "unstable_loss"}),
        frozenset({"float32_layer", "use_from_logits"}),
        story="GAN losses written with tf.math.log on a sigmoid discriminator output left in "
        "float16 under mixed_float16: the sigmoid rounds to exactly 0 / 1 within a few steps "
        "(float32 stays finite) and log(0) = -inf; keep the output layer in float32 or use "
        "logits (https://github.com/tensorflow/tensorflow/issues/45623, "
        "https://github.com/lucidrains/unet-stylegan2/issues/9, "
        "https://github.com/mlpack/mlpack/pull/1813)",
        blind=True,
    ),
]
