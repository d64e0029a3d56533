"""Crash soak: SIGKILL each multi-step operation many times and count the kills survived.

    python bench/soak_crash.py [--kills N] [--only compress-wkw,delete_layer,...] [--seed S] [--keep DIR]

Runs the same cases as ``tests/integration/test_crash.py`` (they live in
``tests/crash_cases.py``): each operation runs in a fresh interpreter, is killed with
SIGKILL at a seeded-random instant inside it, and the dataset is then checked (opens,
old or new state, the next call succeeds, nothing left behind). A failed check is
counted and the case goes on with a fresh dataset. Prints one row per operation: kills,
kills survived, how many kills came after the operation had already finished, and the
first failures. Exits 1 if any kill was not survived.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from crash_cases import CASES, run_case  # noqa: E402

warnings.filterwarnings("ignore")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=50, help="kills per operation (default 50)")
    parser.add_argument("--only", default="", help=f"comma-separated operations of: {', '.join(CASES)}")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, default=None, help="work under DIR (default: a temporary folder)")
    args = parser.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or list(CASES)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        parser.error(f"unknown operations {unknown}; choose from {list(CASES)}")

    print(f"{'operation':<24}{'kills':>7}{'survived':>10}{'after end':>11}{'seconds':>9}  first failures")
    failed = 0
    with tempfile.TemporaryDirectory(prefix="wkpy-soak-", dir=args.keep) as tmp:
        for name in names:
            t0 = time.perf_counter()
            out = run_case(CASES[name], Path(tmp) / name, args.kills, args.seed, strict=False)
            failed += out.kills - out.survived
            first = " | ".join(out.failures[:2])
            print(f"{name:<24}{out.kills:>7}{out.survived:>10}{out.finished_before_kill:>11}"
                  f"{time.perf_counter() - t0:>9.1f}  {first}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
