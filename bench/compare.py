#!/usr/bin/env python3
"""Runs Strata's benchmarks interleaved with the PyTorch and TensorFlow/Keras reference scripts
and prints the side-by-side table of docs/benchmarks.md (medians over rounds, ratios, peak RSS).

Usage (from the repository root, after `cargo build --release -p mnist -p cifar10 --bins` and
`cargo build --release -p strata-bench --example model_bench`; the reference frameworks in
their own venvs, as ../shared/bench/README.md says):

    python3 bench/compare.py --rounds 3
    python3 bench/compare.py --rounds 3 --workloads w4,w5 --no-tf

Strata's commands: W3 `mnist bench`, W4 `cifar10 bench`, W5 and W6 the layers crate's
`model_bench` example. Each round runs, for every workload, Strata, PyTorch (NCHW), PyTorch
(NHWC) and TensorFlow one after the other, so that drift of the machine's speed hits all peers alike. Every program prints
`RESULT key=value ...` lines; the median of each line's `median` over the rounds is reported.
Throughput rows (img/s) give ratio = Strata / peer; latency rows (ms) give ratio = peer /
Strata, so a ratio above 1 always means Strata is faster. Peak RSS is each process's own
maximum resident set, from the operating system's accounting of the finished child.

Standard library only.
"""

import argparse
import os
import statistics
import subprocess
import sys

PEERS = ["strata", "torch NCHW", "torch NHWC", "tf"]


def commands(workload, args):
    """The command line of each peer for one workload (None: the peer is skipped)."""
    release = os.path.join(args.target, "release")
    strata = {
        "w3": [[os.path.join(release, "mnist"), "bench", "--threads", "2"]],
        "w4": [[os.path.join(release, "cifar10"), "bench", "--threads", "2"]],
        "w5": [[os.path.join(release, "examples", "model_bench"), "w5"]],
        "w6": [[os.path.join(release, "examples", "model_bench"), "w6"]],
    }[workload]
    torch = [args.torch_python, os.path.join(args.bench_dir, "torch_models.py"), workload]
    tf = [args.tf_python, os.path.join(args.bench_dir, "tf_models.py"), workload]
    return {
        "strata": strata,
        "torch NCHW": [torch],
        "torch NHWC": [torch + ["--channels-last"]],
        "tf": None if args.no_tf else [tf],
    }


def run_with_rss(cmd):
    """Runs one command; returns its RESULT lines as dicts and its peak resident set in MiB
    (the finished child's own ru_maxrss, from wait4)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} exited with status {proc.returncode}")
    results = []
    for line in out.splitlines():
        if line.startswith("RESULT "):
            results.append(dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv))
    return results, usage.ru_maxrss / 1024.0


def row_key(fields):
    """Which table row a RESULT line belongs to."""
    return (fields["wl"], fields["mode"], int(fields["batch"]), fields["unit"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workloads", default="w3,w4,w5,w6")
    parser.add_argument("--bench-dir", default=os.path.join("..", "shared", "bench"))
    parser.add_argument("--target", default="target")
    parser.add_argument("--torch-python", default=os.path.expanduser("~/venv-torch/bin/python"))
    parser.add_argument("--tf-python", default=os.path.expanduser("~/venv-tf/bin/python"))
    parser.add_argument("--no-tf", action="store_true", help="skip TensorFlow")
    args = parser.parse_args()
    if args.rounds < 1:
        sys.exit("--rounds must be at least 1")
    workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    for w in workloads:
        if w not in ("w3", "w4", "w5", "w6"):
            sys.exit(f"unknown workload {w!r}: expected w3, w4, w5 or w6")

    medians = {}  # (row, peer) -> [median per round]
    rss = {}  # (workload, peer) -> [peak MiB per round]
    for r in range(args.rounds):
        for w in workloads:
            for peer, cmds in commands(w, args).items():
                if cmds is None:
                    continue
                for cmd in cmds:
                    print(f"# round {r + 1}: {peer}: {' '.join(cmd)}", file=sys.stderr)
                    results, peak = run_with_rss(cmd)
                    rss.setdefault((w, peer), []).append(peak)
                    for fields in results:
                        medians.setdefault((row_key(fields), peer), []).append(
                            float(fields["median"]))

    rows = sorted({key for key, _ in medians}, key=lambda k: (k[0], k[1] != "train", k[2]))
    peers = [p for p in PEERS if any(p == q for _, q in medians)]
    print(f"Medians of {args.rounds} interleaved round(s); ratio > 1 means Strata is faster.\n")
    header = ["workload"] + peers + [f"Strata vs {p}" for p in peers if p != "strata"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        wl, mode, batch, unit = row
        values = {p: statistics.median(medians[(row, p)]) for p in peers if (row, p) in medians}
        cells = [f"{wl} {mode} batch {batch} ({unit})"]
        cells += [f"{values[p]:,.1f}" if p in values else "—" for p in peers]
        for p in peers:
            if p == "strata":
                continue
            if p in values and "strata" in values:
                ours, theirs = values["strata"], values[p]
                ratio = theirs / ours if unit == "ms" else ours / theirs
                cells.append(f"{ratio:.2f}")
            else:
                cells.append("—")
        print("| " + " | ".join(cells) + " |")
    print("\nPeak RSS (MiB, largest over rounds):\n")
    print("| workload | " + " | ".join(peers) + " |")
    print("|" + "---|" * (len(peers) + 1))
    for w in workloads:
        cells = [f"{max(rss[(w, p)]):,.0f}" if (w, p) in rss else "—" for p in peers]
        print(f"| {w.upper()} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
