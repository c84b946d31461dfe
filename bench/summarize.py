#!/usr/bin/env python3
"""summarize.py RESULTS_DIR: medians over passes of bench/run.sh, as markdown.

For each step: median wall time (min-max), CPU time (user+sys), peak RSS and
bytes the step added to the repository, per tool, and cairn's ratio to each
peer (cairn / peer: below 1 means cairn is better). A run counts only if its
other_cpu (CPU used by the rest of the machine during the step) is at most
max(1 s, 20 % of wall); the count of such clean runs is shown.
"""
import glob
import os
import statistics
import sys
from collections import defaultdict

STEPS = ["a-init", "b-src-v1", "c-src-v1-again", "d-src-v2", "e1-blob-v1", "e2-blob-v2",
         "f-restore-src-v2", "g-diff-v1-v2", "i-check-read-data", "h-forget-prune", "k-open-password"]


def load(root):
    rows = defaultdict(list)  # (tool, step) -> [dict]
    verify = defaultdict(list)
    limits = []
    for d in sorted(glob.glob(os.path.join(root, "pass-*"))):
        for f in glob.glob(os.path.join(d, "*.tsv")):
            prev_repo = 0
            for line in open(f):
                p = line.rstrip("\n").split("\t")
                if len(p) >= 3 and p[1] in ("verify", "diff-trees"):
                    verify[p[0]].append(("" if p[1] == "verify" else "diff read ") + p[2])
                    continue
                if len(p) < 11:
                    continue
                tool, step = p[0], p[1]
                wall, user, sys_, rss = float(p[3]), float(p[4]), float(p[5]), int(p[6])
                repo, other = int(p[8]), float(p[10])
                rd = int(p[11]) if len(p) > 12 else 0
                wr = int(p[12]) if len(p) > 12 else 0
                rows[(tool, step)].append(dict(wall=wall, cpu=user + sys_, rss=rss / 1024, rc=int(p[7]),
                                               added=repo - prev_repo, repo=repo, other=other, rd=rd, wr=wr))
                prev_repo = repo
        lf = os.path.join(d, "limits.txt")
        if os.path.exists(lf):
            limits.append(open(lf).read().strip())
    return rows, verify, limits


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def main():
    root = sys.argv[1]
    rows, verify, limits = load(root)
    tools = sorted({t for t, _ in rows}, key=lambda t: (t != "cairn", t))
    print(f"# Benchmark summary ({len(glob.glob(os.path.join(root, 'pass-*')))} passes; medians over clean runs)\n")
    for step in STEPS:
        print(f"## {step}\n")
        print("| tool | clean/n | wall s median (min-max) | CPU s | peak RSS MiB | repo added MB | read MB | written MB | rc |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        stats = {}
        for t in tools:
            rs = rows.get((t, step), [])
            if not rs:
                continue
            clean = [r for r in rs if r["other"] <= max(1.0, 0.2 * r["wall"])] or rs
            s = dict(wall=med([r["wall"] for r in clean]), cpu=med([r["cpu"] for r in clean]),
                     rss=med([r["rss"] for r in clean]), added=med([r["added"] for r in rs]),
                     rd=med([r["rd"] for r in rs]), wr=med([r["wr"] for r in rs]))
            stats[t] = s
            walls = [r["wall"] for r in clean]
            rcs = ",".join(sorted({str(r["rc"]) for r in rs}))
            print(f"| {t} | {len(clean)}/{len(rs)} | {s['wall']:.2f} ({min(walls):.2f}-{max(walls):.2f}) | "
                  f"{s['cpu']:.2f} | {s['rss']:.0f} | {s['added'] / 1e6:.1f} | {s['rd'] / 1e6:.1f} | "
                  f"{s['wr'] / 1e6:.1f} | {rcs} |")
        if "cairn" in stats:
            c = stats["cairn"]
            for t, s in stats.items():
                if t == "cairn":
                    continue
                def ratio(a, b):
                    return f"{a / b:.2f}x" if b else "-"
                print(f"\ncairn / {t}: wall {ratio(c['wall'], s['wall'])}, CPU {ratio(c['cpu'], s['cpu'])}, "
                      f"peak RSS {ratio(c['rss'], s['rss'])}, bytes added {ratio(c['added'], s['added'])}", end="")
            print()
        print()
    print("## restore verification (diff -r and metadata compare against src-v2) and diff pruning\n")
    for t in tools:
        for v in verify.get(t, []):
            print(f"- {t}: {v}")
    if limits:
        print("\n## machine limits (first pass)\n\n```\n" + limits[0] + "\n```")


if __name__ == "__main__":
    main()
