"""The ``fortbridge`` command: run services, connect shops, manage keys, run the demo."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

import aiohttp

from fortbridge import tokens
from libs.common import database
from libs.common.crypto import TokenCipher
from libs.common.service import run_until_signalled
from libs.common.settings import Settings, get_settings
from libs.common.shared_schemas import migrate_shared
from libs.common.shops import ShopRegistry


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fortbridge", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run one service, or all five in one process")
    run.add_argument("service", help="ingest | mapper | fortnox_writer | timeline | replayer | all")

    migrate = commands.add_parser("migrate", help="apply database migrations and exit")
    migrate.add_argument("service", nargs="?", default="all")

    connect = commands.add_parser("connect", help="store a shop's Fortnox or Shopify access")
    targets = connect.add_subparsers(dest="target", required=True)
    fortnox = targets.add_parser("fortnox", help="exchange a Fortnox authorization code")
    fortnox.add_argument("--shop", required=True)
    fortnox.add_argument("--code", required=True)
    fortnox.add_argument("--redirect-uri", required=True)
    fortnox.add_argument(
        "--switch-company",
        action="store_true",
        help="allow replacing the Fortnox company the shop is connected to (audited; the "
        "shop's waiting syncs are held back until released)",
    )
    shopify = targets.add_parser("shopify", help="store a shop's Admin API access token")
    shopify.add_argument("--shop", required=True)
    shopify.add_argument("--access-token", required=True)

    keys = commands.add_parser("keys", help="token encryption keys")
    keys.add_argument(
        "action",
        choices=["generate", "rotate"],
        help="generate: print a new Fernet key; rotate: re-encrypt every stored token with the "
        "first key of TOKEN_ENCRYPTION_KEYS",
    )

    tokens.add_parser(commands)

    demo = commands.add_parser("demo", help="the whole stack with simulators, end to end")
    demo.add_argument("--orders", type=int, default=4)
    demo.add_argument(
        "--serve",
        action="store_true",
        help="then keep the stack running and serve the app on one local origin (the gateway)",
    )
    demo.add_argument("--port", type=int, default=8000, help="the gateway's port (--serve)")
    return parser


async def _migrate(settings: Settings, name: str) -> None:
    from fortbridge.registry import select

    pool = await database.create_pool(settings.database_url)
    try:
        print(f"shared: applied {await migrate_shared(pool) or 'nothing new'}")
        for service in select(name):
            if service.migrations is not None:
                applied = await database.migrate(pool, service.name, service.migrations)
                print(f"{service.name}: applied {applied or 'nothing new'}")
    finally:
        await pool.close()


async def _connect(settings: Settings, args: argparse.Namespace) -> int:
    from services.fortnox_writer.connections import ConnectionStore
    from services.fortnox_writer.switching import ConnectRefused, connect_with_code

    cipher = TokenCipher(settings.token_encryption_keys.get_secret_value())
    await _migrate(settings, "fortnox_writer" if args.target == "fortnox" else "timeline")
    pool = await database.create_pool(settings.database_url)
    try:
        if args.target == "shopify":
            await migrate_shared(pool)
            await ShopRegistry(pool, cipher).install(args.shop, args.access_token)
            print(f"stored the Shopify access token of {args.shop}")
            return 0
        async with aiohttp.ClientSession() as http:
            store = ConnectionStore(pool, cipher, http, settings)
            try:
                tenant = await connect_with_code(
                    store,
                    http,
                    settings,
                    shop=args.shop,
                    code=args.code,
                    redirect_uri=args.redirect_uri,
                    switch_company=args.switch_company,
                    actor="cli",
                )
            except ConnectRefused as exc:
                print(f"not connected: {exc.message}", file=sys.stderr)
                return 1
        print(f"connected {args.shop} to Fortnox tenant {tenant}")
        return 0
    finally:
        await pool.close()


async def _rotate_keys(settings: Settings) -> int:
    from services.fortnox_writer.keyrotation import rotate_tokens

    cipher = TokenCipher(settings.token_encryption_keys.get_secret_value())
    pool = await database.create_pool(settings.database_url)
    try:
        report = await rotate_tokens(pool, cipher)
    finally:
        await pool.close()
    for table, count in report.rewritten.items():
        print(f"{table}: re-encrypted {count} tokens with the first key")
    for table, keys in report.undecryptable.items():
        print(
            f"{table}: {len(keys)} tokens no configured key decrypts (keep the old key): "
            + ", ".join(keys[:20]),
            file=sys.stderr,
        )
    return 1 if report.undecryptable else 0


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    settings = get_settings()
    if args.command == "run":
        from fortbridge.registry import select

        asyncio.run(run_until_signalled(select(args.service), settings))
    elif args.command == "migrate":
        asyncio.run(_migrate(settings, args.service))
    elif args.command == "connect":
        sys.exit(asyncio.run(_connect(settings, args)))
    elif args.command == "keys" and args.action == "rotate":
        sys.exit(asyncio.run(_rotate_keys(settings)))
    elif args.command == "keys":
        print(TokenCipher.generate_key())
    elif args.command == "tokens":
        sys.exit(asyncio.run(tokens.run(settings, args)))
    elif args.command == "demo":
        from fortbridge.demo import run_demo

        sys.exit(asyncio.run(run_demo(orders=args.orders, serve=args.serve, port=args.port)))


if __name__ == "__main__":
    main()
