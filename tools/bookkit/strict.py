"""Kernel start-up for strict execution: warnings become errors, and the network is cut.

Installed by ``tools/ipython/profile_default/startup/00-strict.py`` in every kernel the
book's executor starts. The offline guard refuses every socket connection that is not to
the loopback interface or a Unix socket, so a chapter that tries to download fails.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import warnings

OFFLINE_ENV = "MLNOTES_OFFLINE"
STRICT_CATEGORIES = (DeprecationWarning, FutureWarning, RuntimeWarning, UserWarning)


class OfflineError(OSError):
    """Raised when code in a chapter tries to reach the network."""


def _is_local(address: object) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    host = address[0] if isinstance(address, tuple) and address else address
    if host in ("localhost", "", None):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded(method):
    def connect(self, address):
        if self.family != socket.AF_UNIX and not _is_local(address):
            raise OfflineError(f"network access is cut while the book executes: refused to connect to {address!r}")
        return method(self, address)
    return connect


def _guarded_getaddrinfo(original):
    def getaddrinfo(host, *args, **kwargs):
        if not _is_local(host if isinstance(host, str) else (host,)):
            raise OfflineError(f"network access is cut while the book executes: refused to resolve {host!r}")
        return original(host, *args, **kwargs)
    return getaddrinfo


def install() -> None:
    """Turn the strict warning categories into errors; with ``MLNOTES_OFFLINE=1`` cut the network."""
    for category in STRICT_CATEGORIES:
        warnings.simplefilter("error", category)
    if os.environ.get(OFFLINE_ENV) == "1" and not getattr(socket, "_mlnotes_guarded", False):
        socket.socket.connect = _guarded(socket.socket.connect)
        socket.socket.connect_ex = _guarded(socket.socket.connect_ex)
        socket.getaddrinfo = _guarded_getaddrinfo(socket.getaddrinfo)
        socket._mlnotes_guarded = True
