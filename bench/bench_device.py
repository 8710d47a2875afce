#!/usr/bin/python3
"""Our engine against the tuned PyTorch-Python peer (bench/peer_tuned.py) on one device, in one
invocation: CIFAR-shaped resnet20 teacher steps and resnet8 Hinton-KD steps with a live resnet20
teacher, batch 64, per precision. Prints one table row per (phase, precision) with our images/s,
the eager peer's, the ratio, and the torch.compile peer's where that PyTorch has it.

    bench/bench_device.py --kdw build/gpu/bin/kdw --device cuda [--precisions fp32,bf16]
                          [--epochs 10] [--python python3] [--no-compile] [--json OUT]

Ours: `kdw run` of a generated project (synthetic 3x32x32 images, 2,000 a epoch, channels_last,
teacher_cache off, analysis off); images/s is the median of the epoch rows after the first two
(cuDNN's autotuning and the allocator warm up there). The peer runs 50 warm-up steps, then 300
timed ones.
"""
import argparse, csv, json, os, statistics, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def ours(kdw, device, precision, epochs, threads):
    out = tempfile.mkdtemp(prefix="kdw-bench-device-")
    project = {
        "name": "bench-device", "seed": 0, "device": device, "threads": threads, "precision": precision,
        "memory_format": "channels_last", "teacher_cache": "off", "baseline": False,
        "analysis": {"enabled": False},
        "dataset": {"name": "synthetic", "image_size": 32, "channels": 3},
        "teacher": {"arch": "resnet20", "train": {"epochs": epochs, "batch_size": 64, "lr": 0.05, "log_every": 1000}},
        "student": {"arch": "resnet8", "train": {"epochs": epochs, "batch_size": 64, "lr": 0.05, "log_every": 1000}},
        "method": {"name": "kd", "temperature": 4.0, "alpha": 0.9},
    }
    path = os.path.join(out, "project.json")
    with open(path, "w") as f:
        json.dump(project, f)
    run_dir = os.path.join(out, "run")
    p = subprocess.run([kdw, "run", path, "--quiet", "--out", run_dir], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"kdw failed ({p.returncode}): {p.stderr[-2000:]}")
    ips = {}
    with open(os.path.join(run_dir, "metrics.csv")) as f:
        for row in csv.DictReader(f):
            if row["kind"] == "epoch":
                ips.setdefault(row["model"], []).append(float(row["img_per_s"]))
    med = lambda v: statistics.median(v[2:] if len(v) > 3 else v)
    return {"teacher": med(ips["teacher"]), "kd_live": med(ips["student"])}


def peer(python, device, precision, compiled, threads):
    cmd = [python, os.path.join(HERE, "peer_tuned.py"), "--device", device, "--precision", precision]
    if compiled:
        cmd.append("--compile")
    if threads:
        cmd += ["--threads", str(threads)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        return None, p.stderr.strip().splitlines()[-1] if p.stderr.strip() else f"exit {p.returncode}"
    res = {}
    for line in p.stdout.splitlines():
        if line.startswith("{"):
            r = json.loads(line)
            res[r["phase"]] = r["img_per_s"]
    return res, None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kdw", default=os.path.join(os.path.dirname(HERE), "build", "gpu", "bin", "kdw"))
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--precisions", default="fp32,bf16")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--json")
    a = ap.parse_args()
    rows = []
    print(f"{'phase':8} {'precision':9} {'ours img/s':>11} {'peer eager':>11} {'ours/eager':>10} "
          f"{'peer compile':>13} {'ours/compile':>12}")
    for precision in a.precisions.split(","):
        mine = ours(a.kdw, a.device, precision, a.epochs, a.threads)
        eager, err = peer(a.python, a.device, precision, False, a.threads)
        comp, cerr = (None, "skipped") if a.no_compile else peer(a.python, a.device, precision, True, a.threads)
        for phase in ("teacher", "kd_live"):
            e = eager.get(phase) if eager else None
            c = comp.get(phase) if comp else None
            row = {"phase": phase, "precision": precision, "ours": mine[phase], "peer_eager": e, "peer_compile": c,
                   "ratio_eager": mine[phase] / e if e else None, "ratio_compile": mine[phase] / c if c else None,
                   "peer_error": err, "compile_error": cerr if not c else None}
            rows.append(row)
            fmt = lambda v, p=0: "-" if v is None else f"{v:.{p}f}"
            print(f"{phase:8} {precision:9} {fmt(row['ours']):>11} {fmt(e):>11} {fmt(row['ratio_eager'], 2):>10} "
                  f"{fmt(c):>13} {fmt(row['ratio_compile'], 2):>12}", flush=True)
            if err:
                print(f"   peer eager failed: {err}")
            if cerr and not a.no_compile and not c:
                print(f"   peer compile failed: {cerr}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
