#!/usr/bin/env python3
"""Idle TCP connections against a running SIP agent (issue 30): opens N connections that send
nothing, then prints the agent's descriptors and RSS (from /proc) before, once they are open, and
after the agent's idle timeout, with how many connections the agent closed.

    benches/tcp_idle.py PID HOST:PORT [N=10000] [WAIT_SECS=65] [SOURCES=1]

PID is the agent's process (e.g. `huifang phones --listen 127.0.0.1:5080`). With SOURCES > 1 the
connections come from 127.0.0.1, 127.0.0.2, ... in turn (a per-address cap then holds less).
Linux only (/proc, and the whole of 127/8 on loopback).
"""
import os
import selectors
import socket
import sys
import time


def agent(pid):
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    rss_kb = 0
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                rss_kb = int(line.split()[1])
    return fds, rss_kb / 1024


def report(label, pid, closed, total):
    fds, rss = agent(pid)
    print(f"{label:<32} agent: {fds:>6} descriptors, {rss:7.1f} MB RSS; "
          f"closed by the agent: {closed}/{total}", flush=True)


def drain(selector, closed):
    """Counts connections the agent closed (end of stream or reset) among those readable."""
    for key, _ in selector.select(timeout=0):
        sock = key.fileobj
        try:
            data = sock.recv(4096)
        except (ConnectionResetError, BlockingIOError, OSError):
            data = b""
        if not data:
            selector.unregister(sock)
            sock.close()
            closed += 1
    return closed


def main():
    pid = int(sys.argv[1])
    host, port = sys.argv[2].rsplit(":", 1)
    target = (host, int(port))
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 10000
    wait = float(sys.argv[4]) if len(sys.argv) > 4 else 65.0
    sources = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    report(f"before ({sources} source addresses)", pid, 0, n)
    selector = selectors.DefaultSelector()
    closed = 0
    opened = 0
    for i in range(n):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if sources > 1:
            sock.bind((f"127.0.{(i % sources) // 254}.{(i % sources) % 254 + 1}", 0))
        try:
            sock.connect(target)
        except OSError as err:
            print(f"connect {i} failed: {err}", file=sys.stderr)
            sock.close()
            break
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
        opened += 1
        if i % 500 == 499:
            closed = drain(selector, closed)
    time.sleep(2)
    closed = drain(selector, closed)
    report(f"{opened} connections opened (+2 s)", pid, closed, opened)
    start = time.monotonic()
    while time.monotonic() - start < wait:
        time.sleep(0.5)
        closed = drain(selector, closed)
    report(f"after {wait:.0f} s idle", pid, closed, opened)
    selector.close()


if __name__ == "__main__":
    main()
