"""Summarise a py-spy `--format raw` profile: top functions by inclusive and by self samples.

.venv/bin/py-spy record -p PID -d 20 -r 200 --format raw -o prof.raw
python -m bench.pyspy_summary prof.raw [--top 25] [--match crossdock]
"""

from __future__ import annotations

import argparse
import re
from collections import Counter

_FRAME = re.compile(r"^(?P<fn>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def _short(frame: str) -> str:
    m = _FRAME.match(frame)
    if not m:
        return frame
    path = m.group("file")
    for marker in ("site-packages/", "src/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{m.group('fn')} ({path})"


def summarise(path: str, top: int, match: str | None) -> str:
    inclusive: Counter[str] = Counter()
    self_: Counter[str] = Counter()
    total = 0
    with open(path, encoding="utf-8", errors="replace") as fh:
        lines = fh.read().splitlines()
    for line in lines:
        if not line:
            continue
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():  # a frame name with a newline in it (code from exec): skip the piece
            continue
        n = int(count)
        total += n
        frames = [_short(f) for f in stack.split(";")]
        for f in set(frames):
            inclusive[f] += n
        self_[frames[-1]] += n
    out = [f"{total} samples"]
    for title, counter in (("inclusive", inclusive), ("self", self_)):
        out.append(f"\n-- top {top} by {title} --")
        rows = [(f, n) for f, n in counter.most_common() if not match or match in f][:top]
        out += [f"{100 * n / total:5.1f}%  {f}" for f, n in rows]
    return "\n".join(out)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("raw")
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--match")
    a = p.parse_args()
    print(summarise(a.raw, a.top, a.match))
