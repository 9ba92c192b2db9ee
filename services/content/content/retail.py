"""The one thing content asks retail: does a SKU exist.

Service functions take any object with retail's `GetSku` (a `mallkit.grpc_client.ServiceClient`
in the API, `mallkit.eventlet_grpc.eventlet_client` in nameko code, a fake in unit tests).
"""

from __future__ import annotations

from typing import Protocol

from mallkit.errors import NotFound
from socialmall.retail.v1 import retail_pb2


class SkuSource(Protocol):
    def GetSku(self, request: retail_pb2.GetSkuRequest) -> retail_pb2.GetSkuResponse: ...


def require_sku(retail: SkuSource, sku_id: str) -> None:
    """NotFound `sku_not_found` if retail has no such SKU.

    Other failures pass through unchanged (Unavailable stays Unavailable, so callers may retry).
    """
    try:
        retail.GetSku(retail_pb2.GetSkuRequest(sku_id=sku_id))
    except NotFound as exc:
        raise NotFound(f"sku {sku_id!r} not found", "sku_not_found") from exc
