"""Runs one fuzz target under atheris (libFuzzer), seeded with corpus.py's files.

    .venv/bin/python tests/fuzz/run.py policy --seconds 60
    .venv/bin/python tests/fuzz/run.py household_import --runs 3000 --corpus /tmp/c
    .venv/bin/python tests/fuzz/run.py national_export var/fuzz/crashes/national_export-crash-…   # replay one input

Targets: policy, household_import, national_export (and canary, the planted crash the tests
look for). The corpus grows in var/fuzz/corpus/<target>/ between runs; a crashing input is
written to var/fuzz/crashes/<target>-crash-<sha1> and the run exits non-zero with its traceback.
Arguments after the options go to libFuzzer as they are (files replay those inputs)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["services", "targets"]):
    from targets import TARGETS

import corpus

VAR = Path(__file__).resolve().parents[2] / "var" / "fuzz"


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("target", choices=sorted(TARGETS))
    ap.add_argument("--seconds", type=int, default=60, help="stop after this long (libFuzzer -max_total_time)")
    ap.add_argument("--runs", type=int, default=-1, help="stop after this many inputs (-1: until --seconds)")
    ap.add_argument("--corpus", type=Path, help="corpus directory (default var/fuzz/corpus/<target>)")
    ap.add_argument("--artifacts", type=Path, default=VAR / "crashes", help="where crashing inputs are written")
    ap.add_argument("--input-timeout", type=int, default=60, help="seconds one input may take before it counts as a hang")
    args, libfuzzer = ap.parse_known_args(argv[1:])
    replay = [a for a in libfuzzer if not a.startswith("-")]
    if not replay:
        corpus_dir = args.corpus or VAR / "corpus" / args.target
        seeds = corpus.write(args.target, corpus_dir)
        print(f"fuzz {args.target}: {seeds} seeds in {corpus_dir}, {args.seconds} s", flush=True)
        libfuzzer = [str(corpus_dir), *libfuzzer]
    args.artifacts.mkdir(parents=True, exist_ok=True)
    atheris.Setup([argv[0], f"-max_total_time={args.seconds}", f"-runs={args.runs}", f"-timeout={args.input_timeout}",
                   "-rss_limit_mb=3072", f"-artifact_prefix={args.artifacts}/{args.target}-", *libfuzzer],
                  TARGETS[args.target])
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
