"""``nantrace scan`` / ``nantrace diff``: what saved checkpoints say about a run, with no
live step to replay; causes and fixes come from ``nantrace.diagnosis``."""
