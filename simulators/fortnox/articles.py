"""/3/articles: list, create, read, update.

- ``GET /3/articles``: substring, case-insensitive search on articlenumber, description, ean,
  suppliernumber, manufacturer, manufacturerarticlenumber; ``filter`` = active | inactive.
- ``POST /3/articles`` -> 201. ArticleNumber is auto-assigned (next numeric) when omitted; a
  number in use answers 400; characters outside ``[A-Za-z0-9_-+./]`` answer 400 code 2000359
  "Ogiltiga tecken". Description is required. A given VAT must be one of the tenant's rates.
  SalesPrice is read-only (null; Fortnox takes it from the price list).
- ``GET/PUT /3/articles/{ArticleNumber}``; unknown -> 404 code 2000428 "Kan inte hitta artikeln".
  Without a warehouse module, ``PUT {"Article": {"QuantityInStock": x}}`` sets the stock (and
  moves the article's ``lastmodified``); with the module active it answers 400 code 2999009
  (simulator-chosen: stock moves through warehouse documents there, see warehouse.py).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from aiohttp import web

from simulators.fortnox import errors, keys
from simulators.fortnox._state import Article, Tenant
from simulators.fortnox.customers import check_number, next_code
from simulators.fortnox.documents import clean
from simulators.fortnox.listing import ListSpec, modified_now, page, select
from simulators.fortnox.schema import ARTICLE, names
from simulators.fortnox.wire import json_response, number_text, read_envelope

ARTICLE_LIST = ListSpec[Article](
    searches={
        "articlenumber": lambda a: a.article_number,
        "description": lambda a: str(a.fields.get("Description") or ""),
        "ean": lambda a: str(a.fields.get("EAN") or ""),
        "suppliernumber": lambda a: str(a.fields.get("SupplierNumber") or ""),
        "manufacturer": lambda a: str(a.fields.get("Manufacturer") or ""),
        "manufacturerarticlenumber": lambda a: str(a.fields.get("ManufacturerArticleNumber") or ""),
    },
    filters={
        "active": lambda a: a.fields.get("Active", True) is not False,
        "inactive": lambda a: a.fields.get("Active", True) is False,
    },
    modified=lambda a: a.updated_at,
    default_sort=lambda a: a.article_number,
)

_ZERO = Decimal("0")
_DEFAULTS: dict[str, Any] = {
    **dict.fromkeys(
        names(
            "EAN Manufacturer ManufacturerArticleNumber Note StockPlace SupplierNumber Unit "
            "CommodityCode"
        ),
        "",
    ),
    **dict.fromkeys(
        names(
            "DisposableQuantity PurchasePrice QuantityInStock ReservedQuantity StockValue "
            "StockWarning Depth Height Width Weight DirectCost FreightCost OtherCost"
        ),
        _ZERO,
    ),
    **dict.fromkeys(
        names(
            "SalesPrice HouseworkType SupplierName CostCalculationMethod DefaultStockPoint "
            "DefaultStockLocation SalesAccount EUAccount EUVATAccount ExportAccount "
            "PurchaseAccount ConstructionAccount StockAccount StockChangeAccount"
        ),
        None,
    ),
    "Active": True,
    "Bulky": False,
    "Expired": False,
    "Housework": False,
    "StockGoods": False,
    "Type": "STOCK",
    "VAT": Decimal("25"),
    "WebshopArticle": False,
}
LIST_FIELDS = names(
    "@url ArticleNumber Description DisposableQuantity EAN Housework PurchasePrice SalesPrice "
    "QuantityInStock ReservedQuantity StockPlace StockValue Unit VAT WebshopArticle"
)


def article_json(article: Article, base_url: str) -> dict[str, Any]:
    out = {
        **_DEFAULTS,
        **clean(article.fields),
        "@url": f"{base_url}/3/articles/{article.article_number}",
        "ArticleNumber": article.article_number,
    }
    out["DisposableQuantity"] = out["QuantityInStock"]
    return dict(sorted(out.items()))


def article_list_row(article: Article, base_url: str) -> dict[str, Any]:
    full = article_json(article, base_url)
    return {name: full.get(name) for name in LIST_FIELDS}


def _check_vat(tenant: Tenant, fields: dict[str, Any]) -> None:
    vat = fields.get("VAT")
    if vat is not None and vat not in tenant.vat_rates:
        raise errors.bad_request(errors.VAT_NOT_FOUND, f"{number_text(vat)} %")


def create_article(tenant: Tenant, body: dict[str, Any]) -> Article:
    fields = clean(ARTICLE.parse(body))
    number = fields.pop("ArticleNumber", None) or next_code(tenant.articles)
    check_number(number)
    if number in tenant.articles:
        raise errors.bad_request(errors.SIM_ARTICLE_NUMBER_USED, number)
    if not fields.get("Description"):
        raise errors.bad_request(errors.SIM_REQUIRED_FIELD, "Description")
    _check_vat(tenant, fields)
    article = Article(number, fields)
    tenant.articles[number] = article
    return article


def _find(request: web.Request) -> Article:
    article = keys.tenant(request).articles.get(request.match_info["number"])
    if article is None:
        raise errors.not_found(errors.ARTICLE_NOT_FOUND)
    return article


def _one(request: web.Request, article: Article, status: int = 200) -> web.Response:
    return json_response({"Article": article_json(article, keys.base_url(request))}, status)


async def list_articles(request: web.Request) -> web.Response:
    tenant = keys.tenant(request)
    chosen = select(list(tenant.articles.values()), request.query, ARTICLE_LIST)
    base = keys.base_url(request)
    return json_response(
        page(chosen, request.query, "Articles", lambda a: article_list_row(a, base))
    )


async def post_article(request: web.Request) -> web.Response:
    body = await read_envelope(request, "Article")
    return _one(request, create_article(keys.tenant(request), body), status=201)


async def get_article(request: web.Request) -> web.Response:
    return _one(request, _find(request))


async def put_article(request: web.Request) -> web.Response:
    article = _find(request)
    fields = ARTICLE.parse(await read_envelope(request, "Article"))
    fields.pop("ArticleNumber", None)
    tenant = keys.tenant(request)
    if tenant.warehouse_module and "QuantityInStock" in fields:
        raise errors.bad_request(errors.SIM_WAREHOUSE_STOCK)
    merged = clean({**article.fields, **fields})
    if not merged.get("Description"):
        raise errors.bad_request(errors.SIM_REQUIRED_FIELD, "Description")
    _check_vat(tenant, merged)
    article.fields = merged
    article.updated_at = modified_now()
    return _one(request, article)


def set_stock(tenant: Tenant, number: str, quantity: Decimal) -> Article:
    """The merchant changes the stock in Fortnox (by hand, or Fortnox's own deliveries)."""
    article = tenant.articles.get(number)
    if article is None:
        raise errors.not_found(errors.ARTICLE_NOT_FOUND)
    article.fields = {**article.fields, "QuantityInStock": quantity, "StockGoods": True}
    article.updated_at = modified_now()
    return article


def add_routes(app: web.Application) -> None:
    app.router.add_get("/3/articles", list_articles)
    app.router.add_post("/3/articles", post_article)
    app.router.add_get("/3/articles/{number}", get_article)
    app.router.add_put("/3/articles/{number}", put_article)
