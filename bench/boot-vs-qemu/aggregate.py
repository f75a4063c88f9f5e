#!/usr/bin/env python3
"""Per-pair ratios minicloud/bare and a 95% confidence interval, from rounds.tsv files.

    aggregate.py [--run TAG] rounds.tsv...

A pair is the minicloud boot and the bare boot with the same (run, pair). Pairs missing a side
are listed and left out. The interval is a t-interval on the mean of the log ratios
(exponentiated: a CI on the geometric mean ratio) and, as a check that needs no normality, a
bootstrap percentile interval (20,000 resamples of the pairs, fixed seed). Also prints the
per-side medians of each milestone and of the time between milestones.
"""
import csv
import math
import random
import statistics
import sys

# Two-sided 97.5% quantiles of Student's t for df = 1..30; larger df use the normal value.
T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
        2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
        2.060, 2.056, 2.052, 2.048, 2.045, 2.042]
MILESTONES = ["kernel", "init_local", "init", "modules_config", "modules_final", "user_data"]


def t975(df):
    return T975[df - 1] if df <= len(T975) else 1.960


def num(v):
    try:
        return float(v)
    except ValueError:
        return None


def main(argv):
    only_run = None
    if len(argv) >= 2 and argv[0] == "--run":
        only_run, argv = argv[1], argv[2:]
    if not argv:
        sys.exit("usage: aggregate.py [--run TAG] rounds.tsv...")
    boots = {}
    for path in argv:
        with open(path, newline="") as f:
            for row in csv.DictReader(f, delimiter="\t"):
                if only_run and row["run"] != only_run:
                    continue
                boots[(row["run"], row["pair"], row["side"])] = row
    pairs = sorted({(r, p) for r, p, _ in boots}, key=lambda k: (k[0], int(k[1])))
    ratios, complete = [], []
    for r, p in pairs:
        a, b = boots.get((r, p, "minicloud")), boots.get((r, p, "bare"))
        if not a or not b or num(a["user_data"]) is None or num(b["user_data"]) is None:
            print(f"pair {r}/{p}: incomplete, left out")
            continue
        complete.append((a, b))
        ratios.append(num(a["user_data"]) / num(b["user_data"]))
    n = len(ratios)
    if n == 0:
        print("no complete pair")
        return 1
    print(f"{'run/pair':14} {'minicloud s':>11} {'bare s':>8} {'ratio':>6} {'load1 (mc/bare)':>16}")
    for (a, b), q in zip(complete, ratios):
        print(f"{a['run'] + '/' + a['pair']:14} {num(a['user_data']):11.1f} "
              f"{num(b['user_data']):8.1f} {q:6.3f} {a['load1'] + '/' + b['load1']:>16}")

    def seg(row, x, y):
        vx, vy = num(row[x]), num(row[y])
        return None if vx is None or vy is None else vy - vx

    print("\nmedians over the complete pairs (s):")
    print(f"{'':34} {'minicloud':>9} {'bare':>7} {'diff':>6}")
    spans = [("launch -> " + m, None, m) for m in MILESTONES]
    spans += [("kernel -> init-local", "kernel", "init_local"),
              ("init-local -> init", "init_local", "init"),
              ("init -> modules:config", "init", "modules_config"),
              ("modules:config -> modules:final", "modules_config", "modules_final"),
              ("modules:final -> user data", "modules_final", "user_data")]
    for name, x, y in spans:
        mc = [v for v in ((num(a[y]) if x is None else seg(a, x, y)) for a, _ in complete)
              if v is not None]
        bb = [v for v in ((num(b[y]) if x is None else seg(b, x, y)) for _, b in complete)
              if v is not None]
        if mc and bb:
            m1, m2 = statistics.median(mc), statistics.median(bb)
            print(f"{name:34} {m1:9.1f} {m2:7.1f} {m1 - m2:+6.1f}")

    logs = [math.log(q) for q in ratios]
    gmean = math.exp(statistics.mean(logs))
    line = f"\nratio minicloud_over_bare: n_pairs={n} geometric_mean={gmean:.3f} " \
           f"median={statistics.median(ratios):.3f}"
    if n >= 2:
        sd = statistics.stdev(logs)
        h = t975(n - 1) * sd / math.sqrt(n)
        lo, hi = math.exp(statistics.mean(logs) - h), math.exp(statistics.mean(logs) + h)
        rng = random.Random(12345)
        boot = sorted(
            math.exp(statistics.mean(rng.choice(logs) for _ in range(n))) for _ in range(20000))
        blo, bhi = boot[int(0.025 * len(boot))], boot[int(0.975 * len(boot)) - 1]
        line += (f" t95=[{lo:.3f}, {hi:.3f}] bootstrap95=[{blo:.3f}, {bhi:.3f}]"
                 f" (goal <= 1.1: {'met' if hi <= 1.1 else 'not met' if lo > 1.1 else 'undecided'}"
                 f" at 95%)")
    else:
        line += " (one pair: no interval)"
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
