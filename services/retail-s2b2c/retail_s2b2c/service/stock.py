"""Stock adjustments by a brand's owner (or an admin): audited, idempotent, never below zero.

1. claim: insert the StockAdjustment (status pending); the unique (sku_id, idempotency_key) index
   lets exactly one of any number of same-key requests through;
2. apply: one conditional update of the SKU (a removal needs stock >= |delta|);
3. complete: mark the claim applied with the stock after it; a refused removal deletes its claim.

A same-key retry returns the SKU as it is now once the first request completed; while the first is
in flight it waits for it (briefly), and if the first was refused it tries again itself.
"""

from __future__ import annotations

import time

from mallkit import ids, mongo
from mallkit.access import ADMIN, BRAND, require_role
from mallkit.clock import now
from mallkit.errors import FailedPrecondition
from retail_s2b2c.documents.catalog import Product, Sku, StockAdjustment
from retail_s2b2c.domain import catalog
from retail_s2b2c.service.catalog import get_sku, require_brand_owner

APPLIED = "applied"
REPLAY_WAIT_SECONDS = 3.0


def adjust_stock(sku_id: str, delta: int, reason: str, idempotency_key: str = "") -> Sku:
    require_role(BRAND, ADMIN)
    sku = get_sku(sku_id)  # one not approved yet: not found but by its brand's owner
    product = Product.objects(id=sku.product_id).only("brand_id").first()
    who = require_brand_owner(product.brand_id if product else "")
    change = catalog.check_stock_change(delta, reason, idempotency_key)
    deadline = time.monotonic() + REPLAY_WAIT_SECONDS
    while True:
        adjustment_id = ids.new_id("adj")
        claim = StockAdjustment(
            id=adjustment_id,
            sku_id=sku.id,
            delta=change.delta,
            reason=change.reason,
            actor=who.user_id,
            idempotency_key=change.idempotency_key or adjustment_id,
            at=now(),
        )
        if mongo.insert_once(claim):
            return _apply(claim)
        first = StockAdjustment.objects(sku_id=sku.id, idempotency_key=change.idempotency_key).first()
        if first is not None and first.delta != change.delta:
            raise FailedPrecondition(
                f"idempotency key {change.idempotency_key!r} was used for a change of {first.delta}",
                "idempotency_key_reused",
            )
        if first is not None and first.status == APPLIED:
            return Sku.objects.get(id=sku.id)
        if time.monotonic() > deadline:
            raise FailedPrecondition("the same adjustment is still in progress; retry later", "adjustment_in_progress")
        if first is not None:
            time.sleep(0.05)  # the first request is between its claim and its stock update


def _apply(claim: StockAdjustment) -> Sku:
    condition = {"stock__gte": -claim.delta} if claim.delta < 0 else {}
    # an error here leaves the claim pending: the change may or may not have happened
    updated = Sku.objects(id=claim.sku_id, **condition).modify(new=True, inc__stock=claim.delta)
    if updated is None:
        claim.delete()
        stock = Sku.objects(id=claim.sku_id).scalar("stock").first()
        raise FailedPrecondition(
            f"sku {claim.sku_id} has {stock} in stock: cannot remove {-claim.delta}", "insufficient_stock"
        )
    StockAdjustment.objects(id=claim.id).update_one(set__status=APPLIED, set__stock_after=updated.stock)
    return updated
