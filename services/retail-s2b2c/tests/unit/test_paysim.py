import json

import httpx

from retail_s2b2c import paysim
from retail_s2b2c.domain.payments import sign, verify


def test_the_simulator_sends_a_signed_callback_the_service_accepts(monkeypatch, capsys):
    monkeypatch.setenv("PAYMENT_HMAC_SECRET", "sim-secret")
    sent = []

    def fake_post(url, content, headers, timeout):
        sent.append((url, content, headers))
        return httpx.Response(200, json={"code": "SUCCESS"})

    monkeypatch.setattr(httpx, "post", fake_post)
    assert paysim.main(["ord_1", "2500", "--notify-url", "http://gw/notify", "--times", "2"]) == 0
    assert len(sent) == 2 and sent[0] == sent[1]  # a redelivery is byte-identical
    url, body, headers = sent[0]
    assert url == "http://gw/notify" and headers["X-Pay-Signature"] == sign(body, "sim-secret")
    notice = verify(body, headers["X-Pay-Signature"], "sim-secret")
    assert (notice.order_id, notice.amount_fen, notice.status) == ("ord_1", 2500, "SUCCESS")
    assert json.loads(body)["transaction_id"].startswith("sim_")
