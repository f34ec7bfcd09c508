"""python -m simulators.vies --host 127.0.0.1 --port 8092 [--valid DE123456789] (repeatable)"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from aiohttp import web

from .app import create_app
from .simulator import ViesSimulator


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m simulators.vies", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8092)
    parser.add_argument(
        "--valid", action="append", metavar="NUMBER", help="a valid VAT number (repeatable)"
    )
    args = parser.parse_args(argv)
    sim = ViesSimulator()
    for number in args.valid or ["DE123456789"]:
        sim.mark(number, name="Demo Trader GmbH")
    print(f"VIES simulator on http://{args.host}:{args.port}/rest-api (valid: {sorted(sim.valid)})")
    web.run_app(create_app(sim), host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
