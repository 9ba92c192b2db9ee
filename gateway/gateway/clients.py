"""One gRPC client per service, opened for the app's lifetime, and the per-request `Rpc` handle."""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateway.settings import GatewaySettings
from mallkit.context import NO_TRACE, Caller, Trace, to_metadata
from mallkit.grpc_client import AsyncServiceClient
from socialmall.agent.v1 import agent_pb2_grpc
from socialmall.content.v1 import content_pb2_grpc
from socialmall.groupbuy.v1 import groupbuy_pb2_grpc
from socialmall.guide.v1 import guide_pb2_grpc
from socialmall.retail.v1 import retail_pb2_grpc, stores_pb2_grpc, wallet_pb2_grpc

STUBS: dict[str, type] = {
    "retail": retail_pb2_grpc.RetailServiceStub,
    "groupbuy": groupbuy_pb2_grpc.GroupbuyServiceStub,
    "content": content_pb2_grpc.ContentServiceStub,
    "agent": agent_pb2_grpc.AgentServiceStub,
    "guide": guide_pb2_grpc.GuideServiceStub,
}
# Services another service's process serves on its own port, reached over that service's channel.
SHARED: dict[str, tuple[str, type]] = {
    "stores": ("retail", stores_pb2_grpc.StoreServiceStub),
    "wallet": ("retail", wallet_pb2_grpc.WalletServiceStub),
    "bargain": ("groupbuy", groupbuy_pb2_grpc.BargainServiceStub),
}
# Beyond Get*/List*: methods safe to retry on UNAVAILABLE. CreatePayment is get-or-create per order;
# the retail contract makes HandlePaymentNotify, ShipOrder (same tracking), ConfirmReceipt and
# ReviewRefund repeatable, RequestRefund idempotent by its (required) key; store listings are upserts
# and deletes; the gateway always sends RequestWithdrawal a key; a repeated review decision returns
# the withdrawal. ResolveLink is not: it counts a click; nor ShareTeam, which may count a share.
# AdjustStock is not without a key; nor are PlaceSeatOrder, PlaceSoloOrder and BuyBargain, which
# carry no key to groupbuy (the gateway's Idempotency-Key guards them at the edge).
IDEMPOTENT: dict[str, tuple[str, ...]] = {
    "retail": ("CreatePayment", "HandlePaymentNotify", "ShipOrder", "ConfirmReceipt", "RequestRefund", "ReviewRefund"),
    "stores": ("PutStoreProduct", "RemoveStoreProduct"),
    "wallet": ("RequestWithdrawal", "ReviewWithdrawal", "UpdatePayoutPolicy"),
}
READINESS_TIMEOUT_SECONDS = 1.0


@dataclass(frozen=True)
class Clients:
    retail: AsyncServiceClient
    groupbuy: AsyncServiceClient
    content: AsyncServiceClient
    agent: AsyncServiceClient
    guide: AsyncServiceClient
    stores: AsyncServiceClient  # on retail's channel
    wallet: AsyncServiceClient  # on retail's channel
    bargain: AsyncServiceClient  # on groupbuy's channel

    @classmethod
    def open(cls, settings: GatewaySettings) -> Clients:
        """Must run inside the serving event loop (grpc.aio channels bind to it)."""
        own = {
            name: AsyncServiceClient(
                stub,
                settings.targets[name],
                deadline=settings.kit.grpc_deadline_seconds,
                idempotent=IDEMPOTENT.get(name, ()),
            )
            for name, stub in STUBS.items()
        }
        shared = {name: _on_channel(own[host], stub, IDEMPOTENT.get(name, ())) for name, (host, stub) in SHARED.items()}
        return cls(**own, **shared)

    def by_name(self) -> dict[str, AsyncServiceClient]:
        """One client per channel (the shared ones are closed and checked with their host)."""
        return {name: getattr(self, name) for name in STUBS}

    async def close(self) -> None:
        await asyncio.gather(*(client.close() for client in self.by_name().values()))

    async def health(self) -> dict[str, str]:
        """grpc.health.v1 status of every service: SERVING, NOT_SERVING, … or the gRPC error code."""
        names = list(STUBS)
        results = await asyncio.gather(*(_check(getattr(self, name)) for name in names))
        return dict(zip(names, results, strict=True))


def _on_channel(host: AsyncServiceClient, stub_class: type, idempotent: tuple[str, ...]) -> AsyncServiceClient:
    """A client for another service on `host`'s channel (same target, deadline and retries)."""
    client = copy.copy(host)
    client.stub = stub_class(host.channel)
    client.idempotent = set(idempotent)
    return client


async def _check(client: AsyncServiceClient) -> str:
    stub = health_pb2_grpc.HealthStub(client.channel)
    try:
        reply = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=READINESS_TIMEOUT_SECONDS)
    except grpc.aio.AioRpcError as err:
        return err.code().name
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)


class Upstream:
    """One service as seen by one HTTP request: `await rpc.retail("GetSku", request)`."""

    def __init__(self, client: AsyncServiceClient, metadata: list[tuple[str, str]]) -> None:
        self._client = client
        self._metadata = metadata

    async def __call__(self, method: str, request: Any) -> Any:
        return await self._client.call(method, request, self._metadata)


class Rpc:
    """The gRPC side of one HTTP request: every call carries its request id, trace and verified caller."""

    def __init__(self, clients: Clients, request_id: str, caller: Caller, trace: Trace = NO_TRACE) -> None:
        self.request_id = request_id
        self.caller = caller
        self.metadata = to_metadata(request_id, caller, trace)
        self.retail = Upstream(clients.retail, self.metadata)
        self.groupbuy = Upstream(clients.groupbuy, self.metadata)
        self.content = Upstream(clients.content, self.metadata)
        self.agent = Upstream(clients.agent, self.metadata)
        self.guide = Upstream(clients.guide, self.metadata)
        self.stores = Upstream(clients.stores, self.metadata)
        self.wallet = Upstream(clients.wallet, self.metadata)
        self.bargain = Upstream(clients.bargain, self.metadata)
