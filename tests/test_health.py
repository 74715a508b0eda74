"""Tensor health is computed in few passes for speed; it must equal the plain definition."""

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from nantrace.replay.health import health_of, health_of_array


def _reference(array: np.ndarray) -> dict:
    flat = array.reshape(-1).astype(np.float64)
    finite = flat[np.isfinite(flat)]
    nonzero = np.abs(finite[finite != 0])
    return {
        "nan": int(np.isnan(flat).sum()),
        "pos_inf": int((flat == np.inf).sum()),
        "neg_inf": int((flat == -np.inf).sum()),
        "max_abs": float(np.abs(finite).max()) if finite.size else 0.0,
        "size": flat.size,
        "zeros": int((finite == 0).sum()),
        "min_abs_nonzero": float(nonzero.min()) if nonzero.size else None,
        "min_value": float(finite.min()) if finite.size else None,
        "max_value": float(finite.max()) if finite.size else None,
    }


@settings(max_examples=200, deadline=None)
@given(
    hnp.arrays(
        dtype=st.sampled_from([np.float16, np.float32, np.float64]),
        shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6),
        elements={"allow_nan": True, "allow_infinity": True},
    )
)
def test_health_matches_the_plain_definition(array):
    health = health_of_array(array)
    expected = _reference(array)
    for name, value in expected.items():
        got = getattr(health, name)
        if isinstance(value, float):
            assert got == pytest.approx(value, rel=1e-6), name
        else:
            assert got == value, name
    assert health.shape == array.shape


@settings(max_examples=200, deadline=None)
@given(
    hnp.arrays(
        dtype=st.sampled_from([np.float16, np.float32, np.float64]),
        shape=st.integers(min_value=1, max_value=40),
        elements={"allow_nan": True, "allow_infinity": True, "allow_subnormal": True},
    ),
    st.integers(min_value=1, max_value=9),
)
def test_block_by_block_totals_match_the_plain_definition(array, chunk):
    """Large tensors are read in blocks: totals over several blocks (NaN-led, Inf-only,
    all-zero, one-sign and mixed ones) must equal the whole-array definition."""
    health = health_of_array(array, chunk=chunk)
    for name, value in _reference(array).items():
        got = getattr(health, name)
        if isinstance(value, float):
            assert got == pytest.approx(value, rel=1e-6), name
        else:
            assert got == value, name


def test_blocks_that_start_with_nan_but_hold_finite_values():
    array = np.array([np.nan, -3.0, 0.0, np.inf, 2e-3, np.nan, np.nan, -np.inf], np.float32)
    health = health_of_array(array, chunk=3)
    assert (health.nan, health.pos_inf, health.neg_inf, health.zeros) == (3, 1, 1, 1)
    assert health.min_value == -3.0 and health.max_value == pytest.approx(2e-3)
    assert health.min_abs_nonzero == pytest.approx(2e-3)


def test_an_eager_tensor_is_read_once_while_a_variable_is_read_each_time():
    tensor = tf.constant([1.0, -2.0, 0.0])
    assert health_of(tensor) is health_of(tensor)
    variable = tf.Variable([1.0, 2.0])
    before = health_of(variable)
    variable.assign([1.0, float("nan")])
    assert before.nan == 0 and health_of(variable).nan == 1
