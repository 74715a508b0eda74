"""A thirty-first set of NaN scenarios from public bug patterns, written BLIND (2026-12-05).

Written without reading nantrace's package, its docs, its README, its benchmarks or its test
modules (only the scenario helpers of ``scenario_cases.py`` (lines 1-120) /
``scenario_patterns.py`` (lines 1-50: ``_custom_step``), the format of ``scenario_blind20.py``,
the taxonomy section of the design notes and the list of names and one-line stories of the
existing scenarios), without git log or diff output of other files, without looking at any
other blind suite, and without importing or running nantrace: each expectation comes from the
bug pattern itself (where a careful ML engineer would say the first non-finite value appears,
why, and the first fix to try), and all ten were written into this file before anything was
run. The patterns come from public reports found with a search over GitHub issues and pull
requests and stored web pages; each story cites them. The theme is generative and
self-supervised models as users write them from tutorials and papers, in custom
tf.GradientTape loops: a VAE with a discretized logistic decoder written without
PixelCNN++'s edge cases, a VAE whose Gaussian decoder learns a per-pixel variance on images
with black borders, planar flows without the u_hat invertibility constraint, an invertible
dense flow layer whose log|det W| goes through tf.linalg.det, a RealNVP fed pixels
dequantized after scaling (values above 1 into its logit), a moment-matching generator
trained on sqrt of the unbiased MMD^2, DDPM's 1000 / T-scaled linear beta schedule with a
ten-step chain, a score network divided by the VE marginal std with times drawn on an
integer grid that includes 0, Wang & Isola's alignment + uniformity loss on unnormalized
embeddings, and SwAV's Sinkhorn exp(scores / 0.05) on unnormalized projections. Fix ids are
only those of the design notes' taxonomy; where none of them is the first fix a careful
engineer would try (u_hat, slogdet, the dequantization order, a clamp before the root, betas
below 1), the fix set is left empty.

The only thing checked after writing them is that plain TensorFlow, unwatched, really goes
non-finite on their batches (loss, gradients (recorded from inside each compiled step by a
patched apply_gradients), weights, and at which step), and (with
tf.debugging.enable_check_numerics, plain TF, the step compiled as the scenario runs it)
which op first produces the non-finite value, in a throwaway script outside the repository
that stands in plain-TF versions of the loop helpers and asserts that nantrace was never
imported. No expectation field (kind, op types, layer, cause, fixes) was changed after that
check and no pattern was dropped; one construction was changed, as told below. What the
check showed: the discretized logistic VAE (loss ~1650 falling, then inf at step 12 with
the gradients and weights; first op the loss's Log, -inf), the Gaussian-decoder VAE (the
loss falls to -860 by step 50 as the border variance collapses, NaN at step 64; first op
the NLL's Exp, +inf), the planar flows (loss NaN at step 0 while the gradients and weights
stay finite, d log(x) / dx = 1 / x being finite for x < 0; first op the Log of layer
planar5), the invertible dense flow (loss +inf, gradients and weights non-finite at step 0,
and at step 1 TensorFlow raises 'Input is not invertible' from the determinant's gradient on
the NaN kernel; first op the layer's Log of det = 0), the RealNVP (NaN loss, gradients and
weights at step 0; first op the logit layer's Log of 1 - p < 0), the moment-matching
generator (loss 1.1 falling, NaN at step 39; first op the Sqrt of the negative estimate),
the ten-step DDPM (the loss stays FINITE, the ReLU of the first hidden layer mapping the NaN
inputs to 0, while the gradients and the first kernel are NaN from step 0; first op the
noising's Sqrt of alpha_bar < 0, at step 0), the score network (NaN at step 15, the first
batch holding a t = 0; first op the divide_by_std layer's RealDiv, inf), the uniformity loss
(loss -5.5 falling to -52 by step 150, -inf at step 173; first op the uniformity's Log of an
underflowed mean) and SwAV (after the change below: loss 8.4 at step 0, NaN at step 1 with
the gradients and weights; first op the Sinkhorn's Exp, +inf).
Construction changed after the first check (expectation fields untouched, the docstring
rewritten to match): SwAV was first run on 32 standardized tabular features with a 64-unit
encoder, a 32-D projection and 16 prototypes: the scores stayed below ~3 over 64 steps and
the exp never overflowed; it now runs on 512-D non-negative pooled-feature-like inputs with
a 512-unit hidden layer, SwAV's 128-D projection and 32 prototypes, whose scores pass 4.4
after the first update.
Caveats a reader should know: the DDPM scenario leaves kind None (the first non-finite op,
the forward noising's Sqrt, runs in the train step before the model, neither inside a layer
nor in the loss after the model output) and its loss stays finite (only the gradients and
weights show the NaN); the planar flow scenario leaves the layer None (which of the eight
flows first has w.u < -1 is not determined by the pattern; the check showed planar5) and its
gradients stay finite; the invertible dense flow names two causes (the determinant
underflows: an unstable formulation, and a log of an exact 0); the two VAEs and the score
network trip after some healthy steps (12, 64 and 15); fix sets are empty where the first
fix is not a taxonomy id.

Layer names are set explicitly only so the expectations can name them.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf
from scenario_cases import Scenario, run_loop, seeded
from scenario_patterns import _custom_step


def _blob_images(rng, n, side, border=0):
    """8-bit grayscale images: a black (exactly 0) background with one to three bright blobs,
    some of them saturated at 255; with ``border`` > 0 the outer rows and columns stay 0."""
    yy, xx = np.mgrid[0:side, 0:side].astype("float64")
    images = np.zeros((n, side, side))
    lo, hi = border + 1.5, side - border - 2.5
    for i in range(n):
        for _ in range(rng.integers(1, 4)):
            cy, cx = rng.uniform(lo, hi, size=2)
            width = rng.uniform(0.8, 2.0)
            peak = rng.uniform(150.0, 400.0)
            images[i] += peak * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * width**2))
    images = np.clip(np.round(images), 0, 255)
    images[images < 8] = 0.0
    if border:
        images[:, :border, :] = 0.0
        images[:, -border:, :] = 0.0
        images[:, :, :border] = 0.0
        images[:, :, -border:] = 0.0
    return images.astype("uint8")


def _pairs(*arrays, size, epochs=1):
    """Fixed, pre-drawn batches (tuples of tf constants) over ``epochs`` passes."""
    n = len(arrays[0])
    out = []
    for _ in range(epochs):
        for start in range(0, n - size + 1, size):
            out.append(tuple(tf.constant(a[start : start + size]) for a in arrays))
    return out


# ---------------------------------------------------------------------------------------------
# 1. a VAE with a discretized logistic decoder written without the reference's edge cases
# ---------------------------------------------------------------------------------------------
def vae_discretized_logistic_decoder_without_its_edge_cases():
    """A VAE on 16 x 16 8-bit images scaled to [-1, 1], with the PixelCNN++ / IAF-VAE
    discretized logistic likelihood per pixel: the decoder gives a mean and a log-scale per
    pixel and the bin probability is written as log(sigmoid((x - mu + 1/255) / s) -
    sigmoid((x - mu - 1/255) / s)), the textbook formula, without the reference code's edge
    cases (the first / last bin, the cdf_delta > 1e-5 branch to the density, the floor
    max(cdf_delta, 1e-12)) and without its clamp of the log-scales at -7. As training
    shrinks the scales, a pixel whose error is more than ~17 scales wide has both sigmoids
    rounded to exactly 1.0 (or both to 0): the bin probability is 1.0 - 1.0 = 0 and its log
    is -inf in the loss (the reference's floor log(max(cdf_delta, 1e-12)) and edge cases)."""
    rng = seeded(3100)
    n, side, latent = 2048, 16, 8
    images = _blob_images(rng, n, side)
    x = (images.reshape(n, side * side).astype("float32") / 127.5 - 1.0).astype("float32")
    eps = rng.normal(size=(n * 12, latent)).astype("float32")
    x_in = keras.Input((side * side,))
    eps_in = keras.Input((latent,))
    h = keras.layers.Dense(256, activation="relu", name="enc_hidden")(x_in)
    z_mean = keras.layers.Dense(latent, name="z_mean")(h)
    z_log_var = keras.layers.Dense(latent, name="z_log_var")(h)
    z = z_mean + keras.ops.exp(0.5 * z_log_var) * eps_in
    d = keras.layers.Dense(256, activation="relu", name="dec_hidden")(z)
    mean = keras.layers.Dense(side * side, name="pixel_mean")(d)
    log_scale = keras.layers.Dense(side * side, name="pixel_log_scale")(d)
    model = keras.Model([x_in, eps_in], [mean, log_scale, z_mean, z_log_var], name="dlogistic_vae")

    def negative_elbo(model, x, eps):
        mean, log_scale, z_mean, z_log_var = model([x, eps], training=True)
        centered = x - mean
        inv_s = tf.exp(-log_scale)
        cdf_plus = tf.sigmoid(inv_s * (centered + 1.0 / 255.0))
        cdf_min = tf.sigmoid(inv_s * (centered - 1.0 / 255.0))
        log_probs = tf.math.log(cdf_plus - cdf_min)
        reconstruction = -tf.reduce_sum(log_probs, axis=1)
        kl = -0.5 * tf.reduce_sum(1.0 + z_log_var - tf.square(z_mean) - tf.exp(z_log_var), axis=1)
        return tf.reduce_mean(reconstruction + kl)

    optimizer = keras.optimizers.Adam(1e-3)
    xs = np.concatenate([x] * 12)
    return run_loop(
        _custom_step(model, optimizer, negative_elbo),
        _pairs(xs, eps, size=64),
        model=model,
        optimizer=optimizer,
    )


# ---------------------------------------------------------------------------------------------
# 2. a VAE with a Gaussian decoder whose per-pixel variance is learned, on images with blank borders
# ---------------------------------------------------------------------------------------------
def vae_gaussian_decoder_learning_a_pixel_variance_on_blank_borders():
    """A 'calibrated' VAE on 16 x 16 images in [0, 1] whose decoder outputs a mean image
    (sigmoid) and a per-pixel log-variance image (linear Dense), trained on the Gaussian
    negative log-likelihood 0.5 * (exp(-log_var) (x - mu)^2 + log_var) summed over pixels,
    plus the KL term. The images have a three-pixel border that is black in every image
    (as in digit data sets): there the mean can approach 0 without end and the likelihood
    is unbounded, so the learned log-variance of the border pixels falls step after step with
    the squared error (no floor, no soft clip of log sigma as the sigma-VAE code has) until
    exp(-log_var) overflows to +inf in the loss (a minimum variance: a floor or soft clip
    on the log-variance)."""
    rng = seeded(3101)
    n, side, latent = 2048, 16, 8
    images = _blob_images(rng, n, side, border=3)
    x = (images.reshape(n, side * side) / 255.0).astype("float32")
    epochs = 20
    eps = rng.normal(size=(n * epochs, latent)).astype("float32")
    x_in = keras.Input((side * side,))
    eps_in = keras.Input((latent,))
    h = keras.layers.Dense(256, activation="relu", name="enc_hidden")(x_in)
    z_mean = keras.layers.Dense(latent, name="z_mean")(h)
    z_log_var = keras.layers.Dense(latent, name="z_log_var")(h)
    z = z_mean + keras.ops.exp(0.5 * z_log_var) * eps_in
    d = keras.layers.Dense(256, activation="relu", name="dec_hidden")(z)
    mean = keras.layers.Dense(side * side, activation="sigmoid", name="pixel_mean")(d)
    log_var = keras.layers.Dense(side * side, name="pixel_log_var")(d)
    model = keras.Model([x_in, eps_in], [mean, log_var, z_mean, z_log_var], name="gaussian_vae")

    def negative_elbo(model, x, eps):
        mean, log_var, z_mean, z_log_var = model([x, eps], training=True)
        nll = 0.5 * tf.reduce_sum(tf.exp(-log_var) * tf.square(x - mean) + log_var, axis=1)
        kl = -0.5 * tf.reduce_sum(1.0 + z_log_var - tf.square(z_mean) - tf.exp(z_log_var), axis=1)
        return tf.reduce_mean(nll + kl)

    optimizer = keras.optimizers.Adam(1e-3)
    return run_loop(
        _custom_step(model, optimizer, negative_elbo),
        _pairs(np.concatenate([x] * epochs), eps, size=64),
        model=model,
        optimizer=optimizer,
    )


# ---------------------------------------------------------------------------------------------
# 3. planar flows written without the invertibility constraint on u (and without the abs)
# ---------------------------------------------------------------------------------------------
class PlanarFlow(keras.layers.Layer):
    """f(z) = z + u tanh(w.z + b), log-det written log(1 + u.psi(z)) from the paper's figure,
    with u used as is (no u_hat) and the weights left at add_weight's default initializer."""

    def build(self, input_shape):
        dim = input_shape[-1]
        self.u = self.add_weight(shape=(1, dim), name="u")
        self.w = self.add_weight(shape=(1, dim), name="w")
        self.b = self.add_weight(shape=(1,), initializer="zeros", name="b")

    def call(self, z):
        h = tf.tanh(tf.reduce_sum(z * self.w, axis=1, keepdims=True) + self.b)
        psi = (1.0 - tf.square(h)) * self.w
        log_det = tf.math.log(1.0 + tf.reduce_sum(psi * self.u, axis=1))
        return z + self.u * h, log_det


def planar_flow_log_det_without_the_invertibility_constraint():
    """Variational inference with normalizing flows (Rezende & Mohamed): eight planar flows
    push N(0, I) samples towards the 2-D 'ring' energy U1, minimizing E[U(z_K) - sum log
    |det|]. The flows are written from the paper's main text: f(z) = z + u h(w.z + b) with
    log-det log(1 + u.psi(z)), without the appendix's reparametrization u_hat that keeps
    w.u >= -1 (and without the abs). Where w.u < -1, the Jacobian 1 + u.psi(z) is negative
    for the samples near the flow's hyperplane, and its log is NaN inside the flow layer
    (constrain u with u_hat, as the paper's appendix and the public implementations do)."""
    rng = seeded(3102)
    dim, flows, steps, size = 2, 8, 300, 256
    z0 = keras.Input((dim,))
    z, total = z0, None
    for i in range(flows):
        z, log_det = PlanarFlow(name=f"planar{i}")(z)
        total = log_det if total is None else total + log_det
    model = keras.Model(z0, [z, total], name="planar_flow")

    def ring_energy(z):
        radius = tf.norm(z, axis=1)
        two_modes = tf.reduce_logsumexp(
            tf.stack(
                [-0.5 * tf.square((z[:, 0] - 2.0) / 0.6), -0.5 * tf.square((z[:, 0] + 2.0) / 0.6)],
                axis=1,
            ),
            axis=1,
        )
        return 0.5 * tf.square((radius - 2.0) / 0.4) - two_modes

    def free_energy(model, z0):
        zk, sum_log_det = model(z0, training=True)
        return tf.reduce_mean(ring_energy(zk) - sum_log_det)

    optimizer = keras.optimizers.Adam(1e-3)
    samples = rng.normal(size=(steps * size, dim)).astype("float32")
    return run_loop(
        _custom_step(model, optimizer, free_energy),
        _pairs(samples, size=size),
        model=model,
        optimizer=optimizer,
    )


# ---------------------------------------------------------------------------------------------
# 4. an invertible dense flow layer with log|det W| by tf.linalg.det on 256 dimensions
# ---------------------------------------------------------------------------------------------
class InvertibleDense(keras.layers.Layer):
    """z = x W + b with the log-determinant written log(abs(det(W))), as in the first Glow
    ports, and W left at the Dense default (Glorot uniform) instead of a random rotation."""

    def build(self, input_shape):
        dim = input_shape[-1]
        self.kernel = self.add_weight(shape=(dim, dim), initializer="glorot_uniform", name="kernel")
        self.bias = self.add_weight(shape=(dim,), initializer="zeros", name="bias")

    def call(self, x):
        log_det = tf.math.log(tf.abs(tf.linalg.det(self.kernel)))
        return tf.matmul(x, self.kernel) + self.bias, log_det


def invertible_dense_flow_log_det_through_the_determinant():
    """A linear normalizing flow (a learned invertible dense map to N(0, I), a 'Glow 1 x 1
    convolution' applied to whole flattened 16 x 16 patches) trained by maximum likelihood:
    loss = mean(0.5 |z|^2) - log|det W|, the log-determinant written
    tf.math.log(tf.abs(tf.linalg.det(W))). For a 256 x 256 Glorot-initialized W the
    determinant is the product of 256 pivots of order 0.5, about e^-128: it underflows
    float32 to exactly 0.0 although W is well conditioned, and its log is -inf in the flow
    layer at the first step (a log-determinant computed in log space: tf.linalg.slogdet, or an
    LU-parametrized W whose log-det is sum(log|diag U|))."""
    rng = seeded(3103)
    n, side = 4096, 16
    images = _blob_images(rng, n, side).astype("float32").reshape(n, side * side)
    x = (images - images.mean(axis=0)) / (images.std(axis=0) + 1.0)
    x = (x + 0.05 * rng.normal(size=x.shape)).astype("float32")
    inputs = keras.Input((side * side,))
    z, log_det = InvertibleDense(name="invertible_dense")(inputs)
    model = keras.Model(inputs, [z, log_det], name="linear_flow")

    def negative_log_likelihood(model, x):
        z, log_det = model(x, training=True)
        return tf.reduce_mean(0.5 * tf.reduce_sum(tf.square(z), axis=1)) - log_det

    optimizer = keras.optimizers.Adam(1e-3)
    return run_loop(
        _custom_step(model, optimizer, negative_log_likelihood),
        _pairs(x, size=64),
        model=model,
        optimizer=optimizer,
    )


# ---------------------------------------------------------------------------------------------
# 5. uniform dequantization added after scaling to [0, 1], before a RealNVP's logit layer
# ---------------------------------------------------------------------------------------------
class LogitPreprocess(keras.layers.Layer):
    """RealNVP's input transform y = logit(alpha + (1 - 2 alpha) x) with its log-det."""

    def __init__(self, alpha=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.alpha = alpha

    def call(self, x):
        p = self.alpha + (1.0 - 2.0 * self.alpha) * x
        log_p, log_1mp = tf.math.log(p), tf.math.log(1.0 - p)
        dim = tf.cast(tf.shape(x)[1], x.dtype)
        log_det = tf.reduce_sum(-log_p - log_1mp, axis=1) + dim * math.log(1.0 - 2.0 * self.alpha)
        return log_p - log_1mp, log_det


class AffineCoupling(keras.layers.Layer):
    """RealNVP affine coupling with a tanh-bounded log-scale (as in the paper)."""

    def __init__(self, parity, hidden=64, **kwargs):
        super().__init__(**kwargs)
        self.parity = parity
        self.hidden = hidden

    def build(self, input_shape):
        dim = input_shape[-1]
        self.mask = tf.constant(((np.arange(dim) + self.parity) % 2).astype("float32"))
        self.net = keras.layers.Dense(self.hidden, activation="relu", name="net")
        self.scale = keras.layers.Dense(dim, kernel_initializer="zeros", name="scale")
        self.shift = keras.layers.Dense(dim, kernel_initializer="zeros", name="shift")

    def call(self, x):
        h = self.net(x * self.mask)
        s = tf.tanh(self.scale(h)) * (1.0 - self.mask)
        t = self.shift(h) * (1.0 - self.mask)
        return x * tf.exp(s) + t, tf.reduce_sum(s, axis=1)


def realnvp_dequantized_after_scaling_to_the_unit_interval():
    """A small RealNVP (logit preprocessing, four affine couplings with tanh log-scales) on
    8 x 8 8-bit images. Uniform dequantization is meant to be (pixel + u) / 256 with
    u ~ U[0, 1), which stays inside [0, 1); the pipeline scales first and adds the noise
    after, x = pixel / 255 + u / 256, so every saturated pixel (255) becomes 1 + u / 256 > 1.
    RealNVP's logit layer (alpha = 1e-6, as in the flow tutorials that use a tiny alpha)
    then takes log(1 - p) of a negative number: NaN inside the preprocessing layer at the
    first step (dequantize as (pixel + u) / 256, or use RealNVP's alpha = 0.05)."""
    rng = seeded(3104)
    n, side = 2048, 8
    pixels = _blob_images(rng, n, side).reshape(n, side * side).astype("float32")
    x = (pixels / 255.0 + rng.uniform(size=pixels.shape) / 256.0).astype("float32")
    inputs = keras.Input((side * side,))
    y, total = LogitPreprocess(name="logit_preprocess")(inputs)
    for i in range(4):
        y, log_det = AffineCoupling(i % 2, name=f"coupling{i}")(y)
        total = total + log_det
    model = keras.Model(inputs, [y, total], name="realnvp")

    def negative_log_likelihood(model, x):
        z, log_det = model(x, training=True)
        return tf.reduce_mean(0.5 * tf.reduce_sum(tf.square(z), axis=1) - log_det)

    optimizer = keras.optimizers.Adam(1e-3)
    return run_loop(
        _custom_step(model, optimizer, negative_log_likelihood),
        _pairs(x, size=64),
        model=model,
        optimizer=optimizer,
    )


# ---------------------------------------------------------------------------------------------
# 6. a generative moment-matching network trained on the square root of the unbiased MMD^2
# ---------------------------------------------------------------------------------------------
def gmmn_generator_trained_on_the_sqrt_of_an_unbiased_mmd():
    """A generative moment-matching network (an MMD-GAN without its critic): an MLP
    generator maps 8-D noise to 2-D samples and is trained on sqrt(MMD^2) between a batch
    of generated and a batch of real samples, with a mixture of RBF kernels. MMD^2 is the
    UNBIASED estimator (the kernel matrices' diagonals removed), which is negative whenever
    the two batches look closer than two independent draws of one distribution: as soon as
    the generator matches the data, the estimate dips below 0 and sqrt of it is NaN in the
    loss (the biased estimator, a relu / clamp at 0 before the root, or MMD^2 itself)."""
    rng = seeded(3105)
    steps, size = 400, 64
    generator = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(64, activation="relu", name="hidden0"),
            keras.layers.Dense(64, activation="relu", name="hidden1"),
            keras.layers.Dense(2, name="sample"),
        ],
        name="gmmn_generator",
    )
    cov = np.array([[1.0, 0.6], [0.6, 0.8]])
    real = rng.multivariate_normal([1.0, -0.5], cov, size=steps * size).astype("float32")
    noise = rng.normal(size=(steps * size, 8)).astype("float32")
    bandwidths = (0.25, 1.0, 4.0)

    def kernel(a, b):
        d2 = (
            tf.reduce_sum(tf.square(a), axis=1)[:, None]
            + tf.reduce_sum(tf.square(b), axis=1)[None, :]
            - 2.0 * tf.matmul(a, b, transpose_b=True)
        )
        return tf.add_n([tf.exp(-d2 / (2.0 * s)) for s in bandwidths])

    def mmd_loss(model, noise, real):
        fake = model(noise, training=True)
        m = tf.cast(tf.shape(fake)[0], tf.float32)
        kxx, kyy, kxy = kernel(fake, fake), kernel(real, real), kernel(fake, real)
        mmd2 = (
            (tf.reduce_sum(kxx) - tf.linalg.trace(kxx)) / (m * (m - 1.0))
            + (tf.reduce_sum(kyy) - tf.linalg.trace(kyy)) / (m * (m - 1.0))
            - 2.0 * tf.reduce_mean(kxy)
        )
        return tf.sqrt(mmd2)

    optimizer = keras.optimizers.Adam(1e-3)
    return run_loop(
        _custom_step(generator, optimizer, mmd_loss),
        _pairs(noise, real, size=size),
        model=generator,
        optimizer=optimizer,
    )


# ---------------------------------------------------------------------------------------------
# 7. DDPM's scaled linear beta schedule used with a ten-step chain
# ---------------------------------------------------------------------------------------------
def ddpm_scaled_linear_schedule_with_a_ten_step_chain():
    """A DDPM on a 2-D swiss roll (an MLP noise predictor given x_t and t / T, the L_simple
    MSE on the noise), its schedule copied from improved-diffusion's linear schedule, which
    rescales DDPM's betas by 1000 / T so that any T 'works': linspace(1e-4 * 1000 / T,
    0.02 * 1000 / T, T). To iterate quickly the chain was shortened to T = 10 steps: the
    betas now run from 0.01 to 2.0, the alphas 1 - beta go negative from t = 5 on, alpha_bar
    alternates in sign, and the forward noising x_t = sqrt(alpha_bar) x_0 + sqrt(1 -
    alpha_bar) eps, computed in the train step, takes sqrt of a negative alpha_bar: NaN in
    the noised input at the first step (keep every beta below 1: T >= 50 with this scaling,
    or the unscaled betas; guided-diffusion asserts 0 < beta <= 1)."""
    rng = seeded(3106)
    n, timesteps = 4096, 10
    scale = 1000.0 / timesteps
    betas = np.linspace(scale * 1e-4, scale * 0.02, timesteps)
    alphas_cumprod = tf.constant(np.cumprod(1.0 - betas).astype("float32"))
    theta = 1.5 * np.pi * (1.0 + 2.0 * rng.random(n))
    roll = np.stack([theta * np.cos(theta), theta * np.sin(theta)], axis=1)
    x0 = ((roll - roll.mean(axis=0)) / roll.std(axis=0)).astype("float32")
    epochs = 2
    x0s = np.concatenate([x0] * epochs)
    noise = rng.normal(size=x0s.shape).astype("float32")
    t = rng.integers(0, timesteps, size=len(x0s)).astype("int32")
    x_in = keras.Input((2,))
    t_in = keras.Input((1,))
    h = keras.layers.Concatenate(name="with_time")([x_in, t_in])
    h = keras.layers.Dense(128, activation="relu", name="hidden0")(h)
    h = keras.layers.Dense(128, activation="relu", name="hidden1")(h)
    eps_hat = keras.layers.Dense(2, name="eps_head")(h)
    model = keras.Model([x_in, t_in], eps_hat, name="ddpm_mlp")

    def simple_loss(model, x0, noise, t):
        alpha_bar = tf.gather(alphas_cumprod, t)[:, None]
        x_t = tf.sqrt(alpha_bar) * x0 + tf.sqrt(1.0 - alpha_bar) * noise
        t_scaled = tf.cast(t, tf.float32)[:, None] / timesteps
        return tf.reduce_mean(tf.square(noise - model([x_t, t_scaled], training=True)))

    optimizer = keras.optimizers.Adam(1e-3)
    return run_loop(
        _custom_step(model, optimizer, simple_loss),
        _pairs(x0s, noise, t, size=128),
        model=model,
        optimizer=optimizer,
    )


# ---------------------------------------------------------------------------------------------
# 8. a score network divided by the marginal std, fed times on DDPM's integer grid (t = 0)
# ---------------------------------------------------------------------------------------------
class DivideByMarginalStd(keras.layers.Layer):
    """The tutorial's last line: the network output divided by the VE SDE's marginal std
    sqrt((sigma^(2t) - 1) / (2 log sigma)), so that it has the score's scale."""

    def __init__(self, sigma, **kwargs):
        super().__init__(**kwargs)
        self.sigma = sigma

    def call(self, inputs):
        h, t = inputs
        std = tf.sqrt((tf.pow(self.sigma, 2.0 * t) - 1.0) / (2.0 * math.log(self.sigma)))
        return h / std


def score_network_divided_by_the_marginal_std_at_time_zero():
    """A score-based generative model ported from the score-SDE tutorial (VE SDE, sigma =
    25, denoising score matching with the weighting lambda(t) = std(t)^2, i.e. the loss
    |score * std + z|^2), on 2-D two-moons data. The tutorial draws t ~ U(eps, 1) with
    eps = 1e-5 ('for numerical stability'); the port draws the times on DDPM's integer grid,
    t = randint(0, 1000) / 1000, which includes t = 0, where the marginal std is exactly 0:
    the score network's last layer divides its output by std(0) = 0, +-inf inside the model
    for every batch that holds a t = 0 (keep t >= eps = 1e-5, or an epsilon in the std)."""
    rng = seeded(3107)
    n, sigma = 4096, 25.0
    theta = rng.uniform(0.0, np.pi, size=n)
    upper = rng.random(n) < 0.5
    moons = np.where(
        upper[:, None],
        np.stack([np.cos(theta), np.sin(theta)], axis=1),
        np.stack([1.0 - np.cos(theta), 0.5 - np.sin(theta)], axis=1),
    )
    x = (moons + 0.05 * rng.normal(size=moons.shape)).astype("float32")
    epochs = 3
    xs = np.concatenate([x] * epochs)
    z = rng.normal(size=xs.shape).astype("float32")
    t = (rng.integers(0, 1000, size=(len(xs), 1)) / 1000.0).astype("float32")
    fourier = tf.constant(rng.normal(scale=30.0, size=(1, 32)).astype("float32"))

    x_in = keras.Input((2,))
    t_in = keras.Input((1,))
    proj = keras.ops.matmul(t_in, fourier) * (2.0 * np.pi)
    t_emb = keras.layers.Concatenate(name="time_features")(
        [keras.ops.sin(proj), keras.ops.cos(proj)]
    )
    h = keras.layers.Concatenate(name="with_time")([x_in, t_emb])
    h = keras.layers.Dense(128, activation="swish", name="hidden0")(h)
    h = keras.layers.Dense(128, activation="swish", name="hidden1")(h)
    h = keras.layers.Dense(2, name="score_head")(h)
    score = DivideByMarginalStd(sigma, name="divide_by_std")([h, t_in])
    model = keras.Model([x_in, t_in], score, name="score_net")

    def dsm_loss(model, x, z, t):
        std = tf.sqrt((tf.pow(sigma, 2.0 * t) - 1.0) / (2.0 * math.log(sigma)))
        perturbed = x + z * std
        score = model([perturbed, t], training=True)
        return tf.reduce_mean(tf.reduce_sum(tf.square(score * std + z), axis=1))

    optimizer = keras.optimizers.Adam(1e-3)
    return run_loop(
        _custom_step(model, optimizer, dsm_loss),
        _pairs(xs, z, t, size=128),
        model=model,
        optimizer=optimizer,
    )


# ---------------------------------------------------------------------------------------------
# 9. the alignment + uniformity loss on embeddings that were never L2-normalized
# ---------------------------------------------------------------------------------------------
def uniformity_loss_on_unnormalized_embeddings():
    """Self-supervised pre-training of a tabular encoder (an MLP, 32 features -> 16-D
    embedding) with Wang & Isola's alignment + uniformity loss on two noisy views: align =
    mean |f(x) - f(x+)|^2, uniform = log(mean_{i<j} exp(-2 |f(x_i) - f(x_j)|^2)), written
    from the paper's figure, whose code assumes the embeddings are L2-normalized; the port
    left the normalization out. Off the sphere the uniformity term is unbounded below: the
    encoder scales its embeddings up, every pairwise Gaussian potential exp(-2 d^2)
    underflows to exactly 0 and the log of their mean is -inf in the loss (L2-normalize the
    embeddings, e.g. keras.layers.UnitNormalization, as the paper's code assumes)."""
    rng = seeded(3108)
    n, dim = 4096, 32
    centres = rng.normal(size=(12, dim))
    x = centres[rng.integers(0, 12, size=n)] + 0.7 * rng.normal(size=(n, dim))
    epochs = 6
    xs = np.concatenate([x] * epochs)
    view1 = (xs + 0.1 * rng.normal(size=xs.shape)).astype("float32")
    view2 = (xs + 0.1 * rng.normal(size=xs.shape)).astype("float32")
    encoder = keras.Sequential(
        [
            keras.Input((dim,)),
            keras.layers.Dense(64, activation="relu", name="hidden0"),
            keras.layers.Dense(64, activation="relu", name="hidden1"),
            keras.layers.Dense(16, name="embedding"),
        ],
        name="align_uniform_encoder",
    )

    def uniformity(z):
        sq = tf.reduce_sum(tf.square(z), axis=1)
        d2 = sq[:, None] + sq[None, :] - 2.0 * tf.matmul(z, z, transpose_b=True)
        ones = tf.ones_like(d2)
        pairs = tf.linalg.band_part(ones, 0, -1) - tf.linalg.band_part(ones, 0, 0)
        return tf.math.log(tf.reduce_sum(tf.exp(-2.0 * d2) * pairs) / tf.reduce_sum(pairs))

    def align_uniform(model, v1, v2):
        z1, z2 = model(v1, training=True), model(v2, training=True)
        align = tf.reduce_mean(tf.reduce_sum(tf.square(z1 - z2), axis=1))
        return align + 0.5 * (uniformity(z1) + uniformity(z2))

    optimizer = keras.optimizers.Adam(1e-3)
    return run_loop(
        _custom_step(encoder, optimizer, align_uniform),
        _pairs(view1, view2, size=128),
        model=encoder,
        optimizer=optimizer,
    )


# ---------------------------------------------------------------------------------------------
# 10. SwAV's Sinkhorn-Knopp exp(scores / 0.05) on projections that were never L2-normalized
# ---------------------------------------------------------------------------------------------
def swav_sinkhorn_on_unnormalized_projections():
    """SwAV on pooled image features (512-D, non-negative, as a CNN backbone's global
    average pool gives them): a projection head (512 -> 128), 32 prototypes (a Dense without
    bias whose columns are L2-normalized at the start of every step, as in SwAV), codes from
    Sinkhorn-Knopp, Q = exp(scores / 0.05) then three row / column normalizations, and the
    swapped prediction loss with temperature 0.1. SwAV also L2-normalizes the projections
    before the prototypes; the port left that out, so the scores are not cosines in [-1, 1]
    but grow with the projections' norm, and exp(score / 0.05) overflows float32 once a
    score passes ~4.4: inf in the codes, inf / inf = NaN after the normalization
    (L2-normalize the projections before the prototype layer)."""
    rng = seeded(3109)
    n, dim = 2048, 512
    centres = rng.normal(scale=1.5, size=(10, dim))
    x = np.maximum(centres[rng.integers(0, 10, size=n)] + rng.normal(size=(n, dim)), 0.0)
    epochs = 4
    xs = np.concatenate([x] * epochs)
    view1 = (xs * np.exp(0.2 * rng.normal(size=xs.shape))).astype("float32")
    view2 = (xs * np.exp(0.2 * rng.normal(size=xs.shape))).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((dim,)),
            keras.layers.Dense(512, activation="relu", name="hidden0"),
            keras.layers.Dense(128, name="projection"),
            keras.layers.Dense(32, use_bias=False, name="prototypes"),
        ],
        name="swav",
    )
    prototypes = model.get_layer("prototypes")
    optimizer = keras.optimizers.Adam(1e-3)

    def sinkhorn(scores, epsilon=0.05, iterations=3):
        q = tf.transpose(tf.exp(scores / epsilon))
        q = q / tf.reduce_sum(q)
        k, b = tf.cast(tf.shape(q)[0], tf.float32), tf.cast(tf.shape(q)[1], tf.float32)
        for _ in range(iterations):
            q = q / tf.reduce_sum(q, axis=1, keepdims=True) / k
            q = q / tf.reduce_sum(q, axis=0, keepdims=True) / b
        return tf.transpose(q * b)

    def train_step(v1, v2):
        prototypes.kernel.assign(tf.math.l2_normalize(prototypes.kernel, axis=0))
        with tf.GradientTape() as tape:
            s1, s2 = model(v1, training=True), model(v2, training=True)
            q1, q2 = tf.stop_gradient(sinkhorn(s1)), tf.stop_gradient(sinkhorn(s2))
            loss = -0.5 * tf.reduce_mean(
                tf.reduce_sum(q1 * tf.nn.log_softmax(s2 / 0.1), axis=1)
                + tf.reduce_sum(q2 * tf.nn.log_softmax(s1 / 0.1), axis=1)
            )
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    train_step.model, train_step.optimizer = model, optimizer
    return run_loop(train_step, _pairs(view1, view2, size=256))


# ---------------------------------------------------------------------------------------------
# what a correct report says
# ---------------------------------------------------------------------------------------------
BLIND31_SCENARIOS: list[Scenario] = [
    Scenario(
        "vae_discretized_logistic_decoder_without_its_edge_cases",
        vae_discretized_logistic_decoder_without_its_edge_cases,
        "loss",
        frozenset({"Log"}),
        None,
        "unstable_loss",
        frozenset({"add_epsilon"}),
        story="a VAE whose discretized logistic likelihood is written log(sigmoid(upper) - "
        "sigmoid(lower)) without PixelCNN++'s edge cases, its log(max(cdf_delta, 1e-12)) floor "
        "and its log-scale clamp: once the scales shrink, both sigmoids round to 1.0 for a "
        "pixel far from its mean and log(0) = -inf "
        "(https://github.com/openai/pixel-cnn/blob/master/pixel_cnn_pp/nn.py, "
        "https://github.com/r9y9/wavenet_vocoder/issues/23, "
        "https://github.com/r9y9/wavenet_vocoder/issues/1, "
        "https://github.com/tensorflow/probability/issues/1051)",
        blind=True,
    ),
    Scenario(
        "vae_gaussian_decoder_learning_a_pixel_variance_on_blank_borders",
        vae_gaussian_decoder_learning_a_pixel_variance_on_blank_borders,
        "loss",
        frozenset({"Exp"}),
        None,
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="a VAE with a Gaussian decoder that learns a per-pixel log-variance, on images "
        "whose border is always black: the likelihood is unbounded there, the log-variance "
        "falls without a floor and exp(-log_var) overflows in the NLL "
        "(https://github.com/orybkin/sigma-vae-pytorch/issues/10, "
        "https://github.com/NVlabs/NVAE/issues/27, "
        "https://github.com/google-deepmind/neural-processes/issues/11, "
        "https://github.com/luigibonati/mlcolvar/pull/192, "
        "https://github.com/lucidrains/DALLE2-pytorch/issues/138)",
        blind=True,
    ),
    Scenario(
        "planar_flow_log_det_without_the_invertibility_constraint",
        planar_flow_log_det_without_the_invertibility_constraint,
        "activation",
        frozenset({"Log"}),
        None,
        "domain_error",
        frozenset(),
        story="planar flows written as log(1 + u.psi(z)) without the appendix's u_hat (w.u >= "
        "-1) and without the abs: where w.u < -1 the Jacobian is negative and its log is NaN "
        "inside the flow layer "
        "(https://github.com/ex4sperans/variational-inference-with-normalizing-flows/issues/2, "
        "https://github.com/abdulfatir/normalizing-flows/issues/1, "
        "https://github.com/LukasRinder/normalizing-flows/issues/2, "
        "https://github.com/pyro-ppl/pyro/pull/2192)",
        blind=True,
    ),
    Scenario(
        "invertible_dense_flow_log_det_through_the_determinant",
        invertible_dense_flow_log_det_through_the_determinant,
        "activation",
        frozenset({"Log"}),
        "linear_flow/invertible_dense",
        frozenset({"unstable_loss", "missing_epsilon"}),
        frozenset(),
        story="an invertible dense flow layer on 256 dimensions with log|det W| written "
        "log(abs(det(W))): the determinant of a well-conditioned Glorot W is ~e^-128, "
        "underflows float32 to 0 and its log is -inf; slogdet is the fix "
        "(https://github.com/chaiyujin/glow-pytorch/issues/7, "
        "https://github.com/pytorch/pytorch/issues/18448, "
        "https://github.com/pytorch/pytorch/issues/18450, "
        "https://github.com/google-deepmind/ferminet/issues/5)",
        blind=True,
    ),
    Scenario(
        "realnvp_dequantized_after_scaling_to_the_unit_interval",
        realnvp_dequantized_after_scaling_to_the_unit_interval,
        "activation",
        frozenset({"Log"}),
        "realnvp/logit_preprocess",
        "domain_error",
        frozenset(),
        story="uniform dequantization added after scaling pixels to [0, 1] (pixel / 255 + u / "
        "256) instead of (pixel + u) / 256: saturated pixels exceed 1 and RealNVP's logit "
        "preprocessing with a tiny alpha takes log(1 - p) of a negative number "
        "(https://github.com/MokkeMeguru/glow-realnvp-tutorial/issues/3, "
        "https://github.com/phlippe/uvadlc_notebooks/issues/57, "
        "https://github.com/rosinality/glow-pytorch/issues/17, "
        "https://github.com/chrischute/real-nvp/issues/1)",
        blind=True,
    ),
    Scenario(
        "gmmn_generator_trained_on_the_sqrt_of_an_unbiased_mmd",
        gmmn_generator_trained_on_the_sqrt_of_an_unbiased_mmd,
        "loss",
        frozenset({"Sqrt"}),
        None,
        "domain_error",
        frozenset(),
        story="a moment-matching generator trained on sqrt of the unbiased MMD^2 estimate, "
        "which goes negative once the generated batch matches the data: sqrt of a negative "
        "number is NaN in the loss (https://github.com/thuml/DAN/issues/3, "
        "https://github.com/pykale/pykale/issues/54, "
        "https://github.com/tolstikhin/wae/issues/13, "
        "https://github.com/thuml/Xlearn/issues/27)",
        blind=True,
    ),
    Scenario(
        "ddpm_scaled_linear_schedule_with_a_ten_step_chain",
        ddpm_scaled_linear_schedule_with_a_ten_step_chain,
        None,
        frozenset({"Sqrt"}),
        None,
        "domain_error",
        frozenset(),
        story="improved-diffusion's linear schedule (betas scaled by 1000 / T) with a chain of "
        "T = 10 steps: betas above 1, negative alphas and alpha_bar, and the forward noising's "
        "sqrt(alpha_bar) is NaN (https://github.com/lucidrains/imagen-pytorch/issues/161, "
        "https://github.com/openai/guided-diffusion/issues/137, "
        "https://github.com/huggingface/diffusers/pull/12341)",
        blind=True,
    ),
    Scenario(
        "score_network_divided_by_the_marginal_std_at_time_zero",
        score_network_divided_by_the_marginal_std_at_time_zero,
        "activation",
        frozenset({"RealDiv"}),
        "score_net/divide_by_std",
        "missing_epsilon",
        frozenset({"add_epsilon"}),
        story="a score-SDE tutorial port that divides the network output by the VE marginal "
        "std but draws t on DDPM's integer grid (t = 0 included) instead of U(1e-5, 1): "
        "std(0) = 0 and the score layer divides by 0 "
        "(https://yang-song.net/blog/2021/score/, "
        "https://github.com/ZhengYinan-AIR/Diffusion-Planner/issues/62, "
        "https://github.com/gcorso/DiffDock/pull/161)",
        blind=True,
    ),
    Scenario(
        "uniformity_loss_on_unnormalized_embeddings",
        uniformity_loss_on_unnormalized_embeddings,
        "loss",
        frozenset({"Log"}),
        None,
        "unstable_loss",
        frozenset({"add_normalization"}),
        story="Wang & Isola's alignment + uniformity loss on embeddings that were never "
        "L2-normalized: the uniformity term is unbounded off the sphere, the embeddings "
        "grow, every exp(-2 d^2) underflows and log(0) = -inf "
        "(https://github.com/princeton-nlp/SimCSE/issues/122, "
        "https://github.com/ssnl/align_uniform/issues/10, "
        "https://github.com/princeton-nlp/SimCSE/issues/41, "
        "https://github.com/KevinMusgrave/pytorch-metric-learning/issues/404)",
        blind=True,
    ),
    Scenario(
        "swav_sinkhorn_on_unnormalized_projections",
        swav_sinkhorn_on_unnormalized_projections,
        "loss",
        frozenset({"Exp"}),
        None,
        "unstable_loss",
        frozenset({"add_normalization"}),
        story="SwAV's Sinkhorn-Knopp exp(scores / 0.05) on projections that were not "
        "L2-normalized before the (normalized) prototypes: the scores leave [-1, 1] and the "
        "exp overflows, inf / inf = NaN in the codes "
        "(https://github.com/facebookresearch/swav/issues/67, "
        "https://github.com/vturrisi/solo-learn/pull/249, "
        "https://github.com/facebookresearch/dinov2/pull/583, "
        "https://github.com/ayulockin/SwAV-TF/issues/1)",
        blind=True,
    ),
]
