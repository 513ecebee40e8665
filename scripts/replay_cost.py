"""What the replay history costs: time per deserialize and bytes per remembered signature.

    python scripts/replay_cost.py                      # this jsession
    python scripts/replay_cost.py --baseline DIR       # and a build of another tree, interleaved

Time: ``deserialize`` of distinct signed execute_reply messages (as jsession.bench does),
CPU time of the best of three passes, in rounds that alternate between the two trees, each
round in its own process; the median of the per-round ratios is what to read (the machine
may be busy). Memory: a history filled to
``digest_history_size`` (default 2**16) with hmac-sha256 signatures, measured with
tracemalloc (everything the history holds, the signatures included) and, in a fresh
process, as the growth of the resident set.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

CHILD = r"""
import gc, json, os, resource, sys, time, tracemalloc
mode, size, impl = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if impl == "python":
    os.environ["JSESSION_PURE_PYTHON"] = "1"
from jsession import session as ss
import jsession
key = b"replay-cost-key"
if mode == "time":
    s = ss.Session(key=key, username="bench")
    parent = s.msg("execute_request", content={"code": "print(1)", "silent": False})
    pool = []
    for _ in range(size):
        m = s.msg("execute_reply", content={"status": "ok", "execution_count": 1}, parent=parent)
        f = s.serialize(m)
        pool.append(f[f.index(ss.DELIM) + 1:])
    r = ss.Session(key=key)
    d = r.deserialize
    for f in pool[:2000]:
        d(f)  # warm up
    gc.disable()
    best = float("inf")
    for _ in range(3):  # CPU time, best of three passes: other processes' load counts less
        r.digest_history.clear()
        t = time.process_time()
        for f in pool:
            d(f)
        best = min(best, time.process_time() - t)
    print(json.dumps({"impl": jsession.IMPLEMENTATION, "us": best / len(pool) * 1e6}))
else:
    s = ss.Session(key=key, digest_history_size=size)
    gc.collect()
    if mode == "rss":
        # the signatures as a receiver gets them: a new bytes object per message
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        for _ in range(size):
            s._add_digest(os.urandom(32).hex().encode())
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0
        print(json.dumps({"impl": jsession.IMPLEMENTATION, "entries": len(s.digest_history),
                          "bytes": rss * 1024, "per_entry": rss * 1024 / size}))
        sys.exit()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for _ in range(size):
        s._add_digest(os.urandom(32).hex().encode())
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    nbytes = getattr(s.digest_history, "nbytes", None)
    print(json.dumps({"impl": jsession.IMPLEMENTATION, "entries": len(s.digest_history), "bytes": held,
                      "per_entry": held / size, "nbytes": nbytes}))
"""


def run(tree: str | None, mode: str, size: int, impl: str) -> dict:
    env = dict(os.environ)
    if tree:
        env["PYTHONPATH"] = tree
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(size), impl], env=env, capture_output=True, text=True, cwd="/"
    )
    if out.returncode:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--baseline", help="another tree, built with build_ext --inplace")
    parser.add_argument("--tree", help="this tree, if not the installed jsession")
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--messages", type=int, default=32768)
    parser.add_argument("--size", type=int, default=2**16)
    parser.add_argument("--impl", choices=["compiled", "python"], default="compiled")
    args = parser.parse_args()
    trees = {"this": args.tree}
    if args.baseline:
        trees["baseline"] = args.baseline
    print(f"load average {os.getloadavg()[0]:.2f}; {args.impl} core")
    for name, tree in trees.items():
        for mode in ("memory", "rss"):
            m = run(tree, mode, args.size, args.impl)
            how = "tracemalloc" if mode == "memory" else "RSS growth"
            nbytes = f" (nbytes {m['nbytes']:,})" if m.get("nbytes") else ""
            print(
                f"{name:9s} {how:11s}: {m['entries']:,} entries, {m['bytes'] / 2**20:.2f} MiB, "
                f"{m['per_entry']:.1f} bytes/entry{nbytes}"
            )
    times: dict[str, list[float]] = {name: [] for name in trees}
    for _ in range(args.rounds):
        for name, tree in trees.items():
            times[name].append(run(tree, "time", args.messages, args.impl)["us"])
    for name, got in times.items():
        print(f"{name:9s} deserialize: median {statistics.median(got):.3f} us (min {min(got):.3f})")
    if args.baseline:
        ratios = [a / b for a, b in zip(times["this"], times["baseline"], strict=True)]
        print(f"this / baseline, per round: median {statistics.median(ratios):.4f}")


if __name__ == "__main__":
    main()
