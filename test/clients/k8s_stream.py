#!/usr/bin/python3
"""A streaming client written outside crius: the official Kubernetes Python
client's WebSocket stack (kubernetes.stream.ws_client, Debian's
python3-kubernetes), pointed at the URL an Exec, Attach or PortForward CRI
call returned. Run with Debian's /usr/bin/python3; prints one JSON result.

  k8s_stream.py exec URL STDIN_TEXT      -> {stdout, stderr, returncode, error, protocol}
  k8s_stream.py attach URL LINE EXPECT   -> {stdout, protocol}  (sends LINE, reads until EXPECT)
  k8s_stream.py portforward URL PORT PATH -> {status, sha256, length, error, protocol}

protocol is the subprotocol the server chose (its Sec-WebSocket-Protocol answer).

Every wait is bounded (TIMEOUT seconds) and waits on the socket, never a sleep.
"""
import hashlib
import json
import sys
import time

from kubernetes.client import Configuration
from kubernetes.stream.ws_client import (ERROR_CHANNEL, STDERR_CHANNEL, STDOUT_CHANNEL, PortForward, WSClient,
                                         create_websocket, get_websocket_url)

TIMEOUT = 60


def client(url):
    # The client's own http→ws mapping; it offers its default subprotocol, v4.channel.k8s.io.
    return WSClient(Configuration(), get_websocket_url(url), None, True)


def chosen(ws):
    return (ws.getheaders() or {}).get("sec-websocket-protocol")


def run_exec(url, stdin_text):
    c = client(url)
    protocol = chosen(c.sock)
    if stdin_text:
        c.write_stdin(stdin_text)
    c.run_forever(timeout=TIMEOUT)
    if c.is_open():
        raise SystemExit("exec did not end within %ss" % TIMEOUT)
    out = {
        "stdout": c._channels.get(STDOUT_CHANNEL, ""),
        "stderr": c._channels.get(STDERR_CHANNEL, ""),
        "error": c._channels.get(ERROR_CHANNEL, ""),
        "protocol": protocol,
    }
    out["returncode"] = c.returncode
    return out


def run_attach(url, line, expect):
    c = client(url)
    c.write_stdin(line + "\n")
    seen = ""
    deadline = time.time() + TIMEOUT
    while expect not in seen:
        if time.time() > deadline or not c.is_open():
            raise SystemExit("attach: %r never came, got %r" % (expect, seen))
        c.update(timeout=max(0.0, deadline - time.time()) * 1000)
        seen += c.read_channel(STDOUT_CHANNEL)
    protocol = chosen(c.sock)
    c.close()
    return {"stdout": seen, "protocol": protocol}


def run_portforward(url, port, path):
    ws = create_websocket(Configuration(), get_websocket_url(url))
    protocol = chosen(ws)
    pf = PortForward(ws, [port])
    sock = pf.socket(port)
    sock.settimeout(TIMEOUT)
    sock.sendall(("GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n" % path).encode())
    data = b""
    while True:
        chunk = sock.recv(1 << 20)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].decode(errors="replace")
    return {"status": status, "length": len(body), "sha256": hashlib.sha256(body).hexdigest(), "error": pf.error(port), "protocol": protocol}


def main(argv):
    mode = argv[1]
    if mode == "exec":
        result = run_exec(argv[2], argv[3])
    elif mode == "attach":
        result = run_attach(argv[2], argv[3], argv[4])
    elif mode == "portforward":
        result = run_portforward(argv[2], int(argv[3]), argv[4])
    else:
        raise SystemExit("unknown mode %r" % mode)
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main(sys.argv)
