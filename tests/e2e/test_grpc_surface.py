"""Every service's gRPC API answers the standard health check and lists itself by reflection."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

pytestmark = pytest.mark.e2e

SERVICES = [
    (50051, "socialmall.retail.v1.RetailService"),
    (50052, "socialmall.groupbuy.v1.GroupbuyService"),
    (50053, "socialmall.content.v1.ContentService"),
    (50054, "socialmall.agent.v1.AgentService"),
    (50055, "socialmall.guide.v1.GuideService"),
]


@pytest.mark.parametrize(("port", "service"), SERVICES)
def test_health_and_reflection(platform, port, service):
    with grpc.insecure_channel(f"127.0.0.1:{port + platform.offset}") as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for name in ("", service):
            reply = health.Check(health_pb2.HealthCheckRequest(service=name), timeout=3)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
        reflect = reflection_pb2_grpc.ServerReflectionStub(channel)
        listing = next(reflect.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")])))
        names = {s.name for s in listing.list_services_response.service}
        assert {service, "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"} <= names
        described = next(
            reflect.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(file_containing_symbol=service)]))
        )
        assert described.file_descriptor_response.file_descriptor_proto
