"""Re-running the tripped step eagerly: the hooks that find the step, per-op capture and
the numeric health of what each op made, the failing path and the provenance graph."""
