"""Run the simulator as a process: ``python -m simulators.fortnox --host 127.0.0.1 --port 8090``.

Environment: ``FORTNOX_SIM_CLIENT_ID`` / ``FORTNOX_SIM_CLIENT_SECRET`` pre-register a client;
``FORTNOX_SIM_TENANT_IDS`` (comma separated) pre-creates tenants. Everything else is driven
through the ``/_sim`` control endpoints. Stops on SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal

from simulators.fortnox.simulator import FortnoxSimulator


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m simulators.fortnox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--rate-limit", type=int, default=25, help="0 disables the limit")
    parser.add_argument("--rate-window", type=float, default=5.0)
    parser.add_argument("--access-token-ttl", type=float, default=3600.0)
    parser.add_argument(
        "--jitter", type=float, default=0.0, help="random 0..N s delay on every request"
    )
    parser.add_argument("--vat-rounding", choices=["per_rate", "per_row"], default="per_rate")
    parser.add_argument("--tenant", action="append", default=[], help="tenant id to pre-create")
    return parser


async def _run(args: argparse.Namespace) -> None:
    sim = FortnoxSimulator(
        access_token_ttl=args.access_token_ttl,
        rate_limit=args.rate_limit or None,
        rate_window=args.rate_window,
        jitter=args.jitter,
        vat_rounding=args.vat_rounding,
    )
    client_id = os.environ.get("FORTNOX_SIM_CLIENT_ID")
    if client_id:
        sim.add_client(client_id, os.environ.get("FORTNOX_SIM_CLIENT_SECRET", ""))
    env_tenants = [t for t in os.environ.get("FORTNOX_SIM_TENANT_IDS", "").split(",") if t]
    for tenant_id in [*env_tenants, *args.tenant]:
        sim.add_tenant(tenant_id.strip(), company_name=f"Demo AB {tenant_id.strip()}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with sim.serve(args.host, args.port) as base_url:
        print(f"Fortnox simulator listening on {base_url}", flush=True)
        await stop.wait()


def main() -> None:
    asyncio.run(_run(_parser().parse_args()))


if __name__ == "__main__":
    main()
