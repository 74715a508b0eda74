"""Print the scenario-suite figures: origin kind / op / layer / cause right, acceptable fix
first and in the top 3, top fix verified, false alarms. Run: python tests/score_scenarios.py"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from scenario_cases import SCENARIOS  # noqa: E402
from test_healthy import HEALTHY  # noqa: E402


def main() -> int:
    rows = []
    for scenario in SCENARIOS:
        started = time.perf_counter()
        report = scenario.build()
        seconds = time.perf_counter() - started
        if report is None:
            rows.append((scenario.name, False, False, False, False, False, False, None, seconds))
            continue
        o = report.origin
        ids = [f.id for f in report.fixes]
        rows.append(
            (
                scenario.name,
                o.kind == scenario.kind,
                not scenario.op_types or o.op_type in scenario.op_types,
                scenario.layer is None or o.layer == scenario.layer,
                scenario.cause is None
                or (report.cause is not None and report.cause.id == scenario.cause),
                bool(ids) and ids[0] in scenario.fixes,
                bool(set(ids[:3]) & scenario.fixes),
                report.fixes[0].verified if report.fixes else None,
                seconds,
            )
        )
    n = len(rows)
    print(f"{'scenario':46} kind op layer cause fix1 fix3 verified  s")
    for name, *flags, verified, seconds in rows:
        marks = " ".join(" ok " if f else " NO " for f in flags)
        print(f"{name:46} {marks} {str(verified):8} {seconds:4.1f}")

    def pct(i):
        return 100.0 * sum(1 for r in rows if r[i]) / n

    checkable = [r for r in rows if r[7] is not None]
    print(
        f"\n{n} scenarios: kind {pct(1):.0f}%  op {pct(2):.0f}%  layer {pct(3):.0f}%  "
        f"cause {pct(4):.0f}%  fix first {pct(5):.0f}%  fix in top 3 {pct(6):.0f}%"
    )
    if checkable:
        ok = sum(1 for r in checkable if r[7])
        print(
            f"top fix verified: {ok}/{len(checkable)} where checkable "
            f"({len(checkable)} of {n} have a simulatable top fix)"
        )
    alarms = sum(1 for run in HEALTHY if run() is not None)
    print(f"healthy runs: {len(HEALTHY)}, false alarms: {alarms}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
