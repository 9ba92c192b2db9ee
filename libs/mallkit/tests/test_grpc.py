"""The gRPC bootstrap and clients, with a real grpcio server in-process."""

import threading
import time

import grpc
import pymongo.errors
import pytest
import redis.exceptions
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from mallkit import context, errors, grpc_server
from mallkit.grpc_client import ServiceClient
from socialmall.retail.v1 import retail_pb2 as pb
from socialmall.retail.v1 import retail_pb2_grpc as pb_grpc

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["RetailService"].full_name
# what a servicer's own MongoDB or Redis raises while unreachable
STORE_FAILURES = {
    "redis-refused": redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6379"),
    "redis-slow": redis.exceptions.TimeoutError("Timeout reading from socket"),
    "mongo-reconnecting": pymongo.errors.AutoReconnect("connection closed"),
    "mongo-no-server": pymongo.errors.ServerSelectionTimeoutError("127.0.0.1:27017: connection refused"),
    "mongo-slow": pymongo.errors.NetworkTimeout("timed out"),
    "mongo-refused": pymongo.errors.ConnectionFailure("refused"),
}


class FakeRetail(pb_grpc.RetailServiceServicer):
    def __init__(self):
        self.calls: dict[str, int] = {}
        self.seen_callers: list[context.Caller] = []
        self.seen_time_left: list[float | None] = []  # what the served call's deadline left
        self.seen_traces: list[context.Trace] = []

    def _count(self, name):
        self.calls[name] = self.calls.get(name, 0) + 1

    def GetBrand(self, request, ctx):
        self._count("GetBrand")
        self.seen_callers.append(context.caller())
        self.seen_traces.append(context.trace())
        until = context.deadline()
        self.seen_time_left.append(None if until is None else until - time.monotonic())
        if request.brand_id == "missing":
            raise errors.NotFound("no such brand", "brand_not_found")
        if request.brand_id == "chatty":  # details past what gRPC clients accept in metadata
            raise errors.AlreadyExists("you have a brand", "brand_exists", {"note": "x" * 20_000})
        if request.brand_id == "taken":
            raise errors.AlreadyExists("you have a brand", "brand_exists", {"brand_id": "brand_1", "brands": 1})
        if request.brand_id == "boom":
            raise RuntimeError("bug")
        if request.brand_id == "slow":
            time.sleep(1.0)
        if request.brand_id == "flaky":
            ctx.abort(grpc.StatusCode.UNAVAILABLE, "try again")
        if request.brand_id == "shutting-down":
            ctx.abort(grpc.StatusCode.CANCELLED, "the server is stopping")
        if request.brand_id in STORE_FAILURES:
            raise STORE_FAILURES[request.brand_id]
        if request.brand_id == "upstream-broken":  # what a client raises for another service's INTERNAL
            raise errors.Internal("upstream failed: INTERNAL: stack trace of another service", "upstream_error")
        return pb.GetBrandResponse(brand=pb.Brand(id=request.brand_id, owner_id=context.request_id()))

    def CreateBrand(self, request, ctx):
        self._count("CreateBrand")
        ctx.abort(grpc.StatusCode.UNAVAILABLE, "try again")


@pytest.fixture
def server():
    fake = FakeRetail()
    healthy = threading.Event()
    healthy.set()

    def check():
        if not healthy.is_set():
            raise ConnectionError("mongo down")

    app = grpc_server.build(
        name="test",
        port=0,
        host="127.0.0.1",
        register=lambda s: pb_grpc.add_RetailServiceServicer_to_server(fake, s),
        service_names=[SERVICE_NAME],
        checks={"mongo": check},
    ).start()
    yield app, fake, healthy
    app.stop(grace=0)


def test_domain_errors_become_statuses_with_a_code_trailer(server):
    app, _, _ = server
    with grpc.insecure_channel(f"127.0.0.1:{app.port}") as channel:
        stub = pb_grpc.RetailServiceStub(channel)
        with pytest.raises(grpc.RpcError) as err:
            stub.GetBrand(pb.GetBrandRequest(brand_id="missing"), timeout=2, metadata=[("x-request-id", "r1")])
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
        assert err.value.details() == "no such brand"
        assert ("error-code", "brand_not_found") in err.value.trailing_metadata()
        assert "error-details" not in dict(err.value.trailing_metadata())
        with pytest.raises(grpc.RpcError) as err:
            stub.GetBrand(pb.GetBrandRequest(brand_id="taken"), timeout=2)
        assert ("error-details", '{"brand_id":"brand_1","brands":1}') in err.value.trailing_metadata()
        with pytest.raises(grpc.RpcError) as err:
            stub.GetBrand(pb.GetBrandRequest(brand_id="chatty"), timeout=2)
        trailers = dict(err.value.trailing_metadata())
        assert (err.value.code(), trailers["error-code"], "error-details" in trailers) == (
            grpc.StatusCode.ALREADY_EXISTS,  # not RESOURCE_EXHAUSTED: the details were left out
            "brand_exists",
            False,
        )
        with pytest.raises(grpc.RpcError) as err:
            stub.GetBrand(pb.GetBrandRequest(brand_id="boom"), timeout=2, metadata=[("x-request-id", "r2")])
        assert err.value.code() == grpc.StatusCode.INTERNAL
        assert "r2" in err.value.details() and "bug" not in err.value.details()
        with pytest.raises(grpc.RpcError) as err:
            stub.GetBrand(pb.GetBrandRequest(brand_id="upstream-broken"), timeout=2, metadata=[("x-request-id", "r3")])
        assert (err.value.code(), ("error-code", "internal") in err.value.trailing_metadata()) == (
            grpc.StatusCode.INTERNAL,
            True,
        )
        assert "r3" in err.value.details() and "stack trace" not in err.value.details()
        # a client that gets such an answer raises Internal in turn: still an internal error, not a 409
        client = ServiceClient(pb_grpc.RetailServiceStub, f"127.0.0.1:{app.port}", deadline=2)
        with pytest.raises(errors.Internal):
            client.GetBrand(pb.GetBrandRequest(brand_id="boom"))
        client.close()


@pytest.mark.parametrize("failure", STORE_FAILURES)
def test_an_unreachable_store_is_unavailable_not_internal(server, failure):
    app, _, _ = server
    with grpc.insecure_channel(f"127.0.0.1:{app.port}") as channel:
        stub = pb_grpc.RetailServiceStub(channel)
        with pytest.raises(grpc.RpcError) as err:
            stub.GetBrand(pb.GetBrandRequest(brand_id=failure), timeout=2, metadata=[("x-request-id", "r4")])
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    assert ("error-code", "dependency_unavailable") in err.value.trailing_metadata()
    assert ("x-request-id", "r4") in err.value.trailing_metadata()
    assert "127.0.0.1" not in err.value.details()  # the store's address stays in the service's log
    # what the gateway gets from its client: Unavailable, which it answers 503 with Retry-After
    client = ServiceClient(pb_grpc.RetailServiceStub, f"127.0.0.1:{app.port}", deadline=2)
    with pytest.raises(errors.Unavailable) as unavailable:
        client.GetBrand(pb.GetBrandRequest(brand_id=failure))
    assert unavailable.value.code == "dependency_unavailable"
    client.close()


def test_client_propagates_identity_and_maps_errors_back(server):
    app, fake, _ = server
    client = ServiceClient(pb_grpc.RetailServiceStub, f"127.0.0.1:{app.port}", deadline=2)
    who = context.Caller("u_1", frozenset({"brand", "admin"}))
    with context.bound("req-42", who):
        reply = client.GetBrand(pb.GetBrandRequest(brand_id="b1"))
        with pytest.raises(errors.NotFound) as err:
            client.GetBrand(pb.GetBrandRequest(brand_id="missing"))
        with pytest.raises(errors.AlreadyExists) as taken:
            client.GetBrand(pb.GetBrandRequest(brand_id="taken"))
    assert (taken.value.code, taken.value.details) == ("brand_exists", {"brand_id": "brand_1", "brands": 1})
    assert reply.brand.owner_id == "req-42"  # the server saw our request id
    assert fake.seen_callers[0] == who
    service_client = ServiceClient(pb_grpc.RetailServiceStub, f"127.0.0.1:{app.port}", caller_service="groupbuy")
    with context.bound("req-43", who):
        service_client.GetBrand(pb.GetBrandRequest(brand_id="b2"))
    assert fake.seen_callers[-1] == context.Caller("u_1", frozenset({"brand", "admin"}), "groupbuy")
    service_client.close()
    assert (err.value.code, err.value.details) == ("brand_not_found", {})
    client.close()


def test_a_trace_goes_on_with_every_call_made_while_serving(server):
    app, fake, _ = server
    client = ServiceClient(pb_grpc.RetailServiceStub, f"127.0.0.1:{app.port}", deadline=2)
    trace = context.Trace("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "congo=t61rcWkgMzE")
    with context.bound("req-1", trace=trace):
        client.GetBrand(pb.GetBrandRequest(brand_id="b1"))
    client.GetBrand(pb.GetBrandRequest(brand_id="b2"))  # outside any request: no trace
    assert fake.seen_traces == [trace, context.NO_TRACE]
    client.close()


def test_a_stopping_server_or_a_method_not_deployed_yet_is_unavailable(server):
    app, _, _ = server
    client = ServiceClient(pb_grpc.RetailServiceStub, f"127.0.0.1:{app.port}", deadline=2)
    with pytest.raises(errors.Unavailable) as cancelled:
        client.GetBrand(pb.GetBrandRequest(brand_id="shutting-down"))
    with pytest.raises(errors.Unavailable) as unimplemented:
        client.CreateOrder(pb.CreateOrderRequest())  # the servicer has no such method
    assert (cancelled.value.code, unimplemented.value.code) == ("cancelled", "unimplemented")
    client.close()


def test_every_call_has_a_deadline(server):
    app, _, _ = server
    client = ServiceClient(pb_grpc.RetailServiceStub, f"127.0.0.1:{app.port}", deadline=0.2)
    started = time.monotonic()
    with pytest.raises(errors.Unavailable):
        client.GetBrand(pb.GetBrandRequest(brand_id="slow"))
    assert time.monotonic() - started < 0.9
    client.close()


def test_retries_stay_within_the_calls_deadline(server):
    app, fake, _ = server
    client = ServiceClient(pb_grpc.RetailServiceStub, f"127.0.0.1:{app.port}", deadline=0.2)
    started = time.monotonic()
    with pytest.raises(errors.Unavailable):
        client.GetBrand(pb.GetBrandRequest(brand_id="flaky"))  # backoffs 0.05 then 0.2: no third try
    # without a deadline for the whole call: three tries and at least 0.25 s of backoff
    assert time.monotonic() - started < 0.35 and fake.calls["GetBrand"] <= 2
    client.close()


def test_a_call_made_while_serving_another_ends_with_that_ones_deadline(server):
    app, fake, _ = server
    client = ServiceClient(pb_grpc.RetailServiceStub, f"127.0.0.1:{app.port}", deadline=2)
    with context.bound("r-late", until=time.monotonic() - 0.01), pytest.raises(errors.Unavailable) as err:
        client.GetBrand(pb.GetBrandRequest(brand_id="b1"))  # the caller has already given up: not sent
    assert err.value.code == "deadline_exceeded" and "GetBrand" not in fake.calls
    client.GetBrand(pb.GetBrandRequest(brand_id="b1"))  # served with the client's 2 s deadline bound
    assert 1.0 < fake.seen_time_left[-1] <= 2.1
    started = time.monotonic()
    with context.bound("r-short", until=time.monotonic() + 0.2), pytest.raises(errors.Unavailable):
        client.GetBrand(pb.GetBrandRequest(brand_id="slow"))  # 1 s of work; the caller waits 0.2 s
    assert time.monotonic() - started < 0.8
    client.close()


def test_only_idempotent_calls_are_retried_on_unavailable(server):
    app, fake, _ = server
    client = ServiceClient(pb_grpc.RetailServiceStub, f"127.0.0.1:{app.port}", deadline=2)
    with pytest.raises(errors.Unavailable):
        client.GetBrand(pb.GetBrandRequest(brand_id="flaky"))
    with pytest.raises(errors.Unavailable):
        client.CreateBrand(pb.CreateBrandRequest(name="x"))
    assert fake.calls == {"GetBrand": 3, "CreateBrand": 1}
    client.close()


def test_health_follows_readiness_checks_and_reflection_lists_services(server):
    app, _, healthy = server
    with grpc.insecure_channel(f"127.0.0.1:{app.port}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        ask = health_pb2.HealthCheckRequest(service=SERVICE_NAME)
        assert health.Check(ask, timeout=2).status == health_pb2.HealthCheckResponse.SERVING
        healthy.clear()
        app.refresh_health()
        assert health.Check(ask, timeout=2).status == health_pb2.HealthCheckResponse.NOT_SERVING
        reflect = reflection_pb2_grpc.ServerReflectionStub(channel)
        replies = reflect.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
        names = {s.name for s in next(replies).list_services_response.service}
        assert {SERVICE_NAME, "grpc.health.v1.Health"} <= names


def test_container_healthcheck_reads_grpc_health_then_falls_back_to_http(server):
    from mallkit.healthcheck import healthy
    from mallkit.testing import free_port

    app, _, healthy_flag = server
    nobody = str(free_port())
    assert healthy("auto", str(app.port), nobody) is True
    healthy_flag.clear()
    app.refresh_health()
    assert healthy("grpc", str(app.port), nobody) is False
    assert healthy("auto", nobody, nobody) is False  # nothing listens anywhere
