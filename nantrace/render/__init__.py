"""Renderers of a :class:`nantrace.records.Report` (text now; HTML/GraphML later)."""
