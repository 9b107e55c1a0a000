"""perflab's benchmark gate against pyperf's ``compare_to`` rule, on the same simulated data.

Run: ``python bench/bench_gate.py [--pairs 500] [--seed N] [--json PATH]`` (about 1 minute
on 2 cores). For each distribution of ``gatebench/simulate.py`` (10 processes x 3 values per
side, per-process offset 0-3 %), both rules judge the *same* pairs:

- A/A: base and candidate drawn from one distribution; any "slower"/"faster" is a false alarm.
- power: the candidate 5 % slower (about 2 % CV); only "slower" counts as caught.

Each rule is timed per comparison (median wall time of its calls). The ratios: false-alarm
rate pyperf / perflab (perflab's floored at 1 / pairs when it raised none, printed ``>=``),
and power perflab / pyperf.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gatebench.rules import RULES
from gatebench.simulate import SAMPLERS

SLOWDOWN = 0.05


def _score(name: str, slowdown: float, pairs: int, seed: int) -> dict[str, dict[str, float]]:
    """Each rule's flag rate and seconds per comparison on the same ``pairs`` pairs."""
    rng = np.random.default_rng(seed)
    sampler = SAMPLERS[name]
    data = [(sampler(rng, 1.0), sampler(rng, 1.0 + slowdown)) for _ in range(pairs)]
    out: dict[str, dict[str, float]] = {}
    for rule_name, rule in RULES.items():
        flagged, times = 0, []
        for i, (base, cand) in enumerate(data):
            start = time.perf_counter()
            verdict = rule(base, cand, i)
            times.append(time.perf_counter() - start)
            flagged += verdict == "slower" if slowdown else verdict != "no_change"
        out[rule_name] = {"rate": flagged / pairs, "seconds": statistics.median(times)}
    return out


def _ratio(num: float, den: float, pairs: int) -> str:
    if den > 0:
        return f"{num / den:.1f}x"
    return f">={num * pairs:.0f}x" if num else "- (both 0)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=500)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    import pyperf

    print(f"gate vs pyperf {pyperf.__version__} compare_to: {args.pairs} pairs per cell")
    rows = []
    for k, name in enumerate(SAMPLERS):
        aa = _score(name, 0.0, args.pairs, args.seed + 2 * k)
        power = _score(name, SLOWDOWN, args.pairs, args.seed + 2 * k + 1)
        rows.append({"distribution": name, "aa": aa, "power": power})
    header = (
        "| distribution | A/A FPR perflab | A/A FPR pyperf | FPR pyperf ÷ perflab "
        "| power +5 % perflab | power +5 % pyperf | power perflab ÷ pyperf "
        "| time/cmp perflab | time/cmp pyperf |"
    )
    print(header)
    print("|---" * 9 + "|")
    for row in rows:
        aa, pw = row["aa"], row["power"]
        cells = [
            row["distribution"],
            f"{aa['perflab']['rate']:.1%}",
            f"{aa['pyperf']['rate']:.1%}",
            _ratio(aa["pyperf"]["rate"], aa["perflab"]["rate"], args.pairs),
            f"{pw['perflab']['rate']:.1%}",
            f"{pw['pyperf']['rate']:.1%}",
            _ratio(pw["perflab"]["rate"], pw["pyperf"]["rate"], args.pairs),
            f"{pw['perflab']['seconds'] * 1e3:.1f} ms",
            f"{pw['pyperf']['seconds'] * 1e6:.0f} µs",
        ]
        print("| " + " | ".join(cells) + " |")
    if args.json is not None:
        doc = {"schema": "perflab.bench-gate/1", "pairs": args.pairs, "seed": args.seed}
        doc |= {"pyperf": pyperf.__version__, "slowdown": SLOWDOWN, "rows": rows}
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
