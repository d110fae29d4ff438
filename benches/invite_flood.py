#!/usr/bin/env python3
"""A flood of unsolicited SIP requests against a running dialer node (issue 30): N distinct
requests (each its own Call-ID and branch) at RATE a second from SOURCES loopback addresses,
PORTS sockets each; prints the node's RSS (from /proc) before, right after and LATER seconds
after, its peak, the responses the senders saw by status, and what went unanswered.

    benches/invite_flood.py PID HOST:PORT [N=100000] [RATE=5000] [KIND=invite] [LATER=40]
                            [SOURCES=8] [PORTS=4]

KIND is `invite` (strangers' calls: a dialer node takes none), `options`, or `mixed` (INVITE,
OPTIONS, REGISTER, BYE and CANCEL for dialogs and transactions that do not exist, in turn).
Unanswered requests are those the node's per-source refusal budget silenced, plus any the
kernel dropped (the node socket's drop counter in /proc/net/udp, printed too).
Linux only (/proc, and the whole of 127/8 on loopback).
"""
import os
import selectors
import socket
import sys
import time
from collections import Counter

SDP = (
    "v=0\r\no=flood 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n"
    "m=audio 40000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n"
)


def status_of(pid):
    values = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) / 1024
    return values


def rss(pid):
    return status_of(pid)["VmRSS"]


def udp_drops(port):
    """The kernel's drop counter of the UDP socket bound to `port` (the node's)."""
    drops = 0
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if int(fields[1].rsplit(":", 1)[1], 16) == port:
                        drops += int(fields[-1])
        except FileNotFoundError:
            pass
    return drops


def request(kind, i, src, target, run):
    """Request number `i` of the flood, from `src` (ip, port), to `target`."""
    ip, port = src
    host = f"{target[0]}:{target[1]}"
    call_id = f"flood-{run}-{i}@{ip}"
    branch = f"z9hG4bK-{run}-{i}"
    method = kind
    if kind == "mixed":
        method = ("invite", "options", "register", "bye", "cancel")[i % 5]
    method = method.upper()
    to_tag = ";tag=nosuch" if method == "BYE" else ""
    body = SDP.format(ip=ip) if method == "INVITE" else ""
    lines = [
        f"{method} sip:{i % 10000:04}@{host} SIP/2.0",
        f"Via: SIP/2.0/UDP {ip}:{port};branch={branch};rport",
        "Max-Forwards: 70",
        f"From: <sip:flood@{ip}>;tag=f{i}",
        f"To: <sip:{i % 10000:04}@{host}>{to_tag}",
        f"Call-ID: {call_id}",
        f"CSeq: 1 {method}",
        f"Contact: <sip:flood@{ip}:{port}>",
        "User-Agent: invite_flood",
    ]
    if body:
        lines.append("Content-Type: application/sdp")
    lines.append(f"Content-Length: {len(body.encode())}")
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode(), call_id


def drain(selector, seen, answered):
    """Reads every response waiting; counts them by status and notes their Call-IDs."""
    for key, _ in selector.select(timeout=0):
        sock = key.fileobj
        while True:
            try:
                data = sock.recv(65535)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                break
            first = data.split(b"\r\n", 1)[0].split()
            status = first[1].decode() if len(first) > 1 and first[0] == b"SIP/2.0" else "?"
            seen[status] += 1
            for line in data.split(b"\r\n"):
                if line[:8].lower() == b"call-id:" or line[:2].lower() == b"i:":
                    answered.add(line.split(b":", 1)[1].strip().decode())
                    break


def main():
    pid = int(sys.argv[1])
    host, port = sys.argv[2].rsplit(":", 1)
    target = (host, int(port))
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 100_000
    rate = float(sys.argv[4]) if len(sys.argv) > 4 else 5000.0
    kind = sys.argv[5] if len(sys.argv) > 5 else "invite"
    later = float(sys.argv[6]) if len(sys.argv) > 6 else 40.0
    sources = int(sys.argv[7]) if len(sys.argv) > 7 else 8
    ports = int(sys.argv[8]) if len(sys.argv) > 8 else 4
    run = f"{os.getpid()}{int(time.time())}"

    selector = selectors.DefaultSelector()
    socks = []
    for s in range(sources):
        for _ in range(ports):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            sock.bind((f"127.0.0.{s + 2}", 0))
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
            socks.append(sock)

    drops0 = udp_drops(target[1])
    before = rss(pid)
    print(f"{kind}: {n} requests at {rate:.0f}/s from {sources} addresses x {ports} ports "
          f"to {host}:{port}", flush=True)
    print(f"  node RSS before:            {before:7.1f} MB", flush=True)

    seen = Counter()
    answered = set()
    call_ids = []
    peak = before
    start = time.monotonic()
    next_sample = start + 0.5
    sent = 0
    while sent < n:
        now = time.monotonic()
        due = min(n, int((now - start) * rate) + 1)
        while sent < due:
            sock = socks[sent % len(socks)]
            data, call_id = request(kind, sent, sock.getsockname(), target, run)
            try:
                sock.sendto(data, target)
            except BlockingIOError:
                break  # the socket's buffer is full: this one goes out next turn
            call_ids.append(call_id)
            sent += 1
        drain(selector, seen, answered)
        if now >= next_sample:
            peak = max(peak, rss(pid))
            next_sample = now + 0.5
        time.sleep(0.002)
    took = time.monotonic() - start
    settle = time.monotonic() + 2.0
    while time.monotonic() < settle:
        drain(selector, seen, answered)
        time.sleep(0.05)
    after = rss(pid)
    peak = max(peak, after)
    print(f"  sent {sent} in {took:.1f} s ({sent / took:.0f}/s)", flush=True)
    print(f"  node RSS right after (+2 s): {after:7.1f} MB (peak seen {peak:.1f} MB)",
          flush=True)
    end = time.monotonic() + later
    while time.monotonic() < end:
        drain(selector, seen, answered)
        time.sleep(0.25)
    last = status_of(pid)
    unanswered = sum(1 for c in call_ids if c not in answered)
    drops = udp_drops(target[1]) - drops0
    by_status = ", ".join(f"{count} x {status}" for status, count in sorted(seen.items()))
    print(f"  node RSS {later:.0f} s later:      {last['VmRSS']:7.1f} MB "
          f"(VmHWM {last['VmHWM']:.1f} MB)", flush=True)
    print(f"  responses seen: {sum(seen.values())} ({by_status or 'none'})", flush=True)
    print(f"  unanswered: {unanswered} of {sent} (the kernel dropped {drops} at the node's "
          f"socket)", flush=True)
    selector.close()


if __name__ == "__main__":
    main()
