"""The TCP link to an OSDP peripheral as libosdp's channel: a non-blocking socket the driver replaces when it fails."""

from __future__ import annotations

import socket

import osdp


class SocketChannel(osdp.Channel):
    """A non-blocking stream socket as an OSDP channel; a failed socket reads as down until a new one is attached."""

    def __init__(self):
        super().__init__()
        self.sock: socket.socket | None = None

    @property
    def up(self) -> bool:
        """True while a socket is attached."""
        return self.sock is not None

    def attach(self, sock: socket.socket) -> None:
        """Use a freshly connected socket."""
        sock.setblocking(False)
        self.sock = sock

    def drop(self) -> None:
        """Close the current socket."""
        sock, self.sock = self.sock, None
        if sock is not None:
            sock.close()

    def read(self, max_bytes: int) -> bytes:
        sock = self.sock
        if sock is None:
            return b""
        try:
            data = sock.recv(max_bytes)
        except BlockingIOError:
            return b""
        except OSError:
            self.drop()
            return b""
        if not data:  # the peer closed the connection
            self.drop()
        return data

    def write(self, buf: bytes) -> int:
        sock = self.sock
        if sock is None:
            return 0
        try:
            return sock.send(buf)
        except BlockingIOError:
            return 0
        except OSError:
            self.drop()
            return 0

    def flush(self) -> None:
        return None
