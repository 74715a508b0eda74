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


def test_a_normalization_given_statistics_is_restated_not_adapted_and_put_back():
    """A Normalization built with mean= / variance= holds constants and cannot adapt(): the
    verification gives it the data's mean and variance for the run and its own after."""
    from nantrace.compat.tf import has_given_statistics, is_input_normalization, restated

    layer = keras.layers.Normalization(mean=[350.0, 12.0], variance=[1600.0, 36.0])
    layer.build((None, 2))
    assert has_given_statistics(layer) and is_input_normalization(layer)
    data = np.array([[3.5e5, 10.0], [3.6e5, 14.0], [3.4e5, 12.0]], dtype="float32")
    with restated(layer, data):
        out = np.asarray(layer(data))
        assert np.allclose(out.mean(axis=0), 0.0, atol=1e-3) and np.abs(out).max() < 2.0
    assert np.abs(np.asarray(layer(data))).max() > 1e3  # its own statistics again
    assert not has_given_statistics(keras.layers.Normalization())
    assert not is_input_normalization(keras.layers.Normalization(invert=True))
