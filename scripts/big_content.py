"""A signed message with a very large content frame: time and memory to read it, per packer.

    python scripts/big_content.py                 # 1 GiB, every packer, compiled core
    python scripts/big_content.py --mib 256 --packers orjson,json --impl python

Each case runs in two processes: one packs and signs ``{"text": "x" * N}`` into a file, the
other reads the frames (as bytes, as ``recv`` gives them), deserializes them and reports the
time of ``deserialize`` and its peak resident memory above what the frames took. A second
case, ``[{}, {}, ...]``, shows how much more memory than its size a frame can take once
unpacked (every packer turns 1-3 bytes into a whole object).

jsession puts no limit on a frame's size, as the reference does not: by the time
``deserialize`` runs, the frame has been received whole. A deployment that must bound what
a key holder can make it allocate sets ``zmq.MAXMSGSIZE`` on its sockets.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile

MAKE = r"""
import os, struct, sys
impl, packer, shape, size, path = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
from jsession import session as ss
s = ss.Session(key=b"big-content-key", packer=packer)
if shape == "text":
    content = s.pack({"text": "x" * size})
else:  # about size bytes of [{}, {}, ...], each {} its own object
    content = s.pack([{} for _ in range(size // (3 if packer in ("json", "orjson") else 1))])
parts = [s.pack(s.msg_header("stream")), s.pack({}), s.pack({}), content]
with open(path, "wb") as f:
    for frame in [s.sign(parts), *parts]:
        f.write(struct.pack("<Q", len(frame)))
        f.write(frame)
"""

READ = r"""
import json, os, resource, struct, sys, time
impl, packer, shape, size, path = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
if impl == "python":
    os.environ["JSESSION_PURE_PYTHON"] = "1"
from jsession import session as ss
s = ss.Session(key=b"big-content-key", packer=packer)
frames = []
with open(path, "rb") as f:
    while head := f.read(8):
        frames.append(f.read(struct.unpack("<Q", head)[0]))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
cpu = time.process_time()
try:
    msg = s.deserialize(frames)
except (ValueError, TypeError) as e:
    msg, outcome = None, f"{type(e).__name__}: {str(e)[:60]}"
elapsed = time.perf_counter() - t
cpu = time.process_time() - cpu
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if msg is None:
    ok = True
else:
    outcome = "read"
    body = msg["content"]
    ok = body["text"] == "x" * size if shape == "text" else isinstance(body, list)
print(json.dumps({"frame": len(frames[-1]), "seconds": elapsed, "cpu": cpu, "outcome": outcome, "ok": ok,
                  "peak_growth": (peak - before) * 1024}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mib", type=int, default=1024, help="size of the text content")
    parser.add_argument("--amplified-mib", type=int, default=16, help="size of the [{}, ...] content")
    parser.add_argument("--packers", default="orjson,json,msgpack,pickle")
    parser.add_argument("--impl", choices=["compiled", "python"], default="compiled")
    args = parser.parse_args()
    failed = False
    for packer in args.packers.split(","):
        for shape, mib in (("text", args.mib), ("objects", args.amplified_mib)):
            with tempfile.NamedTemporaryFile(prefix="jsession-big-") as tmp:
                argv = [args.impl, packer, shape, str(mib << 20), tmp.name]
                subprocess.run([sys.executable, "-c", MAKE, *argv], check=True, cwd="/")
                out = subprocess.run(
                    [sys.executable, "-c", READ, *argv], capture_output=True, text=True, cwd="/"
                )
            if out.returncode:
                print(f"{packer:8s} {shape:8s} CRASHED (exit {out.returncode}): {out.stderr[-300:]}")
                failed = True
                continue
            r = json.loads(out.stdout)
            failed |= not r["ok"]
            print(
                f"{packer:8s} {shape:8s} frame {r['frame'] / 2**20:8.1f} MiB  "
                f"deserialize {r['seconds']:6.2f} s (CPU {r['cpu']:6.2f} s)  "
                f"peak memory +{r['peak_growth'] / 2**20:8.1f} MiB "
                f"({r['peak_growth'] / r['frame']:.1f}x the frame)  {r['outcome']}"
            )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
