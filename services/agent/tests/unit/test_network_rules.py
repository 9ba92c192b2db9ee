"""Pure rules of the agent network: no I/O."""

import pytest

from agent.domain import network
from agent.domain.network import Upline
from mallkit.errors import InvalidArgument


def test_a_root_agent_is_depth_one_and_its_own_root():
    placement = network.place("agt_1", "u_1", None)
    assert placement == network.Placement(upline_id="", root_id="agt_1", depth=1)


def test_an_invited_agent_sits_one_level_below_its_upline_in_the_same_network():
    upline = Upline(agent_id="agt_2", user_id="u_2", depth=2, root_id="agt_1")
    assert network.place("agt_3", "u_3", upline) == network.Placement(upline_id="agt_2", root_id="agt_1", depth=3)


def test_no_self_invite():
    with pytest.raises(InvalidArgument) as err:
        network.place("agt_9", "u_1", Upline("agt_1", "u_1", 1, "agt_1"))
    assert err.value.code == "self_invite"


@pytest.mark.parametrize(
    ("depth", "headcount", "kinds"),
    [
        (1, 1, []),
        (2, 29, []),
        (3, 3, ["network_depth"]),
        (2, 30, ["network_headcount"]),
        (4, 31, ["network_depth", "network_headcount"]),
    ],
)
def test_alarms_fire_at_exactly_three_levels_or_thirty_people(depth, headcount, kinds):
    alarms = network.network_alarms(depth, headcount)
    assert [a.kind for a in alarms] == kinds
    assert all(a.level == "warning" for a in alarms)


def test_alarm_records_value_and_threshold():
    (alarm,) = network.network_alarms(3, 1)
    assert (alarm.value, alarm.threshold) == (3, network.ALARM_DEPTH)


def test_invite_codes_are_eight_unambiguous_characters_and_differ():
    codes = {network.new_invite_code() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        assert len(code) == 8 and set(code) <= set(network.INVITE_CODE_ALPHABET)
        assert network.normalize_invite_code(code) == code
    assert not set("ILOU") & set(network.INVITE_CODE_ALPHABET)


def test_typed_invite_codes_are_normalized_and_malformed_ones_refused():
    assert network.normalize_invite_code("  abcd2345 ") == "ABCD2345"
    for bad in ["ABCD234", "ABCD23456", "ABCD-345", "ABCDO345"]:
        with pytest.raises(InvalidArgument) as err:
            network.normalize_invite_code(bad)
        assert err.value.code == "invalid_invite_code"


@pytest.mark.parametrize("name", ["", "   ", "x" * 41])
def test_display_name_must_be_1_to_40_characters(name):
    with pytest.raises(InvalidArgument) as err:
        network.check_display_name(name)
    assert err.value.code == "invalid_display_name"


def test_display_name_is_trimmed_and_40_is_allowed():
    assert network.check_display_name("  Amy  ") == "Amy"
    assert network.check_display_name("x" * 40) == "x" * 40
