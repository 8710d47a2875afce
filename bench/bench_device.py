#!/usr/bin/python3
"""Our engine against the tuned PyTorch-Python peer (bench/peer_tuned.py) on one device, in one
invocation, phase by phase, and prints ours / peer as ratios.

    bench/bench_device.py --device cpu|cuda [--kdw build/release/bin/kdw] [--precisions fp32,bf16]
        [--shapes cifar,fashion] [--pairs resnet20:resnet8,wrn_40_2:wrn_16_2] [--threads 1,2]
        [--epochs 3] [--peer-steps 300] [--peer-warmup 50] [--no-compile] [--json OUT]

Phases: teacher (cross-entropy steps of the teacher), kd_live (Hinton KD, T 4, alpha 0.9, a live
teacher forward per batch), kd_cached (the same with the teacher's logits cached once; its
build time is printed beside), feature_kd (attention transfer, live teacher) and eval (no-grad
student forwards, batches of 1000; ours: the epoch-end evaluation, timed from the log).
Batch 64, SGD momentum 0.9, synthetic images of CIFAR (3x32x32) or Fashion-MNIST (1x28x28)
shape, 2,000 an epoch. Ours: `kdw run` of generated projects (channels_last, analysis off);
images/s is the median of the epoch rows after the first (the allocator and cuDNN's autotuning
warm up there) — so use --epochs 3 or more. The peer: --peer-warmup steps, then --peer-steps
timed ones, one read-back at the end. torch.compile rows where that PyTorch has it (CUDA).
"""
import argparse, csv, json, os, statistics, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PHASES = ("teacher", "kd_live", "kd_cached", "feature_kd", "eval")


def kdw_run(kdw, project, out, name):
    path = os.path.join(out, name + ".json")
    with open(path, "w") as f:
        json.dump(project, f)
    run_dir = os.path.join(out, name)
    p = subprocess.run([kdw, "run", path, "--quiet", "--out", run_dir], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"kdw failed ({p.returncode}) on {name}: {p.stderr[-2000:]}")
    ips = {}
    with open(os.path.join(run_dir, "metrics.csv")) as f:
        for row in csv.DictReader(f):
            if row["kind"] == "epoch":
                ips.setdefault(row["model"], []).append(float(row["img_per_s"]))
    log = open(os.path.join(run_dir, "log.txt")).read().splitlines()
    return run_dir, ips, log


def med(v):
    return statistics.median(v[1:] if len(v) > 1 else v)


def ours(kdw, device, precision, epochs, threads, shape, pair):
    out = tempfile.mkdtemp(prefix="kdw-bench-device-")
    tname, sname = pair.split(":")
    c, hw = (3, 32) if shape == "cifar" else (1, 28)
    train = {"epochs": epochs, "batch_size": 64, "lr": 0.05, "log_every": 1000}
    base = {
        "name": "bench", "seed": 0, "device": device, "threads": threads, "precision": precision,
        "memory_format": "channels_last", "teacher_cache": "off", "baseline": False,
        "analysis": {"enabled": False}, "eval_batch_size": 1000,
        "dataset": {"name": "synthetic", "image_size": hw, "channels": c},
        "teacher": {"arch": tname, "train": train}, "student": {"arch": sname, "train": train},
        "method": {"name": "kd", "temperature": 4.0, "alpha": 0.9},
    }
    res = {}
    run_dir, ips, log = kdw_run(kdw, base, out, "live")
    res["teacher"], res["kd_live"] = med(ips["teacher"]), med(ips["student"])
    teacher = os.path.join(run_dir, "teacher.pt")
    cached = dict(base, teacher_cache="auto")
    cached["teacher"] = {"arch": tname, "checkpoint": teacher}
    _, ips, log = kdw_run(kdw, cached, out, "cached")
    res["kd_cached"] = med(ips["student"])
    res["cache_build_s"] = next((float(l.split(" computed in ")[1].split()[0]) for l in log
                                 if "teacher cache:" in l and " computed in " in l), None)
    feature = dict(cached, teacher_cache="off", method={"name": "at"})
    _, ips, log = kdw_run(kdw, feature, out, "at")
    res["feature_kd"] = med(ips["student"])
    evals = [float(l.split(", eval ")[1].split()[0]) for l in log if " epoch " in l and ", eval " in l]
    res["eval"] = statistics.median(evals) if evals else None
    return res


def macs(kdw, arch, shape):
    """Multiply-accumulates per image from `kdw info` (convolutions and Linear layers)."""
    inp = "3x32x32" if shape == "cifar" else "1x28x28"
    out = subprocess.run([kdw, "info", arch, "--input", inp], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.strip().startswith("MACs:"):
            return int(line.split()[1])
    return None


PEAK = """
import json, sys, time, torch
dev, prec, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
if threads: torch.set_num_threads(threads)
dt = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[prec]
n = 4096 if dev == "cuda" else 2048
a, b = torch.randn(n, n, device=dev, dtype=dt), torch.randn(n, n, device=dev, dtype=dt)
for _ in range(3): a @ b
if dev == "cuda": torch.cuda.synchronize()
t0, k = time.perf_counter(), 0
while time.perf_counter() - t0 < 2.0:
    a @ b; k += 1
if dev == "cuda": torch.cuda.synchronize()
print(json.dumps({"gflops": 2 * n ** 3 * k / (time.perf_counter() - t0) / 1e9}))
"""


def blas_env(threads):
    """The environment for a Python process limited to `threads`: OpenBLAS (Debian's fp32 matrix
    products) starts one thread per core unless told, whatever torch.set_num_threads says; our
    engine sets it to its thread count (core/Device.cpp), so the peer is given the same."""
    env = dict(os.environ)
    if threads:
        env["OPENBLAS_NUM_THREADS"] = str(threads)
        env["OMP_NUM_THREADS"] = str(threads)
    return env


def matmul_peak(python, device, precision, threads):
    """The device's matrix-product rate in GFLOP/s measured with the same libtorch (the
    practical peak a training step's convolutions can approach)."""
    p = subprocess.run([python, "-c", PEAK, device, precision, str(threads)], capture_output=True, text=True,
                       env=blas_env(threads))
    try:
        return json.loads(p.stdout.strip().splitlines()[-1])["gflops"]
    except Exception:
        return None


def peer(python, device, precision, compiled, threads, steps, warmup, shape, pair):
    cmd = [python, os.path.join(HERE, "peer_tuned.py"), "--device", device, "--precision", precision,
           "--steps", str(steps), "--warmup", str(warmup), "--shape", shape, "--pair", pair]
    if compiled:
        cmd.append("--compile")
    if threads:
        cmd += ["--threads", str(threads)]
    p = subprocess.run(cmd, capture_output=True, text=True, env=blas_env(threads))
    if p.returncode != 0:
        return None, p.stderr.strip().splitlines()[-1] if p.stderr.strip() else f"exit {p.returncode}"
    res = {}
    for line in p.stdout.splitlines():
        if line.startswith("{"):
            r = json.loads(line)
            res[r["phase"]] = r["img_per_s"]
            if "cache_build_s" in r:
                res["cache_build_s"] = r["cache_build_s"]
    return res, None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kdw", default=os.path.join(os.path.dirname(HERE), "build", "release", "bin", "kdw"))
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--precisions", default="fp32,bf16")
    ap.add_argument("--shapes", default="cifar")
    ap.add_argument("--pairs", default="resnet20:resnet8")
    ap.add_argument("--threads", default="0")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--peer-steps", type=int, default=300)
    ap.add_argument("--peer-warmup", type=int, default=50)
    ap.add_argument("--json")
    a = ap.parse_args()
    rows = []
    fmt = lambda v, p=0: "-" if v is None else f"{v:,.{p}f}"
    print(f"{'shape':7} {'pair':18} {'thr':>3} {'prec':4} {'phase':10} {'ours img/s':>11} {'peer':>9} "
          f"{'ratio':>6} {'compile':>9} {'ratio':>6}")
    for shape in a.shapes.split(","):
        for pair in a.pairs.split(","):
            for threads in [int(t) for t in a.threads.split(",")]:
                for precision in a.precisions.split(","):
                    mine = ours(a.kdw, a.device, precision, a.epochs, threads, shape, pair)
                    eager, err = peer(a.python, a.device, precision, False, threads, a.peer_steps, a.peer_warmup,
                                      shape, pair)
                    comp, cerr = (None, None) if a.no_compile else peer(
                        a.python, a.device, precision, True, threads, a.peer_steps, a.peer_warmup, shape, pair)
                    tm = macs(a.kdw, pair.split(":")[0], shape)
                    peak = matmul_peak(a.python, a.device, precision, threads)
                    if tm and peak and mine.get("teacher"):
                        # Training FLOPs per image: forward 2 x MACs, backward about twice that.
                        achieved = 6 * tm * mine["teacher"] / 1e9
                        print(f"   teacher step: {6 * tm / 1e6:.0f} MFLOP/image x {mine['teacher']:.0f} img/s = "
                              f"{achieved:.1f} GFLOP/s, {100 * achieved / peak:.0f} % of the measured {precision} "
                              f"matrix-product rate ({peak:.1f} GFLOP/s)")
                        rows.append({"shape": shape, "pair": pair, "threads": threads, "precision": precision,
                                     "phase": "teacher_flops", "gflops": achieved, "matmul_peak_gflops": peak})
                    for phase in PHASES:
                        o = mine.get(phase)
                        e = eager.get(phase) if eager else None
                        c = comp.get(phase) if comp else None
                        row = {"shape": shape, "pair": pair, "threads": threads, "precision": precision,
                               "phase": phase, "ours": o, "peer_eager": e, "peer_compile": c,
                               "ratio_eager": o / e if o and e else None, "ratio_compile": o / c if o and c else None}
                        if phase == "kd_cached":
                            row["ours_cache_build_s"] = mine.get("cache_build_s")
                            row["peer_cache_build_s"] = eager.get("cache_build_s") if eager else None
                        rows.append(row)
                        print(f"{shape:7} {pair:18} {threads:>3} {precision:4} {phase:10} {fmt(o):>11} {fmt(e):>9} "
                              f"{fmt(row['ratio_eager'], 2):>6} {fmt(c):>9} {fmt(row['ratio_compile'], 2):>6}", flush=True)
                    if err:
                        print(f"   peer failed: {err}")
                    if cerr:
                        print(f"   peer with torch.compile failed: {cerr}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
