"""nantrace: where the first NaN/Inf of a TensorFlow training run came from, why, what to change."""

from nantrace.errors import NantraceError, NonFiniteError, NonFiniteWarning
from nantrace.guard import Watched, watch
from nantrace.records import Cause, Fix, Health, Origin, Report, Trip

__version__ = "0.1.0"

__all__ = [
    "Cause",
    "Fix",
    "Health",
    "NantraceError",
    "NonFiniteError",
    "NonFiniteWarning",
    "Origin",
    "Report",
    "Trip",
    "Watched",
    "watch",
    "__version__",
]
