"""Inside an eventlet process, the kit's helper keeps the hub running during a gRPC call;
a plain blocking stub call freezes it (the reason the helper exists)."""

import json
import subprocess
import sys
import time

import pytest

from mallkit import grpc_server
from socialmall.retail.v1 import retail_pb2 as pb
from socialmall.retail.v1 import retail_pb2_grpc as pb_grpc

CHILD = """
import eventlet
eventlet.monkey_patch()
import json, sys
from mallkit.eventlet_grpc import eventlet_client
from mallkit.grpc_client import ServiceClient
from socialmall.retail.v1 import retail_pb2 as pb, retail_pb2_grpc as pb_grpc

ticks = []
def ticker():
    while True:
        ticks.append(1)
        eventlet.sleep(0.01)

eventlet.spawn(ticker)
eventlet.sleep(0.05)
client_class = {"eventlet": eventlet_client, "blocking": ServiceClient}[sys.argv[2]]
client = client_class(pb_grpc.RetailServiceStub, sys.argv[1], deadline=5)
callers = int(sys.argv[3])
before = len(ticks)
replies = list(eventlet.GreenPool(callers).imap(
    lambda i: client.GetBrand(pb.GetBrandRequest(brand_id=f"b{i}")).brand.id, range(callers)))
print(json.dumps({"ticks": len(ticks) - before, "replies": replies}))
"""


QUEUED = """
import eventlet
eventlet.monkey_patch()
import json, sys, time
from mallkit import errors
from mallkit.eventlet_grpc import eventlet_client
from socialmall.retail.v1 import retail_pb2 as pb, retail_pb2_grpc as pb_grpc

client = eventlet_client(pb_grpc.RetailServiceStub, sys.argv[1], deadline=0.8)

def call(i):
    try:
        return client.GetBrand(pb.GetBrandRequest(brand_id=f"b{i}")).brand.id
    except errors.Unavailable as exc:
        return exc.code

started = time.monotonic()
outcomes = list(eventlet.GreenPool(3).imap(call, range(3)))
print(json.dumps({"outcomes": outcomes, "seconds": time.monotonic() - started}))
"""


class SlowRetail(pb_grpc.RetailServiceServicer):
    def GetBrand(self, request, ctx):
        time.sleep(0.5)
        return pb.GetBrandResponse(brand=pb.Brand(id=request.brand_id))


@pytest.fixture(scope="module")
def target():
    app = grpc_server.build(
        name="slow",
        port=0,
        host="127.0.0.1",
        register=lambda s: pb_grpc.add_RetailServiceServicer_to_server(SlowRetail(), s),
        service_names=[],
        checks={},
    ).start()
    yield f"127.0.0.1:{app.port}"
    app.stop(grace=0)


def ticks_during_calls(target: str, mode: str, callers: int) -> int:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, target, mode, str(callers)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["replies"] == [f"b{i}" for i in range(callers)]
    return result["ticks"]


def test_eventlet_helper_keeps_other_green_threads_running(target):
    assert ticks_during_calls(target, "eventlet", 1) >= 20  # ~50 ticks of 10 ms in a 0.5 s call


def test_concurrent_green_callers_all_get_their_replies(target):
    # calls to one target are serialized (see eventlet_grpc's docstring): 4 x 0.5 s, hub alive throughout
    assert ticks_during_calls(target, "eventlet", 4) >= 100


def test_a_blocking_stub_freezes_the_hub(target):
    assert ticks_during_calls(target, "blocking", 1) <= 2


def test_a_call_queued_behind_slow_ones_keeps_its_own_deadline(target):
    # three 0.5 s calls at once with a 0.8 s deadline: they run one at a time, so only the first fits
    out = subprocess.run([sys.executable, "-c", QUEUED, target], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["outcomes"][0] == "b0" and set(result["outcomes"][1:]) == {"deadline_exceeded"}
    assert result["seconds"] < 1.2  # not the 1.5 s three calls in a row would take
