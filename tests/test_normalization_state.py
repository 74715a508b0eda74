"""A Normalization layer adapted on a sample where a column never varies divides that column
by its epsilon; nantrace names the columns and can adapt the layer again for a replay, then
leaves the layer as it was."""

from __future__ import annotations

import keras
import numpy as np

from nantrace.compat.tf import readapted, zero_variance_columns


def test_zero_variance_columns_and_a_readapt_that_is_undone():
    sample = np.array([[1.0, 0.0, 5.0], [3.0, 0.0, 7.0]], dtype="float32")
    layer = keras.layers.Normalization()
    layer.adapt(sample)
    assert zero_variance_columns(layer) == (1,)
    assert float(np.max(np.abs(layer(np.array([[2.0, 1.0, 6.0]], "float32"))))) > 1e6
    everything = np.array([[1.0, 0.0, 5.0], [3.0, 1.0, 7.0]], dtype="float32")
    with readapted(layer, everything):
        assert zero_variance_columns(layer) == ()
        assert float(np.max(np.abs(layer(np.array([[2.0, 1.0, 6.0]], "float32"))))) < 10
    assert zero_variance_columns(layer) == (1,)  # the user's layer, as it was
    inverted = keras.layers.Normalization(invert=True)
    inverted.adapt(sample)
    assert zero_variance_columns(inverted) == ()
    assert zero_variance_columns(keras.layers.Dense(2)) == ()
