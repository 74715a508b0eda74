"""A code fix that needs the same kind of edit at more than one op.

A hand-written loss often has several unguarded ops in a row: ``log(pred / actual)`` needs an
epsilon in the division *and* in the log, and SI-SDR's ``alpha = <e, s> / <s, s>`` guarded with
``divide_no_nan`` leaves ``log(0)`` two lines later. The replay of the first edit then trips
again, at another op. Rather than call the first edit useless, verification runs the tripping
step once more with that edit made and every op built at a user line flagged
(:func:`~nantrace.diagnosis.call_site_replay.simulating_each`), finds the first op whose output
is still non-finite, and tries the edit there as well -- as one fix whose snippet shows every
edited line, judged like any other (the lines as shown, typed in, must train).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from nantrace.diagnosis.call_site import CallSiteEdit, editable
from nantrace.diagnosis.call_site_replay import SiteFlags, simulating_each

#: How many ops one fix may edit (the first one included).
MAX_SITES = 3
#: Ops whose domain an epsilon (or a lower bound) guards: a second site is only tried there.
GUARDED_OPS = frozenset(
    {
        "Log",
        "Log1p",
        "Sqrt",
        "Rsqrt",
        "RealDiv",
        "Div",
        "Reciprocal",
        "Pow",
        "Xlogy",
        "EuclideanNorm",
    }
)
#: The edit kinds a second site may take (the first site's kind when it is one of these and
#: the op can take it: a second division of a ``divide_no_nan`` fix is a ``divide_no_nan``).
_SECOND_KINDS = ("epsilon", "clamp_min", "divide_no_nan")


def edits_of(params: dict[str, Any]) -> list[CallSiteEdit]:
    """Every edit a fix's params describe: the first (``edit``, ``where``, ...) and the ones
    in ``also``; empty when the params describe no edit."""
    first = CallSiteEdit.from_params(params)
    if first is None:
        return []
    more = [CallSiteEdit.from_params(p) for p in params.get("also") or () if isinstance(p, dict)]
    return [first, *(e for e in more if e is not None)]


def combined_snippet(edits: Sequence[CallSiteEdit]) -> str | None:
    """The user's lines with every edit made, one line of the snippet per edited statement
    (``<line>  # at file:line``), in the order of the file; None when one cannot be shown as
    the user's own line (two edits in one statement spread over several lines)."""
    if len(edits) == 1:
        return edits[0].snippet() if edits[0].rewrite_statement() is not None else None
    by_line: dict[tuple[str, int], list[CallSiteEdit]] = {}
    for edit in edits:
        by_line.setdefault((edit.file, edit.line), []).append(edit)
    spans = {}
    for key, group in by_line.items():
        span = group[0].statement_span()
        if span is None:
            return None
        spans[key] = span
    keys = sorted(by_line)
    for a, b in zip(keys, keys[1:], strict=False):
        if a[0] == b[0] and spans[b][0] <= spans[a][1]:
            return None  # two lines of one statement: not one line each
    lines = []
    for key in keys:
        group = by_line[key]
        place = f"{os.path.basename(key[0])}:{key[1]}"
        if len(group) == 1:
            if group[0].rewrite_statement() is None:
                return None
            lines.append(group[0].snippet())
            continue
        text: str | None = None
        for edit in group:  # several edits on one line: each made to the line the last left
            text = edit.rewrite_line(text)
            if text is None:
                return None
        lines.append(f"{text.strip()}  # at {place}")
    return "\n".join(lines)


def next_edit(edits: Sequence[CallSiteEdit], found: tuple[str, str] | None) -> CallSiteEdit | None:
    """The edit to add at ``found`` (``(file:line, op type)`` of the op where the replay of
    ``edits`` still goes non-finite), or None: the same op as one already edited, an op no
    epsilon guards, a line that cannot take it, or enough sites already."""
    if found is None or len(edits) >= MAX_SITES:
        return None
    where, op_type = found
    if op_type not in GUARDED_OPS:
        return None
    for edit in edits:
        if edit.where == where and op_type in _same_family(edit.op_type):
            return None  # the edited op itself: another value of that edit, not another site
    first = edits[0]
    kind = first.kind if first.kind in _SECOND_KINDS else "epsilon"
    if not editable(kind, op_type):
        kind = "epsilon"
    if not editable(kind, op_type):
        return None
    value = first.value if first.kind == kind and first.value is not None else 1e-7
    candidate = CallSiteEdit(kind, op_type, where, None if kind == "divide_no_nan" else value)
    if combined_snippet([*edits, candidate]) is None:
        return None
    return candidate


def _same_family(op_type: str) -> set[str]:
    return {"RealDiv", "Div"} if op_type in {"RealDiv", "Div"} else {op_type}


def locate_trip(
    edits: Sequence[CallSiteEdit],
    make_runner: Callable[[], Any],
    batches: Sequence[tuple[tuple, dict]],
) -> tuple[str, str] | None:
    """Run ``batches`` (the replay up to and including the step that tripped) on a fresh
    runner with ``edits`` made and every user-line op flagged; ``(file:line, op type)`` of the
    first non-finite one in the step that trips, or, where the forward pass stayed finite
    (the backward pass tripped), of the first square root at an exact 0; None when neither was
    seen. The caller restores the state before and after."""
    flags = SiteFlags()
    with simulating_each(list(edits), flags):
        runner = make_runner()
        for index, (args, kwargs) in enumerate(batches):
            flags.step = index
            _, tripped = runner.run_checked(*args, **kwargs)
            if tripped:
                return flags.first_bad(index) or flags.first_singular(index)
    return None
