"""StoreService: micro-stores, their products, sharing and binding; translates protos to use cases."""

from __future__ import annotations

from mallkit.protos import money, timestamp
from retail_s2b2c.config import RetailSettings
from retail_s2b2c.documents.stores import Binding, Store
from retail_s2b2c.service import stores
from socialmall.common.v1 import page_pb2
from socialmall.retail.v1 import stores_pb2 as pb
from socialmall.retail.v1 import stores_pb2_grpc as pb_grpc


def store_pb(store: Store) -> pb.Store:
    return pb.Store(
        id=store.id,
        owner_id=store.owner_id,
        name=store.name,
        avatar_url=store.avatar_url,
        intro=store.intro,
        share_code=store.share_code,
        upline_owner_id=store.upline_owner_id,
        created_at=timestamp(store.created_at),
    )


def listing_pb(listing: stores.Listing) -> pb.StoreProduct:
    item = listing.item
    return pb.StoreProduct(
        store_id=item.store_id,
        sku_id=item.sku_id,
        product_id=item.product_id,
        title=listing.title,
        spec=listing.spec,
        price=money(item.price_fen),
    )


def binding_pb(binding: Binding) -> pb.Binding:
    return pb.Binding(
        consumer_id=binding.consumer_id,
        store_id=binding.store_id,
        bound_at=timestamp(binding.bound_at),
        expires_at=timestamp(binding.expires_at),
    )


class StoreServicer(pb_grpc.StoreServiceServicer):
    def __init__(self, settings: RetailSettings) -> None:
        self.settings = settings

    def OpenStore(self, request, context):
        store = stores.open_store(request.name, request.avatar_url, request.intro, request.invite_code)
        return pb.OpenStoreResponse(store=store_pb(store))

    def GetStore(self, request, context):
        return pb.GetStoreResponse(store=store_pb(stores.get_store(request.store_id)))

    def GetMyStore(self, request, context):
        return pb.GetMyStoreResponse(store=store_pb(stores.get_my_store()))

    def UpdateStore(self, request, context):
        store = stores.update_store(request.store_id, request.name, request.avatar_url, request.intro)
        return pb.UpdateStoreResponse(store=store_pb(store))

    def PutStoreProduct(self, request, context):
        listing = stores.put_store_product(request.store_id, request.sku_id, request.price.fen)
        return pb.PutStoreProductResponse(product=listing_pb(listing))

    def RemoveStoreProduct(self, request, context):
        stores.remove_store_product(request.store_id, request.sku_id)
        return pb.RemoveStoreProductResponse()

    def ListStoreProducts(self, request, context):
        listings, cursor = stores.list_store_products(request.store_id, request.page.cursor, request.page.limit)
        return pb.ListStoreProductsResponse(
            products=[listing_pb(x) for x in listings], page=page_pb2.PageResponse(next_cursor=cursor)
        )

    def GetSharePayload(self, request, context):
        share = stores.share_payload(request.store_id, self.settings)
        return pb.GetSharePayloadResponse(
            share_code=share.share_code, link=share.link, qr_content=share.qr_content, title=share.title
        )

    def BindConsumer(self, request, context):
        result = stores.bind_consumer(request.share_code, self.settings)
        return pb.BindConsumerResponse(binding=binding_pb(result.binding), newly_bound=result.newly_bound)

    def GetMyBinding(self, request, context):
        return pb.GetMyBindingResponse(binding=binding_pb(stores.get_my_binding()))
