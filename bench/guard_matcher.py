"""What the sensitive-term guard costs, against the obvious alternatives.

    .venv/bin/python -m bench.guard_matcher [--terms 100,1000,10000] [--rounds 5]

Builds term lists of each size (seeded random Chinese words of 2-4 characters and English words,
as compliance lists are), and a text made of the demo help centre (Chinese and English, about
15,000 characters; no term occurs in it, the common case). For each size it prints, in one JSON
object: the time to build the matcher, to scan the whole text once (``Matcher.find``, as the
question and each knowledge passage are checked), to guard it streamed in 8-character deltas
(``StreamGuard``, as an answer is checked, per 1,000 characters), and the same single scan with
one compiled regular-expression alternation and with a loop of ``in`` tests over the folded
text. No database, no Django settings.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
from pathlib import Path
from statistics import median

from apps.bot.guard import Matcher, StreamGuard, Term, fold_char

ROOT = Path(__file__).resolve().parents[1]
DELTA = 8


def _terms(count: int, rng: random.Random) -> list[Term]:
    # CJK Extension A: real Han characters the help centre never uses, so no term occurs.
    han = [chr(c) for c in range(0x3400, 0x3400 + 3000)]
    letters = "abcdefghijklmnopqrstuvwxyz"
    terms = []
    for i in range(count):
        if i % 2:
            text = "".join(rng.choice(han) for _ in range(rng.randint(2, 4)))
        else:
            text = "".join(rng.choice(letters) for _ in range(rng.randint(6, 10)))
        terms.append(Term(text, "other", "block", i))
    return terms


def _text() -> str:
    rows = (ROOT / "apps/knowledge/demo/help-centre.jsonl").read_text(encoding="utf-8")
    return "\n".join(json.loads(line)["body"] for line in rows.splitlines() if line.strip())


def _best(fn, rounds: int) -> float:
    """Median seconds of ``rounds`` calls."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return median(times)


def _stream(matcher: Matcher, text: str) -> None:
    guard = StreamGuard(matcher)
    for start in range(0, len(text), DELTA):
        guard.feed(text[start : start + DELTA])
    guard.finish()


def _measure(terms: list[Term], text: str, rounds: int) -> dict[str, float]:
    folded = "".join(fold_char(c) for c in text)
    per_1k = 1000 * 1000 / len(text)
    matcher = Matcher(terms)
    keys = ["".join(fold_char(c) for c in t.text) for t in terms]
    pattern = re.compile("|".join(re.escape(k) for k in sorted(keys, key=len, reverse=True)))
    automaton = matcher._automaton
    return {
        "build_ms": round(_best(lambda: Matcher(terms), rounds) * 1000, 2),
        "fold_ms_per_1k_chars": round(
            _best(lambda: "".join(fold_char(c) for c in text), rounds) * per_1k, 3
        ),
        "automaton_ms_per_1k_chars": round(
            _best(lambda: list(automaton.iter(folded)), rounds) * per_1k, 3
        ),
        "find_ms_per_1k_chars": round(_best(lambda: matcher.find(text), rounds) * per_1k, 3),
        "stream_ms_per_1k_chars": round(_best(lambda: _stream(matcher, text), rounds) * per_1k, 3),
        "regex_ms_per_1k_chars": round(_best(lambda: pattern.findall(folded), rounds) * per_1k, 3),
        "in_loop_ms_per_1k_chars": round(
            _best(lambda: [k for k in keys if k in folded], rounds) * per_1k, 3
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--terms", default="100,1000,10000")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(20240611)
    text = _text()
    sizes = {
        size: _measure(_terms(size, rng), text, args.rounds)
        for size in (int(n) for n in args.terms.split(","))
    }
    print(json.dumps({"text_chars": len(text), "delta_chars": DELTA, "sizes": sizes}))


if __name__ == "__main__":
    main()
