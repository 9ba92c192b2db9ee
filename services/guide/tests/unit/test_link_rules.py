"""Pure rules of tracked links: no I/O."""

from datetime import date

import pytest

from guide.domain import links
from mallkit.errors import InvalidArgument


def test_codes_are_seven_base62_characters_and_differ():
    codes = {links.new_code() for _ in range(200)}
    assert len(codes) == 200
    assert len(links.CODE_ALPHABET) == 62
    for code in codes:
        assert len(code) == 7 and set(code) <= set(links.CODE_ALPHABET)
        assert links.check_code(code) == code


@pytest.mark.parametrize("bad", ["", "abc123", "abc12345", "abc-123", "abc 123", "abcdé12", "../../x"])
def test_malformed_codes_are_refused(bad):
    with pytest.raises(InvalidArgument) as err:
        links.check_code(bad)
    assert err.value.code == "invalid_code"


def test_target_url_is_the_product_page_carrying_the_link():
    assert (
        links.target_url("https://mall.example/", "sku_1", "lnk_9")
        == "https://mall.example/api/v1/skus/sku_1?kol_link=lnk_9"
    )


def test_uv_is_one_key_per_link_per_day():
    assert links.uv_key("lnk_1", date(2025, 1, 2)) == "guide:uv:lnk_1:20250102"
    assert links.UV_TTL_SECONDS == 3 * 86400


def test_visitor_ids_are_trimmed_and_bounded():
    assert links.check_visitor_id("  v1 ") == "v1"
    assert links.check_visitor_id("") == ""
    assert links.check_visitor_id("v" * 128) == "v" * 128
    with pytest.raises(InvalidArgument) as err:
        links.check_visitor_id("v" * 129)
    assert err.value.code == "invalid_visitor_id"
