#!/usr/bin/env python3
"""Opens N authenticated MySQL connections and holds them idle (bench/idle_conns.sh).

usage: idle_conns.py HOST PORT USER PASSWORD N

The handshake is done on raw sockets (asyncio, mysql_native_password), so one process holds
thousands of connections cheaply. Prints `ready <n>` once all are authenticated (or `error ...`
and exits 1), then holds them until stdin closes; then closes them and prints `closed`.
"""
import asyncio
import hashlib
import struct
import sys

# LONG_PASSWORD | PROTOCOL_41 | TRANSACTIONS | SECURE_CONNECTION | MULTI_RESULTS | PLUGIN_AUTH
CAPS = 0x1 | 0x200 | 0x2000 | 0x8000 | 0x20000 | 0x80000


def scramble(password: bytes, salt: bytes) -> bytes:
    if not password:
        return b""
    h1 = hashlib.sha1(password).digest()
    h2 = hashlib.sha1(h1).digest()
    h3 = hashlib.sha1(salt + h2).digest()
    return bytes(a ^ b for a, b in zip(h1, h3))


async def read_packet(reader):
    hdr = await reader.readexactly(4)
    n = hdr[0] | hdr[1] << 8 | hdr[2] << 16
    return await reader.readexactly(n)


def salt_of(greeting: bytes) -> bytes:
    at = greeting.index(b"\0", 1) + 1 + 4
    salt = greeting[at:at + 8]
    at += 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10
    return salt + greeting[at:at + 12]


async def connect(host, port, user, password):
    reader, writer = await asyncio.open_connection(host, port)
    greeting = await read_packet(reader)
    if greeting[:1] == b"\xff":
        raise RuntimeError(greeting[3:].decode(errors="replace"))
    auth = scramble(password.encode(), salt_of(greeting))
    body = (struct.pack("<IIB", CAPS, 16 << 20, 45) + b"\0" * 23 + user.encode() + b"\0"
            + bytes([len(auth)]) + auth + b"mysql_native_password\0")
    writer.write(struct.pack("<I", len(body))[:3] + b"\1" + body)
    await writer.drain()
    answer = await read_packet(reader)
    if answer[:1] != b"\0":
        raise RuntimeError(answer[3:].decode(errors="replace"))
    return writer


async def main():
    host, port, user, password, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
    sem = asyncio.Semaphore(100)  # handshakes in flight

    async def one():
        async with sem:
            return await asyncio.wait_for(connect(host, port, user, password), 30)

    try:
        writers = await asyncio.gather(*(one() for _ in range(n)))
    except Exception as e:  # noqa: BLE001 - reported, then exit 1
        print(f"error {e!r}", flush=True)
        sys.exit(1)
    print(f"ready {len(writers)}", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    for w in writers:
        w.close()
    print("closed", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
