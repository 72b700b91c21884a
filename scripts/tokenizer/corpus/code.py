#!/usr/bin/env python3
"""Summarise gateway traces: p50/p95 latency and tokens per model."""
from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict
from dataclasses import dataclass, field


@dataclass
class ModelStats:
    latencies_ms: list[float] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def p(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        xs = sorted(self.latencies_ms)
        k = max(0, min(len(xs) - 1, round(q * (len(xs) - 1))))
        return xs[k]


def main(path: str) -> int:
    stats: dict[str, ModelStats] = defaultdict(ModelStats)
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            try:
                trace = json.loads(line)
            except json.JSONDecodeError as e:
                print(f"{path}:{lineno}: {e}", file=sys.stderr)
                continue
            s = stats[trace["model"]]
            s.latencies_ms.append(trace["duration_ms"])
            usage = trace.get("usage") or {}
            s.prompt_tokens += usage.get("prompt_tokens", 0)
            s.completion_tokens += usage.get("completion_tokens", 0)
    for model, s in sorted(stats.items()):
        mean = statistics.fmean(s.latencies_ms) if s.latencies_ms else 0.0
        print(f"{model:<24} n={len(s.latencies_ms):>6} p50={s.p(0.5):8.1f}ms p95={s.p(0.95):8.1f}ms "
              f"mean={mean:8.1f}ms in={s.prompt_tokens:>9,} out={s.completion_tokens:>9,}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "traces.jsonl"))
