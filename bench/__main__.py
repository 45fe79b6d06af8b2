"""`python -m bench`: runs every benchmark, prints the tables, writes docs/benchmarks.md."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone

from rich.console import Console

from bench import accounts, backtest, charts, economy, ledger, report, responsiveness, scale, stopping
from bench.common import ROOT, Section, duration, machine

BENCHMARKS: dict[str, Callable[[], Section]] = {
    "economy": economy.run,
    "slack": responsiveness.run,
    "scale": scale.run,
    "ledger": ledger.run,
    "backtest": backtest.run,
    "stopping": stopping.run,
    "charts": charts.run,
    "accounts": accounts.run,
}
OUTPUT = ROOT / "docs" / "benchmarks.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--only",
        choices=sorted(BENCHMARKS),
        action="append",
        help="run only this benchmark (repeatable); only its section of the file is rewritten",
    )
    parser.add_argument("--no-write", action="store_true", help=f"do not rewrite {OUTPUT.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    # The client logs each rate-limit wait at INFO; the tables say it with numbers.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    console = Console()
    info = machine()
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    console.print(f"budget-bot benchmarks, {date}: " + ", ".join(f"{k} {v}" for k, v in info.items()), highlight=False)
    console.print()
    started = time.perf_counter()
    sections = []
    for name in args.only or list(BENCHMARKS):
        with console.status(f"running {name}…"):
            section = BENCHMARKS[name]()
        sections.append(section)
        report.show(console, section)
    total = time.perf_counter() - started
    console.print(f"All done in {duration(total)}.", highlight=False)
    if args.no_write:
        return 0
    if args.only and OUTPUT.exists():
        OUTPUT.write_text(report.with_sections(OUTPUT.read_text(encoding="utf-8"), sections, date), encoding="utf-8")
    else:
        OUTPUT.write_text(report.markdown(sections, info, date, total), encoding="utf-8")
    console.print(f"Wrote {OUTPUT.relative_to(ROOT)}.", highlight=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
