"""``fortbridge tokens``: operator API tokens for the admin API (create, list, revoke)."""

from __future__ import annotations

import argparse
from typing import Any

from libs.common import access, database
from libs.common.access import ApiTokenStore
from libs.common.settings import Settings
from libs.common.shared_schemas import migrate_shared


def add_parser(commands: Any) -> None:
    tokens = commands.add_parser("tokens", help="operator API tokens for the admin API")
    actions = tokens.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create a token (printed once, stored hashed)")
    create.add_argument("--shop", required=True)
    create.add_argument(
        "--scopes",
        required=True,
        help=f"comma separated: {', '.join(sorted(access.SCOPES))}",
    )
    create.add_argument("--label", default="")
    listing = actions.add_parser("list", help="list tokens (never their values)")
    listing.add_argument("--shop")
    revoke = actions.add_parser("revoke", help="revoke a token by id")
    revoke.add_argument("id", type=int)


async def run(settings: Settings, args: argparse.Namespace) -> int:
    pool = await database.create_pool(settings.database_url)
    try:
        await migrate_shared(pool)
        store = ApiTokenStore(pool)
        if args.action == "create":
            try:
                issued = await store.create(args.shop, args.scopes, args.label)
            except ValueError as exc:
                print(f"error: {exc}")
                return 2
            print(f"token {issued.id} for {issued.shop} ({', '.join(sorted(issued.scopes))}):")
            print(issued.token)
            print("Store it now: it is not shown again.")
        elif args.action == "list":
            for info in await store.tokens(args.shop):
                state = f"revoked {info.revoked_at:%Y-%m-%d}" if info.revoked_at else "active"
                print(
                    f"{info.id}\t{info.shop}\t{info.prefix}...\t{','.join(sorted(info.scopes))}"
                    f"\t{state}\t{info.label}"
                )
        elif not await store.revoke(args.id):
            print(f"error: no active token {args.id}")
            return 1
        else:
            print(f"revoked token {args.id}")
        return 0
    finally:
        await pool.close()
