"""Demo data for `make dev`: the regions, units and users of the seed documents."""

from services.demo.loader import load_demo

__all__ = ["load_demo"]
