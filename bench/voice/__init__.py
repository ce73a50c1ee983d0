"""``hotline bench voice``: this engine against Asterisk's own Queue() on the same SIP traffic.

- phase 1, seats always free: delay from the caller's INVITE to the seat's INVITE, paired by
  the caller number PJSIP copies into the seat leg's From; failed = calls never connected.
- phase 2, scarce seats at ``--load`` of capacity, Poisson arrivals, patient ``--patience`` s:
  15-second answer rate (DOMAIN.md: answered by a seat within 15 s of arrival / all calls),
  abandons, wasted rings (a seat rung for a caller who hung up) and the re-use gap (a seat
  freed while a caller waited unoffered -> that seat's next INVITE).

Modules by role: ``plan`` (options and runs), ``trace`` (sipp traces and measures), ``sipp``
(scenarios and processes), ``asterisk`` (the bench's Asterisk configuration), ``runner``
(running and the summary), ``engine`` (the engine's own process).
"""

from __future__ import annotations

import argparse
from typing import Any


# Imported when called: ``python -m bench.voice.engine`` imports this package first, and the
# runner (which imports the engine module) would load that module once more before it runs.
def add_arguments(parser: argparse.ArgumentParser) -> None:
    from bench.voice.plan import add_arguments as add

    add(parser)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from bench.voice.runner import run as run_bench

    return run_bench(args)
