"""Soak test: a long run of signed round trips with buffers, watching memory and the replay history.

A client Session sends a signed request with buffers, a server Session receives and verifies it
and sends back a signed reply echoing the buffers, which the client receives and verifies: one
round trip. This runs ``--count`` times over each transport (inproc and ipc by default), with
receives alternating between copy=True and copy=False and every 16th request carrying a buffer
large enough to be sent and received without a copy.

Reported: round trips and their rate, resident memory (RSS) after warm-up and at the end, and
the replay history's size, which must never exceed ``digest_history_size``, and its storage in
bytes (``nbytes``, sampled at each report), which must never exceed that of a full history.
Exit status 1 when RSS grew by ``--max-growth-mb`` (5) or more after warm-up, or the history
passed either bound.

    python scripts/soak.py                      # 1,000,000 round trips over inproc, then ipc
    python scripts/soak.py --count 100000 --transports ipc
    JSESSION_PURE_PYTHON=1 python scripts/soak.py --count 200000   # the pure-Python twin

It soaks the jsession that ``import jsession`` finds (the installed package: ``pip install -e .``
in a clone builds the compiled core in place), and says which one and from where.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import sys
import tempfile
import time

import zmq

import jsession
from jsession.session import Session

PAGE = os.sysconf("SC_PAGE_SIZE")
SMALL = bytes(range(256)) * 4  # 1 KiB, copied
LARGE = os.urandom(128 * 1024)  # above copy_threshold: zero copy both ways
BATCH = 64  # requests in flight (well under the sockets' high-water marks)


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def settled_rss() -> int:
    gc.collect()
    return rss_bytes()


def soak(transport: str, count: int, warmup: int, history: int, report_every: int) -> dict:
    key = os.urandom(32)
    client = Session(key=key, username="client", digest_history_size=history)
    server = Session(key=key, username="server", digest_history_size=history)
    ctx = zmq.Context()
    a, b = ctx.socket(zmq.PAIR), ctx.socket(zmq.PAIR)
    tmp = None
    if transport == "inproc":
        address = "inproc://soak"
    else:
        tmp = tempfile.mkdtemp(prefix="jsession-soak-")
        address = f"ipc://{tmp}/soak.sock"
    a.bind(address)
    b.connect(address)

    done = 0
    max_history = 0
    max_history_bytes = 0
    # what a full history of this size holds (hmac-sha256 signatures, as here)
    full = type(server.digest_history)(history, (os.urandom(32).hex().encode() for _ in range(history)))
    full_history_bytes = full.nbytes
    del full
    baseline = None
    peak_after_warmup = 0
    checkpoints = []
    started = time.perf_counter()
    while done < count:
        n = min(BATCH, count - done)
        copy = (done // BATCH) % 2 == 0
        for i in range(done, done + n):
            buffers = [SMALL, LARGE] if i % 16 == 0 else [SMALL]
            client.send(a, "soak_request", content={"i": i}, buffers=buffers)
        for i in range(done, done + n):
            _, request = server.recv(b, mode=0, copy=copy)
            if request["content"]["i"] != i or request["buffers"][0] != SMALL:
                raise AssertionError(f"{transport}: request {i} came back wrong")
            server.send(b, "soak_reply", content={"i": i}, parent=request, buffers=request["buffers"])
            del request
        for i in range(done, done + n):
            _, reply = client.recv(a, mode=0, copy=not copy)
            if reply["content"]["i"] != i or reply["parent_header"]["msg_type"] != "soak_request":
                raise AssertionError(f"{transport}: reply {i} came back wrong")
            if i % 16 == 0 and reply["buffers"][1] != LARGE:
                raise AssertionError(f"{transport}: large buffer {i} came back wrong")
            del reply
        done += n
        max_history = max(max_history, len(client.digest_history), len(server.digest_history))
        if baseline is None and done >= warmup:
            baseline = settled_rss()
        if done % report_every < BATCH or done == count:
            rss = settled_rss()
            sizes = (client.digest_history.nbytes, server.digest_history.nbytes)
            max_history_bytes = max(max_history_bytes, *sizes)
            if baseline is not None:
                peak_after_warmup = max(peak_after_warmup, rss)
            elapsed = time.perf_counter() - started
            checkpoints.append((done, rss))
            print(
                f"  {transport}: {done:>9,} round trips  {done / elapsed:>8,.0f}/s  "
                f"RSS {rss / 2**20:7.1f} MiB  history {len(server.digest_history):,} "
                f"({server.digest_history.nbytes / 2**20:.2f} MiB)",
                flush=True,
            )
    elapsed = time.perf_counter() - started
    final = settled_rss()
    a.close(linger=0)
    b.close(linger=0)
    ctx.term()
    if tmp:
        shutil.rmtree(tmp, ignore_errors=True)
    baseline = baseline if baseline is not None else checkpoints[0][1]
    return {
        "transport": transport,
        "round_trips": done,
        "messages": 2 * done,
        "seconds": round(elapsed, 1),
        "round_trips_per_second": round(done / elapsed),
        "rss_after_warmup_mib": round(baseline / 2**20, 2),
        "rss_final_mib": round(final / 2**20, 2),
        "rss_growth_mib": round((final - baseline) / 2**20, 2),
        "rss_peak_growth_mib": round((max(peak_after_warmup, final) - baseline) / 2**20, 2),
        "digest_history_size": history,
        "history_max_seen": max_history,
        "history_final": len(server.digest_history),
        "history_bytes_max_seen": max_history_bytes,
        "history_bytes_full": full_history_bytes,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1_000_000, help="round trips per transport")
    parser.add_argument("--transports", default="inproc,ipc", help="comma-separated: inproc, ipc")
    parser.add_argument("--warmup", type=int, default=None, help="round trips before the RSS baseline")
    parser.add_argument("--history", type=int, default=2**16, help="digest_history_size of both Sessions")
    parser.add_argument("--max-growth-mb", type=float, default=5.0)
    parser.add_argument("--report-every", type=int, default=100_000)
    args = parser.parse_args()
    # the warm-up must fill the replay history to its size, or its growth counts as a leak
    warmup = (
        args.warmup if args.warmup is not None else min(args.count, max(args.count // 10, 2 * args.history))
    )
    print(
        f"jsession {jsession.__version__} ({jsession.IMPLEMENTATION}, {os.path.dirname(jsession.__file__)}), "
        f"pyzmq {zmq.__version__}, "
        f"libzmq {zmq.zmq_version()}, Python {sys.version.split()[0]}; warm-up {warmup:,} round trips"
    )
    results = []
    for transport in args.transports.split(","):
        results.append(soak(transport.strip(), args.count, warmup, args.history, args.report_every))
    failed = False
    for r in results:
        ok_rss = r["rss_growth_mib"] < args.max_growth_mb and r["rss_peak_growth_mib"] < args.max_growth_mb
        ok_history = (
            r["history_max_seen"] <= r["digest_history_size"]
            # the twin's dict may hold some deleted slots until it next resizes
            and r["history_bytes_max_seen"] <= r["history_bytes_full"] * 2
        )
        failed |= not (ok_rss and ok_history)
        print(json.dumps(dict(r, rss_ok=ok_rss, history_ok=ok_history)))
    print("FAILED" if failed else "OK")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
