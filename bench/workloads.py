"""The benchmark's workloads: small models, Adam, fixed random batches (10 classes)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

N_BATCHES = 4
#: hidden layers of the ``deep`` workload: a short step with many variables, where any cost the
#: guard pays per variable shows
DEEP_LAYERS = 40
ALL_WORKLOADS = (
    "mlp",
    "cnn",
    "lstm",
    "attention",
    "deep",
    "mlp-xla",
    "cnn-xla",
    "fit",
    "mirrored",
)


@dataclass
class Workload:
    name: str
    description: str
    model: Any
    optimizer: Any
    loss_fn: Callable[[Any, Any], Any]
    batches: list[tuple[Any, Any]]
    batch_size: int
    jit_compile: bool = False
    #: ``mirrored``: the MirroredStrategy that runs ``fn`` on every replica (batches are split)
    strategy: Any = None

    def compile(self, fn: Callable[..., Any]) -> Any:
        """``fn`` as a tf.function with this workload's XLA setting (under a strategy:
        ``strategy.run(fn)`` with the mean loss, as a custom loop writes it)."""
        import tensorflow as tf

        if self.strategy is not None:
            strategy = self.strategy

            def distributed(x: Any, y: Any) -> Any:
                return strategy.reduce("mean", strategy.run(fn, args=(x, y)), axis=None)

            return tf.function(distributed, jit_compile=self.jit_compile)
        return tf.function(fn, jit_compile=self.jit_compile)

    @property
    def params(self) -> int:
        return int(sum(int(np.prod(v.shape)) for v in self.model.trainable_variables))


def build_workload(name: str, seed: int = 0) -> Workload:
    """A freshly built model + Adam + fixed random batches (classification, 10 classes).
    ``NAME-xla``: the same workload compiled with ``jit_compile=True``."""
    import keras
    import tensorflow as tf

    if name.endswith("-xla"):
        workload = build_workload(name[: -len("-xla")], seed)
        workload.name = name
        workload.description += ", XLA (jit_compile=True)"
        workload.jit_compile = True
        return workload
    learning_rate = 1e-3
    if name == "mirrored":  # the MLP on 2 logical CPUs; run it in its own process
        cpu = tf.config.list_physical_devices("CPU")[0]
        try:
            tf.config.set_logical_device_configuration(
                cpu, [tf.config.LogicalDeviceConfiguration()] * 2
            )
        except RuntimeError:  # devices already initialised by an earlier workload
            if len(tf.config.list_logical_devices("CPU")) < 2:
                raise SystemExit(
                    "the mirrored workload needs 2 logical CPUs set before TensorFlow starts: "
                    "run it alone (python -m bench.overhead --workloads mirrored)"
                ) from None
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        with strategy.scope():
            workload = build_workload("mlp", seed)
            workload.optimizer.build(workload.model.trainable_variables)
        dataset = tf.data.Dataset.from_tensor_slices(
            tuple(tf.concat(part, 0) for part in zip(*workload.batches, strict=True))
        ).batch(workload.batch_size)
        workload.batches = list(strategy.experimental_distribute_dataset(dataset))
        workload.name, workload.strategy = name, strategy
        workload.description += ", MirroredStrategy on 2 logical CPUs (batch split in 2)"
        return workload
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    layers = keras.layers
    if name == "mlp":
        batch, shape = 256, (784,)
        model = keras.Sequential(
            [
                keras.Input(shape),
                layers.Dense(512, activation="relu"),
                layers.Dense(512, activation="relu"),
                layers.Dense(10),
            ]
        )
        description = "MLP 784-512-512-10, batch 256, Adam"
    elif name == "cnn":
        batch, shape = 128, (28, 28, 1)
        model = keras.Sequential(
            [
                keras.Input(shape),
                layers.Conv2D(32, 3, activation="relu"),
                layers.MaxPooling2D(),
                layers.Conv2D(64, 3, activation="relu"),
                layers.MaxPooling2D(),
                layers.Flatten(),
                layers.Dense(128, activation="relu"),
                layers.Dense(10),
            ]
        )
        description = "CNN 28x28x1 Conv32-Pool-Conv64-Pool-Dense128-10, batch 128, Adam"
    elif name == "lstm":
        batch, shape = 64, (50, 32)
        model = keras.Sequential([keras.Input(shape), layers.LSTM(128), layers.Dense(10)])
        description = "LSTM(128) over 50 steps x 32 features, batch 64, Adam"
    elif name == "attention":
        batch, shape = 16, (32, 64)
        model = _attention_block(shape)
        description = (
            "attention block (MHA 4x16 + LayerNorm + FFN 128 + LayerNorm, mean-pool, Dense 10) "
            "over 32 tokens x 64, batch 16, Adam: a short step"
        )
    elif name == "deep":
        batch, shape = 32, (64,)
        model = keras.Sequential(
            [keras.Input(shape)]
            + [layers.Dense(64, activation="relu") for _ in range(DEEP_LAYERS)]
            + [layers.Dense(10)]
        )
        description = (
            f"deep MLP, {DEEP_LAYERS} x Dense 64 + Dense 10 ({2 * DEEP_LAYERS + 2} variables), "
            "batch 32, Adam 1e-5: many variables, a short step"
        )
        # at Adam's 1e-3 (and still at 1e-4, over the thousands of steps the interleaved
        # variants give one shared model) this plain 40-layer ReLU stack memorizing 4 batches
        # has gradient-norm spikes of ~100x and the early-warning detectors warn: a benchmark
        # must time healthy steps only
        learning_rate = 1e-5
    else:
        raise SystemExit(f"unknown workload {name!r}; choose from {', '.join(ALL_WORKLOADS)}")
    batches = []
    for _ in range(N_BATCHES):
        x = rng.standard_normal((batch, *shape)).astype("float32")
        y = rng.integers(0, 10, size=(batch,)).astype("int32")
        batches.append((tf.constant(x), tf.constant(y)))
    return Workload(
        name=name,
        description=description,
        model=model,
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss_fn=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        batches=batches,
        batch_size=batch,
    )


def _attention_block(shape: tuple[int, int]) -> Any:
    """One small transformer encoder block: a step of about a millisecond or two on CPU."""
    import keras

    layers = keras.layers
    inputs = keras.Input(shape)
    attended = layers.MultiHeadAttention(num_heads=4, key_dim=16)(inputs, inputs)
    x = layers.LayerNormalization()(inputs + attended)
    ffn = layers.Dense(shape[-1])(layers.Dense(128, activation="relu")(x))
    x = layers.LayerNormalization()(x + ffn)
    outputs = layers.Dense(10)(layers.GlobalAveragePooling1D()(x))
    return keras.Model(inputs, outputs)


def make_train_step(model: Any, optimizer: Any, loss_fn: Any) -> Callable[[Any, Any], Any]:
    """The custom-loop step users write (returned un-decorated)."""
    import tensorflow as tf

    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    return train_step
