"""Loaded first by every script-mode or BYOC program SageTutor runs: the container's network.

SageTutor runs without a network, and a job's configuration decides what its
container could reach. This module replaces name resolution and ``connect`` for
anything but the loopback interface:

* with network isolation (``SAGETUTOR_NETWORK=isolated``) names do not resolve
  and connections fail with ``Network is unreachable``, as in an isolated
  SageMaker container;
* otherwise a connection fails too (there is no real network), but with a
  message naming the path it would have taken (``SAGETUTOR_NETWORK_PATH``).

Every attempt is appended to ``SAGETUTOR_NETWORK_LOG`` (JSON lines) so the
engine records it as a security fact.
"""

import errno
import json
import os
import socket

_MODE = os.environ.get("SAGETUTOR_NETWORK", "")
_PATH = os.environ.get("SAGETUTOR_NETWORK_PATH", "")
_LOG = os.environ.get("SAGETUTOR_NETWORK_LOG", "")
_FAKE = "192.0.2.1"  # TEST-NET-1: never routed
_names = {}
_real_getaddrinfo = socket.getaddrinfo
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _local(host):
    return host in ("localhost", "::1", "") or str(host).startswith("127.")


def _log(host, port, outcome):
    if _LOG:
        with open(_LOG, "a", encoding="utf-8") as f:
            f.write(json.dumps({"host": str(host), "port": port, "outcome": outcome}) + "\n")


def _getaddrinfo(host, port, *args, **kwargs):
    if host is None or _local(host) or host == _FAKE:
        return _real_getaddrinfo(host, port, *args, **kwargs)
    if _MODE == "isolated":
        _log(host, port, "dns-failed")
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
    _names[_FAKE] = host
    return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (_FAKE, port or 0))]


def _refuse(address):
    host, port = (address[0], address[1]) if isinstance(address, tuple) and len(address) >= 2 else (address, None)
    if isinstance(address, (str, bytes)) or _local(host):
        return None
    name = _names.get(host, host)
    if _MODE == "isolated":
        _log(name, port, "blocked")
        return OSError(errno.ENETUNREACH, "Network is unreachable")
    _log(name, port, "no-network")
    return OSError(errno.ENETUNREACH, f"SageTutor runs without a network: this connection to {name}:{port} would "
                                      f"have left through {_PATH or 'the job network'}")


def _connect(self, address):
    err = _refuse(address)
    if err is not None:
        raise err
    return _real_connect(self, address)


def _connect_ex(self, address):
    err = _refuse(address)
    if err is not None:
        return err.errno
    return _real_connect_ex(self, address)


if _MODE:
    socket.getaddrinfo = _getaddrinfo
    socket.socket.connect = _connect
    socket.socket.connect_ex = _connect_ex
