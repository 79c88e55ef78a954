"""Run every benchmark in bench/ in turn and gather their figures into bench/results.json.

Each bench prints one JSON object on its last line; this keeps those objects by bench
name with the date and the machine's load, so the figures of every issue are in one
place. A bench that fails is recorded with its exit code and the run goes on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent


def benches(only: list[str]) -> list[Path]:
    found = sorted(p for p in HERE.glob("*.py") if p.name != Path(__file__).name)
    return [p for p in found if not only or p.stem in only]


def last_json(output: str) -> dict | None:
    for line in reversed(output.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                return None
    return None


def main() -> int:
    only = sys.argv[1:]
    results: dict[str, dict] = {}
    for path in benches(only):
        print(f"== {path.name}", flush=True)
        started = time.monotonic()
        proc = subprocess.run([sys.executable, str(path)], stdout=subprocess.PIPE, text=True)
        sys.stdout.write(proc.stdout)
        figures = last_json(proc.stdout) if proc.returncode == 0 else None
        results[path.stem] = figures or {"failed": True, "exit_code": proc.returncode}
        results[path.stem]["run_s"] = round(time.monotonic() - started, 1)
    out = HERE / "results.json"
    previous = json.loads(out.read_text()) if out.exists() and only else {}
    summary = {"generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "cpus": os.cpu_count(),
               "load_avg": round(os.getloadavg()[0], 2),
               "benches": {**previous.get("benches", {}), **results}}
    out.write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"figures of {len(results)} benches written to {out.relative_to(HERE.parent)}")
    print(json.dumps({"bench": "all", "ran": len(results),
                      "failed": sorted(k for k, v in results.items() if v.get("failed"))}))
    return 1 if any(v.get("failed") for v in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
