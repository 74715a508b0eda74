"""Read HDF5 weights (a ``.weights.h5``, or the ``model.weights.h5`` inside a ``.keras``) with
h5py, for :func:`nantrace.checkpoint.load`.

Only numeric datasets are read, and each one's declared size is checked against the file (and
the decompression limits in ``checkpoint``) before its array is allocated; the objects found are
named by ``checkpoint_layout``.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from nantrace.errors import NantraceError
from nantrace.postmortem.checkpoint import MAX_EXPANSION, MAX_UNCOMPRESSED, Checkpoint, first_line
from nantrace.postmortem.layout import keras_checkpoint


def read_weights_h5(path: str, *, shown: str) -> Checkpoint:
    """The variables of a ``.weights.h5`` (or other HDF5) file; ``shown`` is the path as given."""
    size = os.path.getsize(path)
    objects = read_h5_objects(path, shown, size)
    return keras_checkpoint(shown, "weights_h5", objects, {}, [], None, [])


def _h5py() -> Any:
    try:
        import h5py
    except ImportError as error:
        raise NantraceError(
            f"reading HDF5 weights needs h5py ({first_line(error)}); install it with "
            "pip install h5py"
        ) from None
    return h5py


def read_h5_objects(
    source: Any, shown: str, file_size: int, member: str | None = None
) -> dict[str, dict[str, np.ndarray]]:
    """Object path → {variable index or name: array} for every float/int dataset in the file.

    Keras 3 layout: ``<object path>/vars/<i>`` (the object path is ``layers/dense``,
    ``optimizer``, ...; the ``vars`` group's ``name`` attribute is the layer's name, kept under
    the ``"@name"`` key). Other HDF5 layouts (Keras 2 ``model_weights/...``): each dataset is
    one variable under its parent group's path.
    """
    h5py = _h5py()
    where = f"{shown!r}" + (f" ({member})" if member else "")
    try:
        handle = h5py.File(source, "r")
    except Exception as error:
        raise NantraceError(
            f"{where} is not a readable HDF5 file ({first_line(error)}): it is truncated or "
            "corrupted; save the weights again or restore them from a backup"
        ) from None
    objects: dict[str, dict[str, Any]] = {}
    datasets: list[tuple[str, Any]] = []
    try:
        with handle:

            def collect(name: str, item: Any) -> None:
                if isinstance(item, h5py.Dataset):
                    datasets.append((name, item))
                elif isinstance(item, h5py.Group) and name.split("/")[-1] == "vars":
                    owner = name[: -len("vars")].rstrip("/")
                    label = item.attrs.get("name")
                    if isinstance(label, bytes):
                        label = label.decode("utf-8", "replace")
                    objects.setdefault(owner, {})["@name"] = (
                        str(label) if label is not None else None
                    )

            handle.visititems(collect)
            for name, dataset in datasets:
                array = _read_dataset(dataset, name, where, file_size)
                if array is None:
                    continue
                parent, _, leaf = name.rpartition("/")
                if parent.split("/")[-1] == "vars":
                    owner = parent[: -len("vars")].rstrip("/")
                else:
                    owner, leaf = parent, leaf.split(":")[0]
                objects.setdefault(owner, {})[leaf] = array
    except NantraceError:
        raise
    except Exception as error:
        raise NantraceError(
            f"{where} is truncated or corrupted ({first_line(error)}); save the weights again "
            "or restore them from a backup"
        ) from None
    return objects


def _read_dataset(dataset: Any, name: str, where: str, file_size: int) -> np.ndarray | None:
    dtype = dataset.dtype
    if dtype.kind not in "fiub" or dtype.fields is not None:
        return None
    declared = int(np.prod(dataset.shape, dtype=np.float64) * dtype.itemsize)
    stored = dataset.id.get_storage_size()
    compressed = dataset.compression is not None
    if declared and (
        (not compressed and dataset.chunks is None and declared > file_size)
        or stored > file_size
        or declared > MAX_UNCOMPRESSED
        or (compressed and declared > (1 << 26) and declared > MAX_EXPANSION * max(stored, 1))
    ):
        raise NantraceError(
            f"{where} is corrupted: dataset {name!r} declares {declared} bytes but the file holds "
            f"{file_size}; restore it from a backup or save the weights again"
        )
    if declared and not compressed and dataset.chunks is None and stored != declared:
        raise NantraceError(
            f"{where} is truncated or corrupted: dataset {name!r} stores {stored} of its "
            f"{declared} bytes; restore it from a backup or save the weights again"
        )
    try:
        return np.asarray(dataset[()])
    except Exception as error:
        raise NantraceError(
            f"{where} is truncated or corrupted: dataset {name!r} cannot be read "
            f"({first_line(error)}); restore it from a backup or save the weights again"
        ) from None
