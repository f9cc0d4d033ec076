"""How much the fuzz tests (tests/e2e/test_fuzz.py) try, and with which seed.

`make test` runs each fuzz test with its own small, fixed budget; `make fuzz` runs the same tests with
`LAMBDASHARE_FUZZ_EXAMPLES` examples each. Either way the run is reproducible: examples are derived
from the test itself (`derandomize=True`), nothing is read from or written to an example database,
and a failure prints the input that caused it. `LAMBDASHARE_FUZZ_SEED=<int>` explores other examples
(a seeded run is just as reproducible with the same seed).

Hypothesis' own deadline is off: each request has a generous deadline of its own (REQUEST_DEADLINE_S),
which guards against a hang rather than measuring speed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import HealthCheck, seed, settings

EXAMPLES_ENV = "LAMBDASHARE_FUZZ_EXAMPLES"
SEED_ENV = "LAMBDASHARE_FUZZ_SEED"
#: No request, frame or handshake may go unanswered longer than this: a hang, not slowness.
REQUEST_DEADLINE_S = 10.0

F = TypeVar("F", bound=Callable[..., Any])


def examples(quick: int) -> int:
    """The test's quick budget, or the one `LAMBDASHARE_FUZZ_EXAMPLES` sets for every fuzz test."""
    configured = os.environ.get(EXAMPLES_ENV, "").strip()
    if not configured:
        return quick
    count = int(configured)
    if count < 1:
        raise ValueError(f"{EXAMPLES_ENV} must be a positive number of examples, not {configured!r}")
    return count


def fuzz(quick: int) -> Callable[[F], F]:
    """Decorate a `@given` test: its budget, a fixed seed, no example database, no hypothesis deadline."""
    chosen_seed = os.environ.get(SEED_ENV, "").strip()

    def decorate(test: F) -> F:
        configured = settings(
            max_examples=examples(quick),
            derandomize=not chosen_seed,
            database=None,
            deadline=None,
            print_blob=False,
            # examples go over real sockets: generating them is cheap, running them is not
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )(test)
        return seed(int(chosen_seed))(configured) if chosen_seed else configured

    return decorate
