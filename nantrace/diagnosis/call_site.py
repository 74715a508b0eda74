"""Edits at the user's own call site: one description gives the snippet, the simulation and the
text edit of the line.

A fix such as "add 1e-7 inside the log at train.py:42" is a code change. To prove it by replay, the
verification re-traces the user's step with that one call changed the way the snippet says: while
the step is traced, every graph op is built through one TensorFlow helper whatever public API the
user called (``tf.math.log``, ``keras.ops.log``, ``x / y``), so the op of the named type created
from the named ``file:line`` gets its argument rewritten (``log(x + eps)``) before it is built, and
the traced graph is differentiated as written. Nothing is edited on disk; the hook is removed
afterwards (:mod:`nantrace.diagnosis.call_site_replay`). :meth:`CallSiteEdit.snippet` gives the same
edit as the user's own line rewritten (what they would type; the tests train a hand-edited copy).
"""

from __future__ import annotations

import ast
import io
import linecache
import os
import tokenize
from dataclasses import dataclass, replace
from typing import Any

#: How the argument of the op is changed.
#:   epsilon      arg + value                 (log(x + 1e-7), x / (y + 1e-7))
#:   clamp_min    tf.maximum(arg, value)
#:   clamp_max    tf.minimum(arg, value)      (exp(tf.minimum(x, 80)))
#:   clamp_range  tf.clip_by_value(arg, low, value)
#:   safe_where   tf.where(arg in the domain, arg, safe)   (the inner where of the double-where)
#:   log_softmax  log(softmax(z)) -> tf.nn.log_softmax(z)  (the loss computed from logits)
#:   divide_no_nan  x / y -> tf.math.divide_no_nan(x, y)
#:   finite_constant  a constant +-inf argument -> +-value   (tf.where(mask, s, -1e9))
#:   drop_log     log(log_probs) -> log_probs    (the values are log-probabilities already)
EDIT_KINDS = (
    "epsilon",
    "clamp_min",
    "clamp_max",
    "clamp_range",
    "safe_where",
    "log_softmax",
    "divide_no_nan",
    "finite_constant",
    "drop_log",
)

#: Op type -> (the keyword of the argument that is edited, the Python call a user writes).
OP_ARGUMENTS: dict[str, tuple[str, str]] = {
    "Log": ("x", "tf.math.log"),
    "Log1p": ("x", "tf.math.log1p"),
    "Sqrt": ("x", "tf.sqrt"),
    "Rsqrt": ("x", "tf.math.rsqrt"),
    "Exp": ("x", "tf.exp"),
    "Expm1": ("x", "tf.math.expm1"),
    "Cosh": ("x", "tf.cosh"),
    "Sinh": ("x", "tf.sinh"),
    "Softplus": ("features", "tf.nn.softplus"),
    "Pow": ("x", "tf.pow"),
    "RealDiv": ("y", "/"),
    "Div": ("y", "/"),
    "Reciprocal": ("x", "tf.math.reciprocal"),
    "Xlogy": ("y", "tf.math.xlogy"),
    "Xdivy": ("y", "tf.math.xdivy"),
    # atan2(y, x): its gradient divides by x**2 + y**2, 0 at (0, 0); an epsilon on x keeps it
    # off the origin (y is the first argument, x the second)
    "Atan2": ("x", "tf.math.atan2"),
    # the norm's gradient is x / |x|, 0/0 at a zero vector: the epsilon goes under the square
    # root, so the call is rewritten as tf.sqrt(tf.reduce_sum(tf.square(x), axis) + eps)
    "EuclideanNorm": ("input", "tf.math.reduce_euclidean_norm"),
    # a matrix that is not positive definite (singular, or so in float32): the epsilon is a
    # jitter on its diagonal, K + eps * I
    "Cholesky": ("input", "tf.linalg.cholesky"),
    "Acos": ("x", "tf.acos"),
    "Asin": ("x", "tf.asin"),
    "Atanh": ("x", "tf.atanh"),
    "Acosh": ("x", "tf.acosh"),
    "Lgamma": ("x", "tf.math.lgamma"),
    "Digamma": ("x", "tf.math.digamma"),
    "Softmax": ("logits", "tf.nn.softmax"),
    "LogSoftmax": ("logits", "tf.nn.log_softmax"),
}
#: Names a user may call for each op type (the last part of the called name), for the text edit.
_CALL_NAMES: dict[str, tuple[str, ...]] = {
    "Log": ("log",),
    "Log1p": ("log1p",),
    "Sqrt": ("sqrt", "norm", "reduce_std", "std"),
    "Rsqrt": ("rsqrt",),
    "Exp": ("exp",),
    "Expm1": ("expm1",),
    "Cosh": ("cosh",),
    "Sinh": ("sinh",),
    "Softplus": ("softplus",),
    "Pow": ("pow", "power"),
    "RealDiv": ("divide", "truediv", "true_divide", "realdiv", "div"),
    "Div": ("divide", "div"),
    "Reciprocal": ("reciprocal",),
    "Xlogy": ("xlogy",),
    "Xdivy": ("xdivy",),
    "Atan2": ("atan2", "arctan2"),
    "EuclideanNorm": ("reduce_euclidean_norm",),
    "Cholesky": ("cholesky",),
    "Acos": ("acos", "arccos"),
    "Asin": ("asin", "arcsin"),
    "Atanh": ("atanh", "arctanh"),
    "Acosh": ("acosh", "arccosh"),
    "Lgamma": ("lgamma",),
    "Digamma": ("digamma",),
    "Softmax": ("softmax",),
    "LogSoftmax": ("log_softmax",),
}
#: A standard deviation a user calls -> the variance it takes the square root of (in the same
#: namespace: ``tf.math.reduce_std`` -> ``tf.math.reduce_variance``, ``keras.ops.std`` ->
#: ``keras.ops.var``), for an epsilon under that square root.
_STD_TO_VARIANCE = {"reduce_std": "reduce_variance", "std": "var"}
#: The domain test and the safe value of ``safe_where`` per op type.
_DOMAINS: dict[str, tuple[str, float]] = {
    "Log": ("> 0", 1.0),
    "Sqrt": ("> 0", 1.0),
    "Rsqrt": ("> 0", 1.0),
    "Pow": ("> 0", 1.0),
    "Lgamma": ("> 0", 1.0),
    "Digamma": ("> 0", 1.0),
    "Xlogy": ("> 0", 1.0),
    "Log1p": ("> -1", 0.0),
    "RealDiv": ("!= 0", 1.0),
    "Div": ("!= 0", 1.0),
    "Reciprocal": ("!= 0", 1.0),
    "Xdivy": ("!= 0", 1.0),
    "Acos": ("in (-1, 1)", 0.0),
    "Asin": ("in (-1, 1)", 0.0),
    "Atanh": ("in (-1, 1)", 0.0),
    "Acosh": ("> 1", 2.0),
}


#: Values tried, in order, for each kind (the first that trains is kept): the smallest epsilon,
#: the loosest clamp. float16 cannot hold tiny epsilons or exp() of large arguments.
_EPSILONS = {"float16": (1e-4, 1e-3, 1e-2), "default": (1e-12, 1e-9, 1e-7, 1e-5, 1e-3)}
#: Jitters on a matrix's diagonal (``Cholesky``): relative to entries of order 1 (a kernel, a
#: correlation), below ~1e-6 float32 cannot tell them from nothing.
_JITTERS = {"float16": (1e-2, 1e-1), "default": (1e-6, 1e-5, 1e-4, 1e-3, 1e-2)}
#: The float spacing at 1.0 (machine epsilon) per dtype family.
_SPACING = {"float16": 2.0**-10, "default": 2.0**-23}
_CAPS = {"float16": (10.0, 8.0, 5.0), "default": (80.0, 50.0, 30.0, 20.0, 10.0)}
_MARGINS = {"float16": (1e-3, 1e-2), "default": (1e-7, 1e-6, 1e-4, 1e-2)}
#: Ops whose domain ends at a bound other than 0: the bound the margin is added to.
_LOWER_BOUNDS = {"Log1p": -1.0, "Acosh": 1.0}
#: The floor of a softmax's logits: finite, yet far below any real score, so a masked entry
#: still gets no weight and a fully masked row becomes uniform instead of 0/0 (float16 ends at
#: -65504).
_MASK_FLOORS = {"float16": (-3e4,), "default": (-1e9,)}
#: Normalizing ops over a row: a row of -inf only (fully masked) is outside their domain.
SOFTMAX_OPS = frozenset({"Softmax", "LogSoftmax"})
#: Ops that put a mask value written as a constant into the values (``tf.where(mask, s,
#: -inf)``, ``s + (1 - mask) * -inf``): where a ``finite_constant`` edit replaces it.
MASK_VALUE_OPS = frozenset({"Select", "SelectV2", "Mul", "AddV2", "Add", "Sub", "Fill"})
#: The largest finite float16 and float32 values.
FLOAT16_MAX = 65504.0
FLOAT32_MAX = 3.4028234663852886e38
#: How a user writes infinity (``float("-inf")``, ``np.inf``, ``math.inf``, ``-np.Inf``).
_INF_NAMES = frozenset({"inf", "Inf", "infty", "Infinity", "PINF"})
_NEG_INF_NAMES = frozenset({"NINF"})


#: A power or root of a step count (a schedule's t ** -0.5) is clamped at 1, the first count,
#: not at a searched epsilon (t = 1e-12 would make the rate 1e6 times the base).
COUNT_OPS = frozenset({"Pow", "Rsqrt"})
COUNT_FLOOR = 1.0


def editable(kind: str, op_type: str) -> bool:
    """Whether an edit of ``kind`` can be made (and simulated) on ``op_type``."""
    if kind in {"log_softmax", "drop_log"}:
        return op_type == "Log"
    if kind == "divide_no_nan":
        return op_type in {"RealDiv", "Div", "Reciprocal", "Mean"}
    if kind == "safe_where":
        return op_type in _DOMAINS or op_type == "Exp"
    if kind == "finite_constant":
        return op_type in MASK_VALUE_OPS
    if op_type in {"EuclideanNorm", "Cholesky"}:  # only an epsilon (a jitter) has a form
        return kind == "epsilon"
    return kind in EDIT_KINDS and op_type in OP_ARGUMENTS


def search_space(edit: CallSiteEdit, dtype: str | None) -> list[CallSiteEdit]:
    """The values to try for ``edit``, in the order tried (its own value when not searched)."""
    key = "float16" if dtype == "float16" else "default"
    if edit.kind == "epsilon" and edit.op_type == "Cholesky":
        return [edit.with_value(v) for v in _JITTERS[key]]
    if edit.kind == "epsilon":
        # an epsilon below half the float spacing of a number added in the same argument is
        # lost: rounded away, or folded into that number by TensorFlow's graph optimizer in a
        # tf.function ((1.0 - p) + 1e-12 runs as 1.0 - p, so log(1.0 - p + 1e-12) is log(0) at
        # p = 1) although the step run op by op keeps it
        floor = edit.added_constant() * _SPACING[key] / 2.0
        kept = [v for v in _EPSILONS[key] if v > floor * 1.01] or [_EPSILONS[key][-1]]
        return [edit.with_value(v) for v in kept]
    if edit.kind == "clamp_max":
        return [edit.with_value(v) for v in _CAPS[key]]
    if edit.kind == "clamp_range":
        return [replace(edit, value=1.0 - m, low=-1.0 + m) for m in _MARGINS[key]]
    if edit.kind == "clamp_min" and edit.op_type in SOFTMAX_OPS:
        return [edit.with_value(v) for v in _MASK_FLOORS[key]]
    if edit.kind == "finite_constant":
        sign = -1.0 if (edit.value or -1.0) < 0 else 1.0
        return [edit.with_value(sign * abs(v)) for v in _MASK_FLOORS[key]]
    if edit.kind == "clamp_min" and edit.op_type in COUNT_OPS and edit.value == COUNT_FLOOR:
        return [edit]  # a step count clamped at 1, not searched
    if edit.kind == "clamp_min" and edit.op_type not in {"RealDiv", "Div"}:
        bound = _LOWER_BOUNDS.get(edit.op_type)
        if bound is not None:
            return [edit.with_value(bound + m) for m in _MARGINS[key]]
        return [edit.with_value(v) for v in _EPSILONS[key]]
    return [edit]


@dataclass(frozen=True)
class CallSiteEdit:
    """One edit of one call: ``kind`` (EDIT_KINDS) applied to the ``op_type`` op that user code
    at ``where`` (``file:line``) builds; ``value`` is the epsilon / bound / cap (``low`` the
    lower bound of a ``clamp_range``; for ``safe_where`` the cap of an ``Exp``)."""

    kind: str
    op_type: str
    where: str
    value: float | None = None
    low: float | None = None

    # -- the one description, as fix params ------------------------------------------------
    def to_params(self) -> dict[str, Any]:
        return {
            "edit": self.kind,
            "op_type": self.op_type,
            "where": self.where,
            **({"value": self.value} if self.value is not None else {}),
            **({"low": self.low} if self.low is not None else {}),
        }

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> CallSiteEdit | None:
        kind, op, where = params.get("edit"), params.get("op_type"), params.get("where")
        if kind not in EDIT_KINDS or not op or not where:
            return None
        value, low = params.get("value"), params.get("low")
        return cls(
            kind,
            str(op),
            str(where),
            None if value is None else float(value),
            None if low is None else float(low),
        )

    def with_value(self, value: float) -> CallSiteEdit:
        return replace(self, value=value)

    @property
    def file(self) -> str:
        return self.where.rsplit(":", 1)[0]

    @property
    def line(self) -> int:
        return int(self.where.rsplit(":", 1)[1])

    # -- the snippet -----------------------------------------------------------------------
    def argument_text(self, arg: str) -> str:
        """The edited argument as a user writes it, for the argument written ``arg``."""
        v = _num(self.value)
        if self.kind == "epsilon" and self.op_type == "Cholesky":
            matrix = arg if arg.isidentifier() else f"({arg})"
            return f"{matrix} + {v} * tf.eye(tf.shape({matrix})[-1], dtype={matrix}.dtype)"
        if self.kind == "epsilon":
            return f"{arg} + {v}"
        if self.kind == "clamp_min":
            return f"tf.maximum({arg}, {v})"
        if self.kind == "clamp_max":
            return f"tf.minimum({arg}, {v})"
        if self.kind == "clamp_range":
            return f"tf.clip_by_value({arg}, {_num(self.low)}, {v})"
        if self.kind == "safe_where":
            test, safe = self.domain()
            if test.startswith("in"):
                condition = f"tf.abs({arg}) < 1.0"
            else:
                condition = f"{arg} {test}"
            return f"tf.where({condition}, {arg}, {_num(safe)})"
        return arg

    def generic_snippet(self) -> str:
        """The edit on a generic call (``tf.math.log(x + 1e-7)``)."""
        keyword, call = OP_ARGUMENTS.get(self.op_type, ("x", self.op_type))
        if self.kind == "log_softmax":
            return (
                "tf.nn.log_softmax(logits)  # instead of tf.math.log(tf.nn.softmax(logits)); "
                "Keras losses: from_logits=True"
            )
        if self.kind == "drop_log":
            return "log_probs  # instead of tf.math.log(log_probs): log-probabilities already"
        if self.kind == "divide_no_nan" and self.op_type == "Mean":
            return "tf.math.divide_no_nan(tf.reduce_sum(x), tf.cast(tf.size(x), x.dtype))"
        if self.kind == "divide_no_nan":
            return "tf.math.divide_no_nan(x, y)  # instead of x / y: 0 where y == 0"
        if self.kind == "finite_constant":
            value = _num(self.value if self.value is not None else -1e9)
            infinity = "-inf" if value.startswith("-") else "inf"
            if self.op_type in {"Select", "SelectV2"}:
                return f"tf.where(mask, scores, {value})  # a finite mask value, not {infinity}"
            return f"x * {value}  # {value} as the mask value, instead of {infinity}"
        if call == "/":
            return f"x / ({self.argument_text('y')})"
        if keyword == "y":
            return f"{call}(x, {self.argument_text('y')})"
        if self.op_type == "Pow":
            return f"tf.pow({self.argument_text('x')}, p)"
        if self.op_type == "Atan2":
            return f"{call}(y, {self.argument_text('x')})"
        if self.op_type == "EuclideanNorm":
            return f"tf.sqrt({self.argument_text('tf.reduce_sum(tf.square(x), axis)')})"
        return f"{call}({self.argument_text('x')})"

    def snippet(self) -> str:
        """What the user changes: their own line rewritten when it can be read, else the edit
        on a generic call; always with the place."""
        place = f"{os.path.basename(self.file)}:{self.line}"
        statement = self.rewrite_statement()
        if statement is not None:
            first, last, text = statement
            if first == last:
                return f"{text}  # at {place}"
            return f"{text}  # at {place} (replaces lines {first}-{last})"
        return f"{self.generic_snippet()}  # in the call at {place}"

    def rewrite_statement(self) -> tuple[int, int, str] | None:
        """``(first line, last line, rewritten text)`` of the statement holding the call: the
        line itself with its formatting when the statement fits on it; a statement spread over
        several lines is rewritten whole and given on one line (``ast.unparse``)."""
        single = self.rewrite_line()
        if single is not None:
            return self.line, self.line, single.strip()
        statement = self._statement()
        if statement is None or statement.lineno == statement.end_lineno:
            return None
        first, last = statement.lineno, statement.end_lineno or statement.lineno
        lines = linecache.getlines(self.file)[first - 1 : last]
        indent = len(lines[0]) - len(lines[0].lstrip())
        source = "".join(text[indent:] if text[:indent].isspace() else text for text in lines)
        result = self._edited_source(source, row=self.line - first + 1)
        if result is None:
            return None
        try:
            return first, last, ast.unparse(ast.parse(result))
        except SyntaxError:
            return None

    def _statement(self) -> ast.stmt | None:
        """The one simple (not compound) statement of the file that holds the edited line."""
        try:
            tree = ast.parse("".join(linecache.getlines(self.file)))
        except (SyntaxError, ValueError):
            return None
        simple = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.stmt)
            and not hasattr(node, "body")
            and node.lineno <= self.line <= (node.end_lineno or node.lineno)
        ]
        return simple[0] if len(simple) == 1 else None

    def _edited_source(self, source: str, row: int | None = None) -> str | None:
        """``source`` with every target call (on line ``row`` of it, when given) edited; None
        when there is none, one cannot be rewritten, or two nest."""
        try:
            tree = ast.parse(source)
        except SyntaxError:
            return None
        spans = []
        for node in ast.walk(tree):
            if row is not None and getattr(node, "lineno", None) != row:
                continue
            if self._is_target(node):
                new = self._rewritten_node(source, node)
                if new is None:
                    return None
                spans.append((*_offsets(source, node), new))
        if not spans:
            return None
        spans.sort()
        if self.kind == "finite_constant":  # -float("inf"): the outer literal, not both
            spans = [
                a for a in spans if not any(b != a and b[0] <= a[0] and a[1] <= b[1] for b in spans)
            ]
        if any(a[1] > b[0] for a, b in zip(spans, spans[1:], strict=False)):
            return None  # nested calls: which one the op came from is not known
        for start, end, new in reversed(spans):
            source = source[:start] + new + source[end:]
        return source

    def added_constant(self) -> float:
        """The largest |number| written as a term of an edited argument on the line (the 1.0
        of ``log(1.0 - p)``), 0.0 when there is none or the line cannot be read."""
        statement = self._statement()
        if statement is None:
            return 0.0
        largest = 0.0
        for node in ast.walk(statement):
            if getattr(node, "lineno", None) != self.line or not self._is_target(node):
                continue
            argument = self._edited_argument(node)
            if argument is not None:
                largest = max([largest, *(abs(v) for v in _added_numbers(argument))])
        return largest

    def _argument_position(self) -> int:
        """Which positional argument of the call the edit changes (the divisor of a division,
        x of atan2(y, x), else the first)."""
        keyword, _ = OP_ARGUMENTS.get(self.op_type, ("x", ""))
        return 1 if keyword == "y" or self.op_type in {"RealDiv", "Div", "Atan2"} else 0

    def _edited_argument(self, node: ast.AST) -> ast.AST | None:
        """The argument node an epsilon edit adds to (as ``_rewritten_node`` chooses it)."""
        if isinstance(node, ast.BinOp):
            return node.left if isinstance(node.op, ast.Pow) else node.right
        if not isinstance(node, ast.Call):
            return None
        position = self._argument_position()
        return node.args[position] if len(node.args) > position else None

    def statement_span(self) -> tuple[int, int] | None:
        """The lines of the statement holding the call, when every call of the op in that
        statement is on the edited line (autograph maps a converted frame to its statement, not
        to the line inside it; matching the statement then cannot edit another call)."""
        statement = self._statement()
        if statement is None:
            return None
        lines = {node.lineno for node in ast.walk(statement) if self._is_target(node)}
        if lines and lines != {self.line}:
            return None
        return statement.lineno, statement.end_lineno or statement.lineno

    def _dtype_limit(self) -> float:
        """The largest finite value of the dtype a ``finite_constant`` edit is for: float16's
        when its value is a float16 mask floor, else float32's. A number written beyond it is
        +-inf in that dtype, as if infinity had been written."""
        value = abs(self.value if self.value is not None else 1e9)
        return FLOAT16_MAX if value < FLOAT16_MAX else FLOAT32_MAX

    def domain(self) -> tuple[str, float]:
        test, safe = _DOMAINS.get(self.op_type, ("> 0", 1.0))
        if self.op_type in {"Exp", "Expm1", "Cosh", "Sinh", "Softplus"}:
            return f"< {_num(self.value if self.value is not None else 80.0)}", 0.0
        return test, safe

    # -- the text edit ---------------------------------------------------------------------
    def rewrite_line(self, text: str | None = None) -> str | None:
        """The source line at ``where`` with the edit made to every matching call on it (the
        simulation edits every such op built there); None when no call can be found on that
        line, or calls nest. ``text`` overrides the line read from the file."""
        line = text if text is not None else linecache.getline(self.file, self.line)
        if not line.strip():
            return None
        stripped = line.lstrip()
        indent = line[: len(line) - len(stripped)]
        body = _without_comment(stripped.rstrip("\n")).rstrip()
        result = self._edited_source(_as_statement(body))
        if result is None:
            return None
        if result.startswith("_ = (") and not body.startswith("_ = ("):
            result = result[len("_ = (") : -1] + ("," if body.endswith(",") else "")
        return indent + result + ("\n" if line.endswith("\n") else "")

    def _assigned_probability(self, name: str) -> tuple[ast.Call, str] | None:
        """``softmax(z)`` / ``sigmoid(z)`` last assigned to ``name`` before the edited line, in
        the function holding it (with the file's source, for its text)."""
        source = "".join(linecache.getlines(self.file))
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            return None
        functions = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.lineno <= self.line <= (node.end_lineno or node.lineno)
        ]
        if not functions:
            return None
        function = max(functions, key=lambda node: node.lineno)
        found = None
        for node in ast.walk(function):
            if (
                isinstance(node, ast.Assign)
                and node.lineno < self.line
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id == name
            ):
                value = node.value
                if isinstance(value, ast.Call) and _called_name(value) in {"softmax", "sigmoid"}:
                    if found is None or node.lineno > found[0]:
                        found = (node.lineno, value)
                elif found is None or node.lineno > found[0]:
                    found = (node.lineno, None)
        if found is None or found[1] is None:
            return None
        return found[1], source

    def _is_target(self, node: ast.AST) -> bool:
        if self.kind == "finite_constant":
            return _constant_sign(node, self._dtype_limit()) is not None
        if self.op_type == "Mean":
            return (
                isinstance(node, ast.Call)
                and _called_name(node) == "reduce_mean"
                and len(node.args) == 1
                and not node.keywords
            )
        if self.kind == "divide_no_nan" or self.op_type in {"RealDiv", "Div"}:
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
                return True
        if self.op_type == "Pow" and isinstance(node, ast.BinOp):
            return isinstance(node.op, ast.Pow)
        if self.kind == "drop_log":
            return (
                isinstance(node, ast.Call)
                and not _host_call(node)
                and _called_name(node) == "log"
                and len(node.args) == 1
                and not node.keywords
            )
        if self.kind == "log_softmax":
            if not (isinstance(node, ast.Call) and _called_name(node) == "log"):
                return False
            if len(node.args) != 1 or node.keywords:
                return False
            arg = node.args[0]
            if isinstance(arg, ast.Name):
                return self._assigned_probability(arg.id) is not None
            return isinstance(arg, ast.Call) and _called_name(arg) in {"softmax", "sigmoid"}
        if isinstance(node, ast.Call):
            if _host_call(node):  # np.log(10.0) builds no graph op: the simulation leaves it
                return False
            return _called_name(node) in _CALL_NAMES.get(self.op_type, ())
        return False

    def _rewritten_node(self, source: str, node: ast.AST) -> str | None:
        segment = lambda n: ast.get_source_segment(source, n)  # noqa: E731
        if self.kind == "finite_constant":
            sign = _constant_sign(node, self._dtype_limit()) or 1.0
            return _num(sign * abs(self.value if self.value is not None else 1e9))
        if self.kind == "drop_log":
            argument = node.args[0]  # type: ignore[attr-defined]
            return _operand(str(segment(argument)), argument)
        if self.kind == "log_softmax":
            inner, inner_source = node.args[0], source  # type: ignore[attr-defined]
            if isinstance(inner, ast.Name):  # probs = softmax(z) on an earlier line
                found = self._assigned_probability(inner.id)
                if found is None:
                    return None
                inner, inner_source = found
            if not inner.args:
                return None
            part = lambda n: ast.get_source_segment(inner_source, n)  # noqa: E731
            rest = [part(a) for a in inner.args] + [
                f"{k.arg}={part(k.value)}" for k in inner.keywords
            ]
            return f"{_log_form(inner, part)}({', '.join(str(r) for r in rest)})"
        if isinstance(node, ast.BinOp):
            left, right = str(segment(node.left)), str(segment(node.right))
            if self.kind == "divide_no_nan":
                return f"tf.math.divide_no_nan({left}, {right})"
            # a source segment leaves out the parentheses around an operand: put them back
            if isinstance(node.op, ast.Pow):
                return f"({self.argument_text(left)}) ** {_operand(right, node.right)}"
            return f"{_operand(left, node.left)} / ({self.argument_text(right)})"
        assert isinstance(node, ast.Call)
        if self.op_type == "Mean":
            arg = segment(node.args[0])
            return (
                f"tf.math.divide_no_nan(tf.reduce_sum({arg}), tf.cast(tf.size({arg}), tf.float32))"
            )
        if self.kind == "divide_no_nan":
            if len(node.args) < 2:
                return None
            return f"tf.math.divide_no_nan({segment(node.args[0])}, {segment(node.args[1])})"
        position = self._argument_position()
        if self.op_type == "EuclideanNorm":
            # reduce_euclidean_norm(x, axis, keepdims)
            return self._root_of_sum_of_squares(node, segment, ("axis", "keepdims"))
        if _called_name(node) in _STD_TO_VARIANCE and self.op_type == "Sqrt":
            return self._standard_deviation(node, segment)
        if _called_name(node) == "norm" and self.op_type == "Sqrt":
            # tf.norm(x, ord, axis, ...): a positional ord is not the Euclidean norm's sqrt
            return self._root_of_sum_of_squares(node, segment, ())
        if len(node.args) <= position:
            return None
        args = [str(segment(a)) for a in node.args]
        args[position] = self.argument_text(args[position])
        parts = args + [f"{k.arg}={segment(k.value)}" for k in node.keywords]
        return f"{segment(node.func)}({', '.join(parts)})"

    def _standard_deviation(self, node: ast.Call, segment: Any) -> str | None:
        """``tf.math.reduce_std(x, ...)`` / ``keras.ops.std(x, ...)`` (a square root of the
        variance, built at the user's line) as ``<ns>.sqrt(<ns>.reduce_variance(x, ...) +
        eps)`` / ``<ns>.sqrt(<ns>.var(x, ...) + eps)``: the same standard deviation with the
        epsilon under its square root, in the namespace the user called (None for a bare name
        or a ``name=``)."""
        func = node.func
        if not isinstance(func, ast.Attribute) or not node.args:
            return None
        if any(k.arg == "name" for k in node.keywords) or len(node.args) > 3:
            return None
        base = str(segment(func.value))
        variance = f"{base}.{_STD_TO_VARIANCE[func.attr]}"
        parts = [str(segment(a)) for a in node.args]
        parts += [f"{k.arg}={segment(k.value)}" for k in node.keywords]
        sqrt = "tf.sqrt" if base in {"tf.math", "tf"} else f"{base}.sqrt"
        called = f"{variance}({', '.join(parts)})"
        return f"{sqrt}({self.argument_text(called)})"

    def _root_of_sum_of_squares(
        self, node: ast.Call, segment: Any, positional: tuple[str, ...]
    ) -> str | None:
        """A Euclidean norm call (``tf.norm``, ``tf.math.reduce_euclidean_norm``) as
        ``tf.sqrt(tf.reduce_sum(tf.square(x), axis=..., keepdims=...) + eps)``: the same norm
        with the epsilon under its square root. ``positional``: the names of the arguments
        after ``x`` that may be given by position; None for any other argument (``ord=``,
        ``name=``)."""
        names = ("axis", "keepdims")
        if not node.args or len(node.args) > 1 + len(positional):
            return None
        if any(k.arg not in names for k in node.keywords):
            return None
        extra = [f"{n}={segment(a)}" for n, a in zip(positional, node.args[1:], strict=False)]
        extra += [f"{k.arg}={segment(k.value)}" for k in node.keywords]
        summed = (
            f"tf.reduce_sum(tf.square({segment(node.args[0])}){''.join(', ' + e for e in extra)})"
        )
        return f"tf.sqrt({self.argument_text(summed)})"


def _num(value: float | None) -> str:
    """A number as a user writes it: ``1e-7``, ``80.0``, ``-0.999999``."""
    if value is None:
        return "0.0"
    if abs(value) >= 1e4 and float(f"{value:.0e}") == value:  # -1e9, not -1000000000.0
        return f"{value:.0e}".replace("e+0", "e").replace("e+", "e")
    text = repr(float(value)).replace("e-0", "e-").replace("e+0", "e+")
    return text


def _operand(text: str, node: ast.AST) -> str:
    """``text`` as an operand of a binary operator: parenthesized unless it is an atom."""
    atoms = (ast.Name, ast.Attribute, ast.Call, ast.Subscript, ast.Constant)
    return text if isinstance(node, atoms) else f"({text})"


def _log_form(call: ast.Call, segment: Any) -> str:
    """``log_softmax`` / ``log_sigmoid`` from the same namespace as the softmax / sigmoid call
    (``ops.softmax`` -> ``ops.log_softmax``; TensorFlow's log-sigmoid is ``tf.math``'s)."""
    name = "log_softmax" if _called_name(call) == "softmax" else "log_sigmoid"
    func = call.func
    if isinstance(func, ast.Attribute):
        base = str(segment(func.value))
        if name == "log_sigmoid" and base in {"tf", "tf.nn", "tf.math", "tf.keras.activations"}:
            return "tf.math.log_sigmoid"
        if name == "log_softmax" and base in {"tf", "tf.math"}:
            return "tf.nn.log_softmax"
        return f"{base}.{name}"
    return "tf.nn.log_softmax" if name == "log_softmax" else "tf.math.log_sigmoid"


def _constant_sign(node: ast.AST, limit: float) -> float | None:
    """+1.0 / -1.0 when ``node`` is a constant that is +-inf in a dtype whose largest value
    is ``limit``: infinity written out, or a number beyond ``limit`` (``-1e9`` in float16)."""
    sign = _infinity_sign(node)
    if sign is not None:
        return sign
    value = _number(node)
    if value is not None and abs(value) > limit:
        return -1.0 if value < 0 else 1.0
    return None


def _added_numbers(node: ast.AST) -> list[float]:
    """The number literals that are terms of a sum or difference (``1.0 - p + 2``: 1.0, 2.0)."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub):
        return _added_numbers(node.left) + _added_numbers(node.right)
    value = _number(node)
    return [] if value is None else [value]


def _number(node: ast.AST) -> float | None:
    """The value of a number literal, signed (``-1e9``), else None."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = _number(node.operand)
        if inner is None:
            return None
        return -inner if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return float(node.value)
    return None


def _parsed_line(where: str) -> tuple[str, ast.AST] | None:
    """The code of the line at ``where`` (``file:line``) without its comment, and its syntax
    tree; None when the line cannot be read or parsed on its own."""
    file, _, line = where.rpartition(":")
    text = linecache.getline(file, int(line)) if line.isdigit() else ""
    body = _without_comment(text.strip())
    if not body:
        return None
    try:
        return body, ast.parse(_as_statement(body))
    except SyntaxError:
        return None


def overflowing_literals(where: str, limit: float) -> list[str]:
    """The number literals written at ``where`` (``file:line``) beyond +-``limit``, as
    written (``-1e9``): constants a dtype whose largest value is ``limit`` turns into +-inf."""
    parsed = _parsed_line(where)
    if parsed is None:
        return []
    body, tree = parsed
    found = []
    for node in ast.walk(tree):
        value = _number(node)
        if value is not None and abs(value) > limit and _infinity_sign(node) is None:
            segment = ast.get_source_segment(_as_statement(body), node)
            if segment and not any(segment in f for f in found):
                found.append(segment)
    return found


def writes_infinity(where: str) -> bool | None:
    """Whether the line at ``where`` (``file:line``) writes an infinity (``float("inf")``,
    ``np.inf``, ``math.inf``) or a number beyond float32's range; None when the line cannot be
    read. A constant +-inf an op reads from no op of the step came from such a literal (a mask
    value) or was computed before the step (a weight of n / 0)."""
    parsed = _parsed_line(where)
    if parsed is None:
        return None
    for node in ast.walk(parsed[1]):
        if _infinity_sign(node) is not None:
            return True
        value = _number(node)
        if value is not None and abs(value) > 3.4e38:
            return True
    return False


def _infinity_sign(node: ast.AST) -> float | None:
    """+1.0 / -1.0 when ``node`` is infinity as a user writes it (``float("-inf")``,
    ``-np.inf``, ``math.inf``), else None."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = _infinity_sign(node.operand)
        if inner is None:
            return None
        return -inner if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.Attribute):
        if node.attr in _INF_NAMES:
            return 1.0
        return -1.0 if node.attr in _NEG_INF_NAMES else None
    if (
        isinstance(node, ast.Call)
        and _called_name(node) == "float"
        and len(node.args) == 1
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ):
        text = node.args[0].value.strip().lower()
        if text.lstrip("+-") in {"inf", "infinity"}:
            return -1.0 if text.startswith("-") else 1.0
    return None


def _called_name(node: ast.Call) -> str | None:
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return None


#: Modules whose functions compute on the host (no graph op to edit): ``np.log(10.0)``.
_HOST_MODULES = frozenset({"np", "numpy", "math", "scipy", "special"})


def _host_call(node: ast.Call) -> bool:
    """A call of a NumPy / math function (``np.log``, ``numpy.sqrt``, ``math.log``)."""
    func = node.func
    while isinstance(func, ast.Attribute):
        func = func.value
        if isinstance(func, ast.Name):
            return func.id in _HOST_MODULES
    return False


def _as_statement(body: str) -> str:
    """A line that is a fragment (``return log(p)``, ``loss = ...``) parses as it is; an
    expression continued from other lines is wrapped so it parses."""
    try:
        ast.parse(body)
        return body
    except SyntaxError:
        return f"_ = ({body.rstrip(',')})"


def _without_comment(rest: str) -> str:
    """The text after the edited call, less a trailing ``# comment``."""
    try:
        for token in tokenize.generate_tokens(io.StringIO(rest).readline):
            if token.type == tokenize.COMMENT:
                return rest[: token.start[1]].rstrip()
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return rest


def _offsets(source: str, node: ast.AST) -> tuple[int, int]:
    lines = source.splitlines(keepends=True)
    starts = [0]
    for text in lines:
        starts.append(starts[-1] + len(text))
    start = starts[node.lineno - 1] + node.col_offset  # type: ignore[attr-defined]
    end = starts[node.end_lineno - 1] + node.end_col_offset  # type: ignore[attr-defined]
    return start, end
