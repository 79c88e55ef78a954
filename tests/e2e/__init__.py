"""Browser tests (a package, so the running system of conftest.py stops after its last test)."""
