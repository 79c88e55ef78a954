"""A short atheris run of each fuzz target in the normal suite (up to a few thousand inputs from the
seed corpus, at most 20 s each, fixed libFuzzer seed), the proof that such a run fails on a planted crash, and
what the targets count as a clear refusal. `make fuzz` runs the targets for longer."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from corpus import SEED_SETS, write
from targets import CELLS_AS_WORKBOOK, TARGETS, UnclearError, check_import_error, check_parse_error, check_row_errors

from services.alerts.import_reader import ImportFileError
from services.alerts.import_rows import RowError
from services.alerts.importer import read_file
from services.alerts.national_reader import Sheet
from services.tasks.policy_parser import ParseError

RUN = Path(__file__).with_name("run.py")
RUNS = os.environ.get("XIANJIE_FUZZ_RUNS", "3000")
SECONDS = os.environ.get("XIANJIE_FUZZ_SECONDS", "20")
SEED = os.environ.get("XIANJIE_FUZZ_SEED", "1")


def fuzz(target: str, tmp_path: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(RUN), target, "--corpus", str(tmp_path / "corpus"),
                           "--artifacts", str(tmp_path / "crashes"), *args],
                          check=False, capture_output=True, text=True, errors="replace", timeout=timeout)


@pytest.mark.parametrize("target", ["policy", "household_import", "national_export"])
def test_a_short_fuzz_run_finds_no_crash(target, tmp_path):
    r = fuzz(target, tmp_path, "--runs", RUNS, "--seconds", SECONDS, f"-seed={SEED}")
    crashes = sorted(p.name for p in (tmp_path / "crashes").iterdir())
    assert r.returncode == 0 and not crashes, (crashes, r.stdout[-4000:], r.stderr[-3000:])
    done = re.search(r"Done (\d+) runs", r.stderr)
    assert done and int(done[1]) >= 100, r.stderr[-2000:]
    print(f"fuzz {target}: {done[0]}")


def test_the_run_fails_on_a_planted_crash_and_keeps_its_input(tmp_path):
    r = fuzz("canary", tmp_path, "--runs", "500000", "--seconds", "90", "-seed=1")
    assert r.returncode != 0
    output = r.stdout + r.stderr  # atheris prints the traceback on stdout, libFuzzer its report on stderr
    assert "Uncaught Python exception" in output and "KeyError" in output, output[-3000:]
    crashes = list((tmp_path / "crashes").glob("canary-crash-*"))
    assert len(crashes) == 1 and crashes[0].read_bytes()[:2] == b"xj"
    replay = fuzz("canary", tmp_path, str(crashes[0]))
    assert replay.returncode != 0 and "KeyError" in replay.stdout + replay.stderr


@pytest.mark.parametrize("target", ["policy", "household_import", "national_export"])
def test_every_seed_passes_its_target(target, tmp_path):
    assert write(target, tmp_path) == len(SEED_SETS[target]())
    for path in sorted(tmp_path.iterdir()):
        TARGETS[target](path.read_bytes())


@pytest.mark.parametrize("target", ["household_import", "national_export"])
def test_the_import_seeds_are_read_not_refused(target):
    """Seeds that get past the reader's front door, so mutations start deep in the row checks."""
    names = {"household_import": "农户", "national_export": "监测对象信息"}
    read = [read_file(seed[1:], names[target] + (".xlsx" if seed[1:3] == b"PK" else ".csv"))
            for seed in SEED_SETS[target]() if not seed[0] & CELLS_AS_WORKBOOK]
    assert any(isinstance(t, Sheet) for t in read)
    if target == "household_import":
        assert any(not isinstance(t, Sheet) and t.rows for t in read)


def test_what_counts_as_a_clear_refusal():
    check_parse_error(ParseError("文件为空 (empty file)"))
    check_import_error(ImportFileError("文件扩展名为 .csv,但内容不是文本 (not a text CSV)", 415))
    check_row_errors([RowError(5, "户编号", "户编号必须填写")])
    for unclear in (lambda: check_parse_error(ParseError("")), lambda: check_parse_error(ParseError("坏\n文件")),
                    lambda: check_import_error(ImportFileError("bad file", 415)),
                    lambda: check_import_error(ImportFileError("无法读取", 500)),
                    lambda: check_row_errors([RowError(5, "户编号", " ")])):
        with pytest.raises(UnclearError):
            unclear()


def test_a_target_lets_other_exceptions_through():
    with pytest.raises(KeyError):
        TARGETS["canary"](b"xj!")
    TARGETS["canary"](b"other")


@pytest.mark.parametrize("path", sorted(Path(__file__).with_name("regressions").iterdir()), ids=lambda p: p.name[:30])
def test_inputs_the_fuzzer_once_crashed_on_are_refused_clearly(path):
    """Workbooks damaged past their header (calamine's XmlError escaped the national reader, a
    zip CRC error openpyxl's streaming reader of our template) and files whose cells hold control
    characters (openpyxl refused them in the error copy); a policy upload starting like a zip of a
    version zipfile does not support (NotImplementedError escaped the parser)."""
    TARGETS[path.name.split("-crash-")[0]](path.read_bytes())
