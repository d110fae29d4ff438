#!/usr/bin/env python3
"""Opens N live streams to a running console and prints its CPU over a window.

    console_streams.py PID HOST:PORT TOKEN PATH N SECONDS

Every stream is a plain HTTP/1.1 GET with `Authorization: Bearer TOKEN`, read and discarded
for the whole window; the CPU is the server's utime+stime from /proc/PID/stat over it.
"""
import asyncio
import os
import sys


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime


async def stream(host, port, token, path, opened, stop):
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
        "Accept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise SystemExit(f"stream refused: {head.splitlines()[0].decode()}")
    opened.append(1)
    while not stop.is_set():
        try:
            if not await asyncio.wait_for(reader.read(65536), 1):
                raise SystemExit("a stream ended early")
        except asyncio.TimeoutError:
            pass
    writer.close()


async def main():
    pid, addr, token, path, n, seconds = sys.argv[1:7]
    host, port = addr.rsplit(":", 1)
    n, seconds = int(n), float(seconds)
    opened, stop = [], asyncio.Event()
    tasks = [asyncio.create_task(stream(host, int(port), token, path, opened, stop)) for _ in range(n)]
    while len(opened) < n:
        await asyncio.sleep(0.1)
        for t in tasks:
            if t.done() and t.exception():
                raise t.exception()
    await asyncio.sleep(2)  # let the opening settle
    hz = os.sysconf("SC_CLK_TCK")
    before = cpu_ticks(pid)
    await asyncio.sleep(seconds)
    used = cpu_ticks(pid) - before
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    print(f"{n:>5} streams: server CPU {100.0 * used / hz / seconds:5.1f} % of a core over {seconds:.0f} s")


asyncio.run(main())
