"""An unauthenticated flood against a receiving Session, over TCP on the loopback interface.

    python scripts/flood.py                       # 1,000,000 refused messages, compiled core
    python scripts/flood.py --impl python --messages 200000
    python scripts/flood.py --genuine-every 50    # genuine traffic mixed in: the history culls

A sender process (no key) sends messages of every shape the receiver must refuse: random
signatures of the right length and of other lengths, oversized and empty ones, uppercase
hex, a genuine signature over forged frames, and replays of a message captured earlier;
content from a few bytes to 1 MiB. The receiver holds a full history (default size 2**16)
of verified signatures, the captured message's the oldest. Checked at the end: every
forgery was refused, the history holds exactly what it held (or, with genuine traffic,
never more than its size, its storage never above a full history's), and the captured
message, replayed, is refused. Exit status 1 if any check fails.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import resource
import sys
import time

import zmq

KEY = b"flood-key-5d2e9c"
REPLAY: list[bytes] = []


def forgeries(rng: random.Random, captured: list[bytes], n: int):
    bodies = [b"{}", b'{"code": "import os"}', os.urandom(300), b"x" * 5000, b"y" * 65536]
    for i in range(n):
        body = b"z" * (1 << 20) if i % 10007 == 0 else rng.choice(bodies)
        kind = i % 8
        if kind == 0:
            sig = os.urandom(32).hex().encode()
        elif kind == 1:
            sig = os.urandom(rng.randrange(1, 64)).hex().encode()
        elif kind == 2:
            sig = os.urandom(rng.randrange(1, 600))
        elif kind == 3:
            sig = b"f" * rng.choice([1025, 4096, 65536])
        elif kind == 4:
            sig = captured[0]  # a genuine signature over forged frames
        elif kind == 5:
            yield REPLAY  # the sender replays a remembered message here
            continue
        elif kind == 6:
            sig = b""
        else:
            sig = os.urandom(32).hex().upper().encode()
        yield [b"peer", b"<IDS|MSG>", sig, *captured[1:4], body]


def sender(
    address: str, captured: list[bytes], n: int, genuine: list[list[bytes]], every: int, replay: list[bytes]
) -> None:
    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    push.connect(address)
    rng = random.Random(20261130)
    # 50,000 distinct forgeries, cycled: making each one costs more than refusing it
    pool = list(forgeries(rng, captured, min(n, 50_000)))
    send = zmq.backend.Socket.send
    g = iter(genuine)
    # the message a replay repeats: the captured one, or with genuine traffic (which pushes
    # the captured one out of the history in time, as it should) the last genuine one sent
    remembered = [b"peer", b"<IDS|MSG>", *captured]
    for i in range(n):
        frames = pool[i % len(pool)]
        if frames is REPLAY:
            frames = remembered
        for f in frames[:-1]:
            send(push, f, zmq.SNDMORE)
        send(push, frames[-1], 0)
        if every and i % every == every - 1:
            remembered = [b"peer", b"<IDS|MSG>", *next(g)]
            push.send_multipart(remembered)
    push.send_multipart([b"peer", b"<IDS|MSG>", *replay])  # the replay after the flood
    push.send_multipart([b"END"])
    push.close(linger=-1)
    ctx.term()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--size", type=int, default=2**16, help="digest_history_size")
    parser.add_argument("--impl", choices=["compiled", "python"], default="compiled")
    parser.add_argument(
        "--genuine-every", type=int, default=0, help="a genuine message after every N forgeries"
    )
    args = parser.parse_args()
    if args.impl == "python":
        os.environ["JSESSION_PURE_PYTHON"] = "1"
    import jsession
    from jsession import session as ss

    sender_session = ss.Session(key=KEY)
    receiver = ss.Session(key=KEY, digest_history_size=args.size)

    def wire(i: int) -> list[bytes]:
        msg = sender_session.msg("execute_request", content={"code": f"x = {i}"})
        return sender_session.feed_identities(sender_session.serialize(msg))[1]

    t = time.perf_counter()
    for i in range(args.size):
        w = wire(i)
        if i == 0:
            captured = w
        receiver.deserialize(list(w))
    fill = time.perf_counter() - t
    history = receiver.digest_history
    before = list(history)
    full_bytes = history.nbytes
    n_genuine = args.messages // args.genuine_every if args.genuine_every else 0
    genuine = [wire(args.size + i) for i in range(n_genuine)]

    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    port = pull.bind_to_random_port("tcp://127.0.0.1")
    proc = multiprocessing.get_context("fork").Process(
        target=sender,
        # with genuine traffic the captured message is culled in time, as it should be: the
        # last genuine one is replayed instead
        args=(
            f"tcp://127.0.0.1:{port}",
            captured,
            args.messages,
            genuine,
            args.genuine_every,
            (genuine or [captured])[-1],
        ),
    )
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    proc.start()
    refused = accepted = frames = 0
    max_len = max_bytes = 0
    final = None
    t = time.perf_counter()
    while True:
        parts = pull.recv_multipart(copy=False)
        frames += len(parts)
        if len(parts) == 1:
            break
        try:
            _, msg = receiver.feed_identities(parts, copy=False)
            receiver.deserialize(msg, copy=False)
            accepted += 1
        except (ValueError, TypeError) as e:
            refused += 1
            final = str(e)
        if (refused + accepted) % 4096 == 0:
            max_len = max(max_len, len(history))
            max_bytes = max(max_bytes, history.nbytes)
    elapsed = time.perf_counter() - t
    proc.join()
    pull.close(linger=0)
    ctx.term()
    max_len = max(max_len, len(history))
    max_bytes = max(max_bytes, history.nbytes)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    print(f"jsession {jsession.__version__}, {jsession.IMPLEMENTATION} core, Python {sys.version.split()[0]}")
    print(
        f"history: size {args.size:,}, filled with verified signatures in {fill:.1f} s, {full_bytes:,} bytes"
    )
    print(
        f"flood: {args.messages:,} forged + {n_genuine:,} genuine messages, {frames:,} frames, "
        f"{elapsed:.1f} s ({(refused + accepted) / elapsed:,.0f} messages/s)"
    )
    print(f"refused {refused:,}, accepted {accepted:,}; last refusal: {final[:70]!r}")
    print(
        f"history after: {len(history):,} entries (max seen {max_len:,}), {history.nbytes:,} bytes "
        f"(max seen {max_bytes:,}); receiver max RSS grew {(rss - rss0) / 1024:.1f} MiB"
    )
    bound = full_bytes * (1 if args.impl == "compiled" else 2)  # the twin: a dict keeps deleted slots a while
    duplicate = final is not None and final.startswith("Duplicate")
    checks = {
        "every forgery and the final replay refused": refused == args.messages + 1,
        "every genuine message accepted": accepted == n_genuine,
        "the replay after the flood refused as a duplicate": duplicate,
        "never more entries than the size": max_len <= args.size,
        "storage never above a full history's": max_bytes <= bound,
    }
    if not n_genuine:
        checks["history unchanged by the flood"] = list(history) == before
    for name, ok in checks.items():
        print(f"  {'ok  ' if ok else 'FAIL'} {name}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
