"""From a replayed step to a report: where the first non-finite value came from (origin),
why (evidence, causes), what to change (fixes, call-site edits simulated while the step
is traced) and whether that change lets training go on (verify). ``pipeline`` runs them
in order. Verification re-runs a step through the small StepRunner interface, so this
package does not import ``nantrace.live``."""
