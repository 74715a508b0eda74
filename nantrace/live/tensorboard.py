"""The history nantrace already keeps, and its reports, as TensorBoard event files.

A watched step records its loss, global gradient norm and each checked variable's norm into
in-graph ring buffers (:mod:`nantrace.live.history`) at no host cost. :class:`TensorBoardWriter`
reads those buffers in chunks (one small device-to-host copy per chunk, never one per step)
and writes their rows as scalars:

* ``nantrace/loss``, ``nantrace/grad_norm``: one point per guarded step;
* ``nantrace/weight_norm/<variable>``: each checked variable's norm after the step;

and each report (a trip under ``on_nan="raise"`` or ``"stop"``, or a skipped step under
``"warn"``) as a Markdown text summary ``nantrace/report`` at the step it happened.

Written without the ``tensorboard`` package: ``tf.summary.scalar`` and ``tf.summary.text``
refuse to run without it in TF 2.21, but TensorFlow's own ``tf.summary.write`` with the
``scalars`` / ``text`` plugin names writes the same events, which TensorBoard reads. So
``log_dir=`` needs no extra install; only viewing them does (``pip install tensorboard``).

The history holds no update norms, so update/weight ratios are not written.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import tensorflow as tf

from nantrace.live.history import FIRST_WEIGHT

#: Flush at least this often (in steps): half the ring buffer, so no row is overwritten unread.
FLUSH_EVERY = 128


def _metadata(plugin: str) -> Any:
    metadata = tf.compat.v1.SummaryMetadata()
    metadata.plugin_data.plugin_name = plugin
    return metadata


def _tag(name: str) -> str:
    """A TensorBoard-friendly tag for a variable name (``dense/kernel:0`` -> ``dense/kernel``)."""
    name = name.split(":")[0]
    return re.sub(r"[^A-Za-z0-9_./-]", "_", name) or "variable"


class TensorBoardWriter:
    """Writes one watched step's history and reports under ``log_dir``.

    Call :meth:`flush` with the :class:`~nantrace.live.guard.Watched` between steps (every
    ``FLUSH_EVERY`` steps, at the end of training, after a trip); it writes the rows and reports
    added since the previous call.
    """

    def __init__(self, log_dir: str) -> None:
        self.log_dir = str(log_dir)
        self._writer = tf.summary.create_file_writer(self.log_dir)
        self._rows_written = 0
        self._reports_written = 0
        self._scalars = _metadata("scalars")
        self._text = _metadata("text")
        #: rows the ring buffer overwrote before they were read (flushes too rare).
        self.rows_lost = 0

    def flush(self, watched: Any) -> int:
        """Write the new history rows and reports of ``watched``; returns the rows written."""
        written = self._write_history(watched)
        self._write_reports(watched)
        self._writer.flush()
        return written

    def close(self) -> None:
        self._writer.close()

    def _write_history(self, watched: Any) -> int:
        history = getattr(watched, "history", None)
        state = history.state() if history is not None else None
        if state is None:
            return 0
        count, buffer = (np.asarray(part) for part in state[:2])
        total = int(count)
        capacity = int(buffer.shape[0])
        first = max(self._rows_written, total - capacity)
        self.rows_lost += first - self._rows_written
        # row i of the history is the guarded call with step index offset + i
        offset = int(watched.step) - total
        names = tuple(history.names)
        # a history row is loss, gradient norm, then one weight norm per name
        tags = ["nantrace/loss", "nantrace/grad_norm"]
        weight_columns = buffer.shape[1] - FIRST_WEIGHT
        tags += [f"nantrace/weight_norm/{_tag(name)}" for name in names[:weight_columns]]
        rows = [row % capacity for row in range(first, total)]
        if rows:
            values = buffer[rows][:, : len(tags)]
            with self._writer.as_default():
                self._write_rows(
                    tf.constant(tags),
                    tf.constant(np.arange(first, total, dtype=np.int64) + offset),
                    tf.constant(values.astype(np.float32)),
                )
        self._rows_written = total
        return total - first

    @tf.function(reduce_retracing=True)
    def _write_rows(self, tags: tf.Tensor, steps: tf.Tensor, values: tf.Tensor) -> None:
        """Every point of a chunk in one graph call. An eager ``tf.summary.write`` per point
        cost about 0.6 ms (5 ms per step for a 3-layer MLP's 10 tags); in one graph call it
        was 30-100 us per point on a shared 2-vCPU machine. NaN/Inf values are written as
        they are (TensorBoard marks them)."""
        metadata = self._scalars.SerializeToString()
        for row in tf.range(tf.shape(values)[0]):
            for column in tf.range(tf.shape(tags)[0]):
                tf.summary.write(
                    tags[column], values[row, column], step=steps[row], metadata=metadata
                )

    def _write_reports(self, watched: Any) -> None:
        reports = list(getattr(watched, "reports", ()))
        with self._writer.as_default():
            for report in reports[self._reports_written :]:
                tf.summary.write(
                    "nantrace/report",
                    tf.constant(report_markdown(report)),
                    step=int(report.trip.step),
                    metadata=self._text,
                )
        self._reports_written = len(reports)


def report_markdown(report: Any) -> str:
    """The report as TensorBoard's text plugin shows it: the headline, then the text report
    indented as a Markdown code block (the plugin renders Markdown)."""
    from nantrace.report.text import render_plain

    body = "\n".join("    " + line for line in render_plain(report).splitlines())
    return f"**{report.headline()}**\n\n{body}\n"
