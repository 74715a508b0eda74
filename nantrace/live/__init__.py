"""Watching training as it runs: the step decorator, its in-graph sentinel, the history
ring buffers, ``nantrace run`` for unmodified scripts, and TensorBoard events.

Public names are re-exported once, lazily, by ``nantrace/__init__.py``."""
