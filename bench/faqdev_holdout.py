"""Write faq-dev's knowledge base with a fifth of its entries left out, for ``bot_eval``.

    .venv/bin/python -m bench.faqdev_holdout ../shared/datasets/faq-dev/kb.jsonl var/kb-80.jsonl

An entry is left out when the SHA-256 of its id is divisible by 5: reproducible without a seed,
about 20 % of each source. Queries whose relevant entries were all kept are then *covered*, the
others *uncovered* (docs/answering.md, "Calibration").
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path


def left_out(entry_id: str) -> bool:
    return int(hashlib.sha256(entry_id.encode()).hexdigest(), 16) % 5 == 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    args = parser.parse_args()
    lines = args.source.read_text(encoding="utf-8").splitlines()
    kept = [line for line in lines if line.strip() and not left_out(json.loads(line)["id"])]
    args.target.write_text("\n".join(kept) + "\n", encoding="utf-8")
    print(
        json.dumps({"entries": len(lines), "kept": len(kept), "left_out": len(lines) - len(kept)})
    )


if __name__ == "__main__":
    main()
