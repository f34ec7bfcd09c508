"""``fortbridge tokens``: operator API tokens for the admin API (create, list, revoke)."""

from __future__ import annotations

import argparse
from typing import Any

from fortbridge.output import NO, OK, USAGE, Output, json_flag
from libs.common import access, database
from libs.common.access import ApiTokenStore
from libs.common.settings import Settings
from libs.common.shared_schemas import migrate_shared


def add_parser(commands: Any) -> None:
    tokens = commands.add_parser("tokens", help="operator API tokens for the admin API")
    actions = tokens.add_subparsers(dest="action", required=True)
    create = actions.add_parser(
        "create", parents=[json_flag()], help="create a token (printed once, stored hashed)"
    )
    create.add_argument("--shop", required=True)
    create.add_argument(
        "--scopes",
        required=True,
        help=f"comma separated: {', '.join(sorted(access.SCOPES))}",
    )
    create.add_argument("--label", default="")
    listing = actions.add_parser("list", parents=[json_flag()], help="list tokens (never values)")
    listing.add_argument("--shop")
    revoke = actions.add_parser("revoke", parents=[json_flag()], help="revoke a token by id")
    revoke.add_argument("id", type=int)


async def run(settings: Settings, args: argparse.Namespace) -> int:
    out = Output(args.json)
    pool = await database.create_pool(settings.database_url)
    try:
        await migrate_shared(pool)
        store = ApiTokenStore(pool)
        if args.action == "create":
            try:
                issued = await store.create(args.shop, args.scopes, args.label)
            except ValueError as exc:
                return out.error(str(exc), USAGE)
            scopes = sorted(issued.scopes)
            out.result(
                {
                    "id": issued.id,
                    "shop": issued.shop,
                    "scopes": scopes,
                    "label": args.label,
                    "token": issued.token,
                },
                [
                    f"token {issued.id} for {issued.shop} ({', '.join(scopes)}):",
                    issued.token,
                    "Store it now: it is not shown again.",
                ],
            )
        elif args.action == "list":
            found = await store.tokens(args.shop)
            out.result(
                {
                    "tokens": [
                        {
                            "id": info.id,
                            "shop": info.shop,
                            "prefix": info.prefix,
                            "scopes": sorted(info.scopes),
                            "label": info.label,
                            "revoked_at": info.revoked_at,
                        }
                        for info in found
                    ]
                },
                [
                    f"{info.id}\t{info.shop}\t{info.prefix}...\t{','.join(sorted(info.scopes))}"
                    f"\t{_state(info.revoked_at)}\t{info.label}"
                    for info in found
                ],
            )
        elif not await store.revoke(args.id):
            return out.error(f"no active token {args.id}", NO)
        else:
            out.result({"revoked": args.id}, f"revoked token {args.id}")
        return OK
    finally:
        await pool.close()


def _state(revoked_at: Any) -> str:
    return f"revoked {revoked_at:%Y-%m-%d}" if revoked_at else "active"
