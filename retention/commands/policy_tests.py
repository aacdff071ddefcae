"""`retention test [PATH...]`: run the PolicyTest documents offline, like a test runner.

Each test's example records are judged by the planner's own selection at the test's `at`,
under every reading of Pinecone's undocumented filter corners (`planning.explain`); an
expectation that holds under one reading and fails under another fails, naming the reading.
No credentials, no network.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Literal

from retention.commands.common import DEFAULT_POLICY_PATH, plural
from retention.commands.explain import id_files
from retention.commands.validate import github_annotation
from retention.errors import PolicyError, RetentionError
from retention.planning.explain import check_test
from retention.policy import load_policies

Format = Literal["text", "github"]


def run_tests(paths: Sequence[str], *, output: Format = "text", allow_none: bool = False) -> int:
    """0 when every expectation of every test holds; 1 otherwise, or when there are none
    unless `allow_none` (a CI step for repositories that may or may not have tests)."""
    where = list(paths) or [DEFAULT_POLICY_PATH]
    policies = load_policies(where)
    if not policies.tests:
        if allow_none:
            print(f"no PolicyTest documents under {' '.join(where)}: nothing to test")
            return 0
        raise RetentionError(f"no PolicyTest documents under {' '.join(where)}")
    wanted = {e.record.id for t in policies.tests for e in t.expectations}
    ids_of = id_files(wanted)
    failed = 0
    for test in policies.tests:
        failures = check_test(policies, test, ids_of=ids_of)
        n = len(test.expectations)
        if not failures:
            print(f"PASS {test.name} ({plural(n, 'expectation')})")
            continue
        failed += 1
        print(f"FAIL {test.name} ({len(failures)} of {plural(n, 'expectation')} failed)")
        for f in failures:
            error = PolicyError(f.expectation.location, f"{test.name}: {f.message}")
            print(
                github_annotation(error, "retention test") if output == "github" else f"  {error}"
            )
    passed = len(policies.tests) - failed
    print(
        f"{passed} passed, {failed} failed", file=sys.stderr if output == "github" else sys.stdout
    )
    return 1 if failed else 0
