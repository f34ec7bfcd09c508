"""python -m simulators.shopify --host 127.0.0.1 --port 8091 [--shop demo.myshopify.com=simtok_x]
[--app CLIENT_ID=CLIENT_SECRET] (an app that may install through OAuth; repeatable)"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from aiohttp import web

from .app import create_app
from .payloads import order_payload
from .simulator import ShopifySimulator


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m simulators.shopify", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--restore-rate", type=float, default=100.0)
    parser.add_argument("--bucket-size", type=float, default=1000.0)
    parser.add_argument(
        "--shop",
        action="append",
        metavar="DOMAIN[=TOKEN]",
        help="shop to create (repeatable); default demo.myshopify.com=simtok_demo",
    )
    parser.add_argument(
        "--app",
        action="append",
        metavar="CLIENT_ID=CLIENT_SECRET",
        help="app that may install on the shops through OAuth (repeatable)",
    )
    parser.add_argument(
        "--sample-orders", type=int, default=3, help="sample orders to seed in each shop"
    )
    args = parser.parse_args(argv)
    sim = ShopifySimulator(restore_rate=args.restore_rate, bucket_size=args.bucket_size)
    base_url = f"http://{args.host}:{args.port}"
    print(f"Shopify simulator on {base_url}")
    print(f"  admin URL template: {sim.admin_url_template(base_url)}")
    for spec in args.shop or ["demo.myshopify.com=simtok_demo"]:
        domain, _, token = spec.partition("=")
        shop = sim.add_shop(domain, token or None)
        for _ in range(args.sample_orders):
            sim.add_order(shop.domain, order_payload(shop_domain=shop.domain))
        print(f"  shop {shop.domain} token {shop.access_token} ({len(shop.orders)} orders)")
    for spec in args.app or []:
        client_id, _, secret = spec.partition("=")
        if not client_id or not secret:
            parser.error("--app takes CLIENT_ID=CLIENT_SECRET")
        sim.register_app(client_id, secret)
        print(f"  app {client_id} may install (OAuth at /shops/{{shop}}/admin/oauth/authorize)")
    web.run_app(create_app(sim), host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
