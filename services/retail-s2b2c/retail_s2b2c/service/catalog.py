"""Catalog use cases: brands, products and their review, SKUs.

Visibility: an approved product (and its SKUs) is public. A product pending review or rejected is
seen only by its brand's owner and by admins; to everyone else it does not exist (NotFound).
Stock adjustments are in `service.stock`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import mongoengine as me

from mallkit import context, ids, paging
from mallkit.access import ADMIN, BRAND, get_or_404, require_role, require_user
from mallkit.clock import now
from mallkit.errors import AlreadyExists, NotFound, PermissionDenied
from retail_s2b2c.documents.catalog import Brand, Product, Sku
from retail_s2b2c.domain import catalog
from retail_s2b2c.domain.catalog import CommissionRates, ProductStatus


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


def require_brand_owner(brand_id: str) -> context.Caller:
    """The caller, if they own the brand (role brand) or are an admin."""
    who = require_role(BRAND, ADMIN)
    brand = get_brand(brand_id)
    if not who.has_role(ADMIN) and brand.owner_id != who.user_id:
        raise PermissionDenied("only the brand's owner manages its products", "not_brand_owner")
    return who


def _may_see_unapproved(product: Product) -> bool:
    who = context.caller()
    if who.has_role(ADMIN):
        return True
    return who.authenticated and Brand.objects(id=product.brand_id, owner_id=who.user_id).count() > 0


def _visible(product: Product) -> bool:
    return product.status == ProductStatus.APPROVED or _may_see_unapproved(product)


def create_product(
    brand_id: str,
    title: str,
    category: str,
    skus: Sequence[catalog.NewSku],
    *,
    image_urls: Sequence[str] = (),
    attributes: Mapping[str, str] | None = None,
    commission: CommissionRates | None = None,
) -> tuple[Product, list[Sku]]:
    """A new product waits for review: status pending_review, every SKU unsellable."""
    require_brand_owner(brand_id)
    checked = catalog.check_skus(skus)
    rates = catalog.check_commission_rates(commission or CommissionRates())
    product = Product(
        id=ids.new_id("prd"),
        brand_id=brand_id,
        title=catalog.check_name(title, "title", 100),
        category=category.strip()[:40],
        image_urls=catalog.check_image_urls(image_urls),
        attributes=catalog.check_attributes(attributes or {}),
        level1_rate_bp=rates.level1_rate_bp,
        level2_rate_bp=rates.level2_rate_bp,
        status=ProductStatus.PENDING_REVIEW,
    )
    rows = [
        Sku(
            id=ids.new_id("sku"),
            product_id=product.id,
            spec=s.spec,
            price_fen=s.price_fen,
            supply_price_fen=s.supply_price_fen,
            price_min_fen=s.price_min_fen,
            price_max_fen=s.price_max_fen,
            stock=s.stock,
            sellable=False,
        )
        for s in checked
    ]
    # SKUs first: a product document only becomes visible once all its SKUs exist
    Sku.objects.insert(rows, load_bulk=False)
    product.save(force_insert=True)
    return product, rows


def review_product(product_id: str, approve: bool, reason: str) -> tuple[Product, list[Sku]]:
    """Admins approve (all SKUs become sellable) or reject with a reason (all SKUs unsellable).

    Any product may be reviewed again (see domain.catalog.review). Each review takes the next
    `review_version` in the product's own atomic update, and the SKU update applies only to SKUs set
    by an older review, so when two admins decide at once the SKUs end as the later product write says.
    Failures fail closed: a rejection closes the SKUs before the product changes; an approval opens
    them after (a crash in between leaves an approved product unsellable until approved again).
    """
    who = require_role(ADMIN)
    decision = catalog.review(approve, reason)
    if not ids.is_valid(product_id) or not Product.objects(id=product_id).count():
        raise NotFound(f"product {product_id!r} not found", "product_not_found")
    if not decision.sellable:
        Sku.objects(product_id=product_id).update(set__sellable=False)
    product = Product.objects(id=product_id).modify(
        new=True,
        inc__review_version=1,
        set__status=decision.status,
        set__reject_reason=decision.reason,
        set__reviewed_by=who.user_id,
        set__reviewed_at=now(),
    )
    _apply_review_to_skus(product)
    return product, _skus_of(product.id)


def _apply_review_to_skus(product: Product) -> None:
    """Only over an older review: a review that lands late changes nothing."""
    Sku.objects(product_id=product.id, review_version__lt=product.review_version).update(
        set__sellable=product.status == ProductStatus.APPROVED, set__review_version=product.review_version
    )


def _skus_of(product_id: str) -> list[Sku]:
    return list(Sku.objects(product_id=product_id).order_by("id"))


def get_product(product_id: str) -> tuple[Product, list[Sku]]:
    product = get_or_404(Product, product_id, "product")
    if not _visible(product):
        raise NotFound(f"product {product_id!r} not found", "product_not_found")
    return product, _skus_of(product.id)


def _listing_scope(brand_id: str, status: ProductStatus | None) -> dict[str, object] | None:
    """The filter ListProducts may use: approved products for everyone (the default); another status
    for an admin (any brand) or a brand owner (their own brands only). None: nothing to see."""
    if status in (None, ProductStatus.APPROVED):
        return {"status": ProductStatus.APPROVED, **({"brand_id": brand_id} if brand_id else {})}
    who = require_user()
    if who.has_role(ADMIN):
        return {"status": status, **({"brand_id": brand_id} if brand_id else {})}
    owned = [b.id for b in Brand.objects(owner_id=who.user_id).only("id")]
    if brand_id and brand_id not in owned:
        raise PermissionDenied("only the brand's owner sees its unapproved products", "not_brand_owner")
    return {"status": status, "brand_id__in": [brand_id] if brand_id else owned} if owned else None


def list_products(
    cursor: str, limit: int, brand_id: str = "", status: ProductStatus | None = None
) -> tuple[list[tuple[Product, list[Sku]]], str]:
    page = paging.parse(cursor, limit)
    scope = _listing_scope(brand_id, status)
    if scope is None:
        return [], ""
    query = Product.objects(**scope)
    if page.after_id:
        query = query.filter(id__gt=page.after_id)
    products = list(query.order_by("id").limit(page.limit))
    skus: dict[str, list[Sku]] = {p.id: [] for p in products}
    for sku in Sku.objects(product_id__in=list(skus)).order_by("id") if skus else []:
        skus[sku.product_id].append(sku)
    return [(p, skus[p.id]) for p in products], paging.next_cursor([p.id for p in products], page.limit)


def get_sku(sku_id: str) -> Sku:
    """A SKU follows its product's visibility."""
    sku = get_or_404(Sku, sku_id, "sku")
    if not sku.sellable:
        product = Product.objects(id=sku.product_id).first()
        if product is None or not _visible(product):
            raise NotFound(f"sku {sku_id!r} not found", "sku_not_found")
    return sku
