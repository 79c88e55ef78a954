"""Benchmark: the policy-document parser on the five seed documents.

Measures in one run:
  (a) raw baseline: read and decode the five seed files, N rounds;
  (b) the parser: ``parse_path`` on the five seeds, N rounds (includes the same
      read and decode, plus cleaning, section tree, annotations, targets, deadlines).

The ratio (parse / raw read) is what compares across machines; the goal is
all five documents parsed in under 0.2 s.

Seeds come from shared/seeds next to the repository, or XIANJIE_SEEDS_DIR.

Usage:  .venv/bin/python bench/policy_parse.py [--rounds 100]
The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.tasks.policy_parser import parse_path  # noqa: E402
from services.tasks.policy_parser.reader import decode_text  # noqa: E402


def seed_files() -> list[Path]:
    directory = Path(os.environ.get("XIANJIE_SEEDS_DIR") or ROOT.parent / "shared" / "seeds")
    files = sorted(directory.glob("00[0-4]_*.txt"))
    if len(files) != 5:
        sys.exit(f"expected five seed documents in {directory}, found {len(files)} (set XIANJIE_SEEDS_DIR)")
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=100)
    args = parser.parse_args()
    files = seed_files()

    start = time.perf_counter()
    chars = 0
    for _ in range(args.rounds):
        for path in files:
            chars += len(decode_text(path.read_bytes()))
    raw_seconds = time.perf_counter() - start

    measures = 0
    per_round: list[float] = []
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        for path in files:
            measures += len(parse_path(path).measures)
        per_round.append(time.perf_counter() - t0)
    parse_seconds = sum(per_round)

    documents = args.rounds * len(files)
    per_round.sort()
    median_five = per_round[len(per_round) // 2]
    result = {
        "bench": "policy_parse",
        "documents": documents,
        "measures_per_round": measures // args.rounds,
        "docs_per_s": round(documents / parse_seconds, 1),
        "seconds_for_five": round(median_five, 4),
        "seconds_for_five_max": round(per_round[-1], 4),
        "raw_read_per_s": round(documents / raw_seconds, 1),
        "ratio": round(parse_seconds / raw_seconds, 1),
        "goal_seconds_for_five": 0.2,
        "meets_goal": median_five < 0.2,
    }
    print(f"seeds: {', '.join(p.name for p in files)} ({chars // args.rounds} characters per round)")
    print(f"raw read+decode: {documents} documents in {raw_seconds:.3f} s = {result['raw_read_per_s']} docs/s")
    print(f"parse_path:      {documents} documents in {parse_seconds:.3f} s = {result['docs_per_s']} docs/s "
          f"({result['measures_per_round']} measures per round)")
    print(f"all five seeds:  median {median_five * 1000:.1f} ms, worst {per_round[-1] * 1000:.1f} ms "
          f"(goal < 200 ms: {'met' if result['meets_goal'] else 'NOT met'}); parse/raw ratio {result['ratio']}x")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
