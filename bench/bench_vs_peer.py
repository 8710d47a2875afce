#!/usr/bin/python3
"""Runs the same KD job in our engine (kdw) and in the PyTorch-Python peer
(../shared/bench/peer_kd_fashion.py, same libtorch build), one after the other in one
invocation, and prints per phase: our images/s, the peer's, the ratio, test accuracy and
peak memory (max RSS of each process).

    bench/bench_vs_peer.py [--kdw build/release/bin/kdw] [--epochs 1] [--limit 20000] [--threads 1]

Phases: teacher (CNN, cross-entropy); student_scratch (MLP); student_kd live (MLP, Hinton KD,
teacher forward every batch: teacher_cache off); student_kd cached (our teacher-output cache)
— compared with the peer's KD phase, which always runs the teacher live.
"""
import argparse, csv, json, os, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PEER = os.path.join(ROOT, "..", "shared", "bench", "peer_kd_fashion.py")


def run(cmd, env):
    """Runs cmd; returns its stdout and its own peak RSS in MB (wait4 gives per-child usage)."""
    with tempfile.TemporaryFile(mode="w+") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.PIPE, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            sys.exit(f"{cmd[0]} failed ({proc.returncode}): {proc.stderr.read()}")
        out.seek(0)
        return out.read(), usage.ru_maxrss / 1024.0


def ours(kdw, a, cache, env):
    out = tempfile.mkdtemp(prefix="kdw-bench-")
    run_dir = os.path.join(out, "run")
    args = [kdw, "run", os.path.join(HERE, "peer-equivalent.json"), "--quiet", "--out", run_dir,
            "--set", f"dataset.limit={a.limit}", "--set", f"threads={a.threads}",
            "--set", f"teacher.train.epochs={a.epochs}", "--set", f"student.train.epochs={a.epochs}",
            "--set", f"teacher_cache={cache}"]
    _, rss = run(args, env)
    ips, acc = {}, {}
    with open(os.path.join(run_dir, "metrics.csv")) as f:
        for row in csv.DictReader(f):
            if row["kind"] == "epoch":
                ips.setdefault(row["model"], []).append(float(row["img_per_s"]))
                acc[row["model"]] = float(row["test_acc"])
    cache_s = None
    with open(os.path.join(run_dir, "log.txt")) as f:
        for line in f:
            if "teacher cache:" in line and " computed in " in line:
                cache_s = float(line.split(" computed in ")[1].split()[0])
    return {m: sum(v) / len(v) for m, v in ips.items()}, acc, rss, cache_s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kdw", default=os.path.join(ROOT, "build", "release", "bin", "kdw"))
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--limit", type=int, default=20000)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    env = dict(os.environ, OMP_WAIT_POLICY=os.environ.get("OMP_WAIT_POLICY", "PASSIVE"))

    peer_out, peer_rss = run([sys.executable, PEER, "--epochs", str(a.epochs), "--limit", str(a.limit),
                              "--threads", str(a.threads)], env)
    peer = {j["phase"]: j for j in (json.loads(l) for l in peer_out.splitlines() if l.startswith("{"))}
    live_ips, live_acc, live_rss, _ = ours(a.kdw, a, "off", env)
    cached_ips, cached_acc, cached_rss, cache_s = ours(a.kdw, a, "auto", env)

    rows = [("teacher", live_ips["teacher"], live_acc["teacher"], "teacher"),
            ("student_scratch", live_ips["student_scratch"], live_acc["student_scratch"], "student_scratch"),
            ("student_kd live", live_ips["student"], live_acc["student"], "student_kd"),
            ("student_kd cached", cached_ips["student"], cached_acc["student"], "student_kd")]
    print(f"# epochs {a.epochs}, limit {a.limit}, threads {a.threads}; images/s over training steps")
    print(f"{'phase':<20}{'ours img/s':>12}{'peer img/s':>12}{'ratio':>8}{'ours acc':>10}{'peer acc':>10}")
    result = []
    for name, ips, acc, peer_phase in rows:
        p = peer[peer_phase]
        ratio = ips / p["img_per_s"]
        print(f"{name:<20}{ips:>12.0f}{p['img_per_s']:>12.0f}{ratio:>8.2f}{acc:>10.4f}{p['test_acc']:>10.4f}")
        result.append({"phase": name, "ours_img_per_s": round(ips), "peer_img_per_s": p["img_per_s"],
                       "ratio": round(ratio, 2), "ours_test_acc": acc, "peer_test_acc": p["test_acc"]})
    print(f"teacher cache built once in {cache_s} s (one teacher forward over the {a.limit} images)")
    print(f"peak RSS MB: ours (live) {live_rss:.0f}, ours (cached) {cached_rss:.0f}, peer {peer_rss:.0f}")
    print(json.dumps({"phases": result, "peak_rss_mb": {"ours_live": round(live_rss), "ours_cached": round(cached_rss),
                                                        "peer": round(peer_rss)},
                      "cache_build_s": cache_s, "epochs": a.epochs, "limit": a.limit, "threads": a.threads}))


if __name__ == "__main__":
    main()
