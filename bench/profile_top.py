"""Summarise py-spy's collapsed stacks (bench/load.py --profile DIR) as tables.

    python bench/profile_top.py DIR/text.txt [--top 15]

Prints where the bot's samples fall by package (each sample counted once, for the
innermost frame's package), the functions with the most samples of their own, the
project's functions by inclusive samples (themselves and what they call), and each
sample by the innermost frame of the project's own code (the call that handed the
time to a library; SQLAlchemy's async work runs in greenlets whose stacks start at
`Session.execute`, `Session.get`, ... and hold no project frame: shown as such).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^:()]+)(?::\d+)?\)$")


def package(path: str) -> str:
    """The package a frame's file belongs to (py-spy names files from their package)."""
    path = path.split("site-packages/")[-1]
    top = path.split("/", 1)[0] if "/" in path else path.removesuffix(".py")
    if top in ("bot", "handlers", "storage"):
        return f"project ({top})"
    return top


def parse(path: Path) -> list[tuple[list[tuple[str, str]], int]]:
    stacks = []
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = []
        for raw in stack.split(";"):
            match = FRAME.match(raw.strip())
            frames.append((match["func"], match["file"]) if match else (raw, ""))
        stacks.append((frames, int(count)))
    return stacks


def summary(path: Path, top: int) -> str:
    stacks = parse(path)
    total = sum(count for _, count in stacks) or 1
    by_package: Counter[str] = Counter()
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    handed: Counter[str] = Counter()
    for frames, count in stacks:
        func, file = frames[-1]
        by_package[package(file)] += count
        own[f"{func} ({file.split('site-packages/')[-1]})"] += count
        seen = set()
        for func, file in frames:
            if package(file).startswith("project"):
                name = f"{func} ({file})"
                if name not in seen:
                    seen.add(name)
                    inclusive[name] += count
        ours = [f"{f} ({p})" for f, p in frames if package(p).startswith("project")]
        handed[ours[-1] if ours else f"no project frame: {frames[0][0]}"] += count
    lines = [f"{path.name}: {total} samples", "", "by package (innermost frame):"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in by_package.most_common(top)]
    lines += ["", "functions by own samples:"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in own.most_common(top)]
    lines += ["", "project functions by inclusive samples:"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in inclusive.most_common(top)]
    lines += ["", "by the innermost frame of the project's code:"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in handed.most_common(top)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    for path in args.files:
        print(summary(path, args.top))
        print()


if __name__ == "__main__":
    main()
