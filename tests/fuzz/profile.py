"""The property-based suite (tests/fuzz/): its Hypothesis settings.

Two profiles, applied to this suite's tests only (never loaded globally):

- ``quick``, what ``make test`` runs: a few derandomized examples per property, a couple
  of seconds in all, the same examples every run, so that the suite never fails by
  chance in someone else's change;
- ``fuzz``, what ``make fuzz`` runs (``FUZZ_MINUTES`` set): random examples, no
  deadline, the example database kept in .hypothesis/ (a failure found once is replayed
  first the next time); each property runs rounds of ``FUZZ_EXAMPLES`` (default 300)
  examples until ``FUZZ_MINUTES`` have passed, and stops at the first failure.
"""

from __future__ import annotations

import os
import time

from hypothesis import HealthCheck, settings

_SLOW = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]

QUICK = settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=_SLOW,
    print_blob=True,
)
FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=_SLOW,
    print_blob=True,
)

MINUTES = float(os.environ.get("FUZZ_MINUTES") or 0)
PROFILE = FUZZ if MINUTES else QUICK


def rounds(prop) -> None:
    """Run the Hypothesis test ``prop`` once (quick), or round after round with fresh
    random examples until FUZZ_MINUTES have passed (fuzz)."""
    end = time.monotonic() + MINUTES * 60
    while True:
        prop()
        if time.monotonic() >= end:
            return
