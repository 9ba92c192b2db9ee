"""Catalog use cases: brands, products, SKUs."""

from __future__ import annotations

import mongoengine as me

from mallkit import ids, paging
from mallkit.errors import AlreadyExists, PermissionDenied
from retail_s2b2c.access import ADMIN, BRAND, get_or_404, require_role
from retail_s2b2c.documents.catalog import Brand, Product, Sku
from retail_s2b2c.domain import catalog


def create_brand(name: str) -> Brand:
    who = require_role(BRAND, ADMIN)
    brand = Brand(id=ids.new_id("brd"), owner_id=who.user_id, name=catalog.check_name(name, "name", 60))
    try:
        brand.save(force_insert=True)
    except me.NotUniqueError as exc:
        raise AlreadyExists(f"a brand named {brand.name!r} exists", "brand_name_taken") from exc
    return brand


def get_brand(brand_id: str) -> Brand:
    return get_or_404(Brand, brand_id, "brand")


def create_product(brand_id: str, title: str, category: str, skus: list[catalog.NewSku]) -> tuple[Product, list[Sku]]:
    who = require_role(BRAND, ADMIN)
    brand = get_brand(brand_id)
    if brand.owner_id != who.user_id and not who.has_role(ADMIN):
        raise PermissionDenied("only the brand's owner adds its products", "not_brand_owner")
    checked = catalog.check_skus(skus)
    product = Product(
        id=ids.new_id("prd"),
        brand_id=brand.id,
        title=catalog.check_name(title, "title", 100),
        category=category.strip()[:40],
    )
    rows = [
        Sku(id=ids.new_id("sku"), product_id=product.id, spec=s.spec, price_fen=s.price_fen, stock=s.stock)
        for s in checked
    ]
    # SKUs first: a product document only becomes visible once all its SKUs exist
    Sku.objects.insert(rows, load_bulk=False)
    product.save(force_insert=True)
    return product, rows


def get_product(product_id: str) -> tuple[Product, list[Sku]]:
    product = get_or_404(Product, product_id, "product")
    return product, list(Sku.objects(product_id=product.id).order_by("id"))


def list_products(cursor: str, limit: int, brand_id: str = "") -> tuple[list[tuple[Product, list[Sku]]], str]:
    page = paging.parse(cursor, limit)
    query = Product.objects(brand_id=brand_id) if brand_id else Product.objects
    if page.after_id:
        query = query.filter(id__gt=page.after_id)
    products = list(query.order_by("id").limit(page.limit))
    skus: dict[str, list[Sku]] = {p.id: [] for p in products}
    for sku in Sku.objects(product_id__in=list(skus)).order_by("id"):
        skus[sku.product_id].append(sku)
    return [(p, skus[p.id]) for p in products], paging.next_cursor([p.id for p in products], page.limit)


def get_sku(sku_id: str) -> Sku:
    return get_or_404(Sku, sku_id, "sku")
