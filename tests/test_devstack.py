"""The runner's port check: the platform's ports lie where client sockets may hold them."""

import socket

from devstack import GATEWAY_PORT, busy_ports

OFFSET = 1900


def test_a_port_held_by_any_socket_is_reported_busy_and_free_again_once_released():
    gateway = GATEWAY_PORT + OFFSET
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", gateway))
        assert gateway in busy_ports(OFFSET)
    assert gateway not in busy_ports(OFFSET)
