import json

import pytest

from mallkit.errors import InvalidArgument, Unauthenticated
from retail_s2b2c.domain import payments
from retail_s2b2c.domain.orders import Line, PricedLine, check_lines, total_fen

# catalog rules: tests/unit/test_catalog_domain.py


def test_lines_are_validated_and_sorted_for_reservation():
    assert check_lines([Line("sku_b", 1), Line("sku_a", 2)]) == [Line("sku_a", 2), Line("sku_b", 1)]
    for bad, code in [
        ([Line("a", 0)], "invalid_quantity"),
        ([Line("a", 1000)], "invalid_quantity"),
        ([Line("a", 1), Line("a", 2)], "duplicate_sku"),
        ([], "invalid_lines"),
    ]:
        with pytest.raises(InvalidArgument) as err:
            check_lines(bad)
        assert err.value.code == code


def test_total_is_exact_integer_fen():
    assert total_fen([PricedLine("a", 3, 333), PricedLine("b", 1, 1)]) == 1000


def _body(**overrides) -> bytes:
    raw = {"out_trade_no": "ord_1", "transaction_id": "tx_1", "amount_fen": 1990, "status": "SUCCESS"}
    return json.dumps({**raw, **overrides}).encode()


def test_notify_signature_and_content():
    body = _body()
    notice = payments.verify(body, payments.sign(body, "s3cret"), "s3cret")
    assert notice == payments.PaymentNotice("ord_1", "tx_1", 1990, "SUCCESS")
    with pytest.raises(Unauthenticated) as err:
        payments.verify(body, payments.sign(body, "other"), "s3cret")
    assert err.value.code == "invalid_signature"
    tampered = _body(amount_fen=1)
    with pytest.raises(Unauthenticated):
        payments.verify(tampered, payments.sign(body, "s3cret"), "s3cret")
    broken = b'{"out_trade_no": "x"}'
    with pytest.raises(InvalidArgument) as err:
        payments.verify(broken, payments.sign(broken, "s3cret"), "s3cret")
    assert err.value.code == "malformed_callback"
    closed = _body(status="CLOSED")
    with pytest.raises(InvalidArgument):
        payments.verify(closed, payments.sign(closed, "s3cret"), "s3cret")


def test_amount_must_match_the_order():
    payments.check_amount(payments.PaymentNotice("o", "t", 100, "SUCCESS"), 100)
    with pytest.raises(InvalidArgument) as err:
        payments.check_amount(payments.PaymentNotice("o", "t", 99, "SUCCESS"), 100)
    assert err.value.code == "amount_mismatch"
