"""Whether the fixes a report marks verified train when applied as their snippets say, on any
scenario suite (the blind ones are not in the test suite): each verified fix applied to a fresh
run, trained unwatched over the scenario's batches cycled three times
(``fix_application.verified_fix_problems``, as ``test_verified_fixes_train.py`` does).

    python tests/check_verified_fixes.py --suite blind15
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import fix_application  # noqa: E402
from scenario_suite import all_scenarios, blind_suites, report_for  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    choices = ["all", "own", "patterns", "codefix", *blind_suites()]
    parser.add_argument("--suite", default="all", choices=choices)
    parser.add_argument("--only", nargs="*", default=None)
    args = parser.parse_args()
    verified = failed = 0
    for scenario in all_scenarios(args.suite):
        if args.only and scenario.name not in args.only:
            continue
        report = report_for(scenario)
        if report is None:
            print(f"{scenario.name}: no trip")
            continue
        count = sum(1 for fix in report.fixes if fix.verified)
        problems = fix_application.verified_fix_problems(scenario, report)
        verified, failed = verified + count, failed + len(problems)
        print(f"{scenario.name}: {count} verified, {len(problems)} did not train as typed")
        for problem in problems:
            print(f"    {problem}")
    print(
        f"{args.suite}: {verified} fixes marked verified; {verified - failed} trained when "
        f"applied as their snippets say, {failed} did not"
    )


if __name__ == "__main__":
    main()
