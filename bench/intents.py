"""Benchmark: how well free text is understood, and what it costs.

    python bench/intents.py [--part tune|held|all] [--errors]

Reads the labelled phrases in tests/data/intents/phrases.tsv (split by a hash of the
text into a tuning part, two in three, and a held-aside part, one in three) and the
off-topic phrases in offtopic.tsv. Prints, per language, top-1 accuracy per intent and
a confusion table (rows: the label; columns: the best guess), the share of off-topic
phrases for which no flow is offered, the time per message and the memory the
recogniser takes. `--errors` lists the misses of the tuning part only: the held-aside
part is never looked at phrase by phrase. Targets: held-aside top-1 accuracy at least
90% in each language, off-topic rejection at least 80%, under 1 ms per message, no
more than 30 MB.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.intents.evaluation import NONE, Phrase, read_phrases, rejected, score
from bot.intents.recogniser import Intent, Recogniser

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "intents"
SHORT = {
    "cancel": "canc",
    "refund": "refd",
    "defect": "defc",
    "payment": "paym",
    "seller": "sell",
    "where_order": "wher",
    "person": "pers",
    "my_orders": "ordr",
    "my_requests": "reqs",
    "language": "lang",
    "greeting": "helo",
    "thanks": "thnx",
    NONE: "none",
}


def part(phrases: list[Phrase], name: str) -> list[Phrase]:
    if name == "all":
        return phrases
    return [p for p in phrases if p.held_aside == (name == "held")]


def report(recogniser: Recogniser, phrases: list[Phrase], title: str, errors: bool) -> None:
    labels = [intent.value for intent in Intent]
    columns = [*labels, NONE]
    for lang in ("ru", "en"):
        chosen = [p for p in phrases if p.lang == lang]
        result = score(recogniser, chosen)
        print(f"\n## {title}, {lang}: {len(chosen)} phrases")
        print(
            f"top-1 accuracy {result.accuracy():.1%}; "
            f"right and sure enough to offer the flow {result.confident():.1%}"
        )
        print(
            f"{'intent':<12} {'n':>3} {'top-1':>6}   " + " ".join(f"{SHORT[c]:>4}" for c in columns)
        )
        for label in labels:
            row = result.confusion[label]
            cells = " ".join(f"{row[c] or '.':>4}" for c in columns)
            print(f"{label:<12} {result.total[label]:>3} {result.accuracy(label):>6.0%}   {cells}")
        if errors:
            for phrase, predicted in result.misses:
                print(f"  miss: {phrase.text!r}: {phrase.label} → {predicted}")


def timing(recogniser: Recogniser, texts: list[str]) -> dict[str, float]:
    """Microseconds per message. CPU time of this thread (what a message costs, whatever
    else the machine runs) on first sight and once the words were seen; wall time too."""
    fresh = Recogniser.from_package()
    start = time.thread_time()
    for text in texts:
        fresh.recognise(text)
    cold = (time.thread_time() - start) / len(texts) * 1e6
    cpu, wall = [], []
    for _ in range(20):
        for text in texts:
            start, started = time.thread_time(), time.perf_counter()
            recogniser.recognise(text)
            cpu.append(time.thread_time() - start)
            wall.append(time.perf_counter() - started)
    cpu.sort()
    return {
        "cold": cold,
        "mean": statistics.fmean(cpu) * 1e6,
        "median": statistics.median(cpu) * 1e6,
        "p99": cpu[int(len(cpu) * 0.99)] * 1e6,
        "wall": statistics.fmean(wall) * 1e6,
    }


def rss_mib(code: str) -> float:
    """Resident memory of a fresh interpreter after running `code`, in MiB (Linux).

    Read from /proc: ru_maxrss would carry this process's peak over the fork."""
    status = "print(open('/proc/self/status').read())"
    out = subprocess.run(  # noqa: S603
        [sys.executable, "-c", f"{code}\n{status}"], capture_output=True, text=True, check=True
    )
    line = next(line for line in out.stdout.splitlines() if line.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=("tune", "held", "all"), default="held")
    parser.add_argument("--errors", action="store_true", help="list the tuning part's misses")
    args = parser.parse_args()

    tracemalloc.start()
    start = time.perf_counter()
    recogniser = Recogniser.from_package()
    load = time.perf_counter() - start
    memory = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()

    phrases = read_phrases(DATA / "phrases.tsv")
    offtopic = read_phrases(DATA / "offtopic.tsv")
    tuning, held = part(phrases, "tune"), part(phrases, "held")
    print(f"{len(phrases)} labelled phrases: {len(tuning)} for tuning, {len(held)} held aside")
    report(recogniser, part(phrases, args.part), f"{args.part} part", errors=False)
    if args.errors:
        report(recogniser, tuning, "tuning part, misses", errors=True)
    for lang in ("ru", "en"):
        chosen = [p for p in part(offtopic, args.part) if p.lang == lang]
        no_flow, no_guess = rejected(recogniser, chosen)
        print(
            f"\noff-topic ({args.part} part), {lang}: {len(chosen)} phrases; no flow offered "
            f"{no_flow:.1%}, not even a guess {no_guess:.1%}"
        )
    if args.errors:
        for phrase in part(offtopic, "tune"):
            understood = recogniser.recognise(phrase.text)
            if understood.best is not None:
                print(f"  off-topic guessed: {phrase.text!r} → {understood.best.value}")
    texts = [p.text for p in phrases + offtopic]
    t = timing(recogniser, texts)
    print(
        f"\nCPU time per message ({len(texts)} messages): {t['cold']:.0f} µs on first sight; "
        f"once their words were seen {t['mean']:.0f} µs mean, {t['median']:.0f} µs median, "
        f"{t['p99']:.0f} µs p99 (wall clock {t['wall']:.0f} µs mean on this machine now)"
    )
    root = str(Path(__file__).resolve().parents[1])
    bare = rss_mib("import sys")
    loaded = rss_mib(
        f"import sys; sys.path.insert(0, {root!r})\n"
        "from bot.intents import Recogniser; Recogniser.from_package()"
    )
    print(
        f"loading and indexing the vocabulary: {load * 1000:.0f} ms, {memory:.1f} MiB of "
        f"Python allocations; a process that loads it: +{loaded - bare:.1f} MiB resident "
        "(libraries included)"
    )


if __name__ == "__main__":
    main()
