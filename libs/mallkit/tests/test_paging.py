import pytest

from mallkit import paging
from mallkit.errors import InvalidArgument


@pytest.mark.parametrize("cursor", ["é", "\udcff", "abc"])  # not ASCII; not base64 of UTF-8
def test_a_cursor_this_api_did_not_return_is_an_invalid_argument(cursor: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        paging.parse(cursor, 10)
    assert err.value.code == "invalid_cursor"


def test_a_returned_cursor_reads_back() -> None:
    assert paging.parse(paging.next_cursor(["a", "b"], 2), 2).after_id == "b"
