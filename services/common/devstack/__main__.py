"""The infrastructure lines of the dev Procfile:
`python -m services.common.devstack run postgres|temporal|broker` becomes that
server (in the foreground, so honcho owns it), `bootstrap [--infra-only]` runs
the bootstrap-and-watch step."""

from __future__ import annotations

import argparse
import logging

from services.common.config import get_settings
from services.common.devstack.dev import bootstrap, dev_broker, dev_postgres, dev_temporal

SERVERS = {"postgres": dev_postgres, "temporal": dev_temporal, "broker": dev_broker}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m services.common.devstack")
    sub = parser.add_subparsers(dest="action", required=True)
    sub.add_parser("run", help="exec one embedded server").add_argument("server", choices=SERVERS)
    sub.add_parser("bootstrap", help="migrate, create topics, load demo data, watch").add_argument("--infra-only", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for chatty in ("kafka", "httpx"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    if args.action == "run":
        SERVERS[args.server](get_settings()).exec()
    else:
        bootstrap(args.infra_only)


if __name__ == "__main__":
    main()
