"""The worker writes its workflow modules' bytecode: the sandbox imports a workflow's module
for every run, and without bytecode on disk each import compiles the source again."""

import importlib.util
import inspect
import os
import sys
from pathlib import Path

from workflows import worker


def test_the_bytecode_of_every_workflow_module_is_written_and_current(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "pycache_prefix", str(tmp_path))  # where cache_from_source points
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # as with PYTHONDONTWRITEBYTECODE
    worker.cache_workflow_bytecode()
    sources = {inspect.getfile(w) for w in worker.WORKFLOWS}
    assert {Path(s).name for s in sources} >= {"task_workflow.py", "case_workflow.py"}
    for source in sources:
        cached = Path(importlib.util.cache_from_source(source))
        assert cached.is_relative_to(tmp_path) and cached.exists(), source
        # what the import system checks before using it: the source's mtime and size in the header
        header = cached.read_bytes()[:16]
        assert header[:4] == importlib.util.MAGIC_NUMBER
        stat = Path(source).stat()
        assert int.from_bytes(header[8:12], "little") == int(stat.st_mtime) & 0xFFFFFFFF
        assert int.from_bytes(header[12:16], "little") == stat.st_size & 0xFFFFFFFF


def test_a_place_it_cannot_write_is_logged_not_fatal(tmp_path, monkeypatch, caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setattr(sys, "pycache_prefix", str(blocker / "cache"))  # below a file: even root cannot
    with caplog.at_level("INFO", logger="workflows.worker"):
        worker.cache_workflow_bytecode()
    assert caplog.text.count("not written") == len({inspect.getfile(w) for w in worker.WORKFLOWS})


def test_current_bytecode_is_left_alone_and_stale_bytecode_rewritten(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "pycache_prefix", str(tmp_path))
    worker.cache_workflow_bytecode()
    source = inspect.getfile(worker.PolicyTaskWorkflow)
    cached = Path(importlib.util.cache_from_source(source))
    source_mtime = Path(source).stat().st_mtime
    os.utime(cached, (source_mtime + 10, source_mtime + 10))  # current (its header matches): as pip leaves it
    worker.cache_workflow_bytecode()
    assert cached.stat().st_mtime == source_mtime + 10
    data = bytearray(cached.read_bytes())
    data[8:12] = ((int(source_mtime) - 10) & 0xFFFFFFFF).to_bytes(4, "little")  # compiled from an older source
    cached.write_bytes(bytes(data))
    os.utime(cached, (source_mtime - 10, source_mtime - 10))
    worker.cache_workflow_bytecode()
    assert cached.stat().st_mtime > source_mtime - 10
