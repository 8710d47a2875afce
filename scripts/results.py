#!/usr/bin/python3
"""Runs every distillation method on one teacher/student pair over several seeds with `kdw`
and writes docs/RESULTS.md: mean ± sd of the student's final test accuracy next to the
scratch baseline, and the exact `kdw` command of every row.

    scripts/results.py [--kdw build/release/bin/kdw] [--out runs/results] [--seeds 1 2 3 4 5]
                       [--only kd,dkd,...] [--threads 0] [--doc docs/RESULTS.md]

The pair is projects/fashion-mnist-methods.json: cnn_small (width 32) teacher trained once
on all 60k Fashion-MNIST training images, cnn_small (width 8) student trained on the first
15k for 5 epochs. Finished runs (summary.json with status "completed") are reused, so an
interrupted invocation continues where it stopped; delete --out to start over.

Every finished run's result is also recorded in docs/results-ledger.json (checked in) with its
exact command, the SHA-256 of the teacher checkpoints it read, the engine commit, the machine
and the date; the two teachers themselves are checked in (docs/results-teachers/, 1.8 MB) and
copied into --out instead of being retrained. So a later invocation on a fresh clone reuses a
recorded row and seed instead of training it again when command and teachers match, and a
table too long for one machine's lifetime is finished over several sessions.
A failed seed's entry may carry an "investigation" (what a later re-run found), printed under
its footnote. --no-ledger ignores the recorded results (and retrains the teachers).
Standard library only (no numpy), so any python3 runs it.
"""
import argparse, json, os, shlex, shutil, statistics, subprocess, sys, time

from kdruns import ROOT, RunFailed, commit, ensure_run, j, machine, shown, summary
from kdstats import welch

PROJECT = "projects/fashion-mnist-methods.json"
COSINE = {"epochs": 5, "batch_size": 128, "optimizer": "sgd", "lr": 0.05, "momentum": 0.9,
          "weight_decay": 5e-4, "lr_schedule": "cosine"}


def rows(teacher, teacher2):
    """(key, label, [--set assignments]) of every row; teacher paths are filled in."""
    t = [f"teacher.checkpoint={teacher}"]
    pair = [{"arch": "cnn_small", "arch_options": {"width": 32}, "checkpoint": teacher},
            {"arch": "lenet5", "checkpoint": teacher2}]

    def m(name, **params):
        return [f"method={j(dict(name=name, **params))}"]

    return [
        ("ce", "scratch (ce, no teacher)", m("ce")),
        ("kd", "kd (T 4, α 0.9)", t + m("kd", temperature=4.0, alpha=0.9)),
        ("kd_tsched", "kd, T cosine 8→1", t + m("kd", temperature=8.0, temperature_schedule="cosine",
                                                   temperature_final=1.0)),
        ("kd_asched", "kd, α linear 0.9→0.1", t + m("kd", alpha=0.9, alpha_schedule="linear", alpha_final=0.1)),
        # Knowledge-analysis controls (Tang et al. 2020): is the kd row's gain just label smoothing?
        ("ls", "control: ls (label smoothing, strength matched to the teacher)", t + m("ls")),
        ("kd_sim", "control: kd_sim (class relationships only)", t + m("kd_sim")),
        ("kd_pt", "control: kd_pt (per-example confidence only)", t + m("kd_pt")),
        ("dkd", "dkd (α 1, β 8, warm-up over the 5 epochs)", t + m("dkd", warmup_epochs=5)),
        ("fitnet", "fitnet (stage2)", t + m("fitnet")),
        ("at", "at (all stages)", t + m("at")),
        ("sp", "sp (last stage)", t + m("sp")),
        ("rkd", "rkd (pre_logits)", t + m("rkd")),
        ("pkt", "pkt (pre_logits)", t + m("pkt")),
        ("nst", "nst (every stage)", t + m("nst")),
        ("vid", "vid (all stages)", t + m("vid")),
        ("crd", "crd (pre_logits, 16384 negatives without replacement, as many as the other classes allow)",
         t + m("crd")),
        ("ofd", "ofd (all stages, pre-ReLU)", t + m("ofd")),
        ("srm", "srm (authors' phases scaled: dictionary, init, KD; all stages)", t + m("srm")),
        ("srm_lite", "srm_lite (last stage, 64 atoms, top-4)", t + m("srm_lite")),
        ("london", "london (all stages, OFD feature term)", t + m("london")),
        ("iekd", "iekd (last stage)", t + m("iekd")),
        ("ce_lma", "scratch, LMA student", m("ce") + ["student.arch_options.activation=lma"]),
        ("kd_lma", "kd, LMA student", t + m("kd", temperature=4.0, alpha=0.9)
         + ["student.arch_options.activation=lma"]),
        ("takd", "takd (assistant cnn_small width 16)",
         t + m("takd", temperature=4.0, alpha=0.9)
         + ["assistants=" + j([{"arch": "cnn_small", "arch_options": {"width": 16}, "train": COSINE}])]),
        ("ensemble", "ensemble (cnn_small-32 + lenet5)", m("ensemble", temperature=4.0, alpha=0.9)
         + ["teachers=" + j(pair)]),
        ("rc", "rc (heads for cnn_small-32 and lenet5)", m("rc", temperature=4.0, alpha=0.9)
         + ["teachers=" + j(pair)]),
        ("dmc", "dmc (old: classes 0-4, new: 5-9; teachers trained per seed)",
         m("dmc") + ["teacher.train.epochs=3"]),
        ("ard", "ard (PGD ε 8/255, 5 steps; robust acc on 1000 test images)",
         t + m("ard", steps=5)),
    ]


EXTRA = []
USED_COMMITS = set()  # the engine commits the reported runs come from
FAILURES = {}  # row key -> [(seed, the run's reason)] of the seeds whose run failed


LEDGER = os.path.join("docs", "results-ledger.json")
TEACHERS = os.path.join("docs", "results-teachers")  # teacher.pt, its sidecar and summary.json per teacher
TEACHER_FILES = ("teacher.pt", "teacher.pt.json", "summary.json")


def restore_teacher(key, run_dir):
    """Copies the checked-in teacher `key` into run_dir (a completed run to ensure_run)."""
    src = os.path.join(TEACHERS, key)
    if not all(os.path.exists(os.path.join(src, f)) for f in TEACHER_FILES) or summary(run_dir) is not None:
        return
    os.makedirs(run_dir, exist_ok=True)
    for f in TEACHER_FILES:
        shutil.copy2(os.path.join(src, f), os.path.join(run_dir, f))
    print(f"  {key}: the checked-in teacher from {src}", flush=True)


def keep_teacher(key, run_dir):
    """Checks the teacher in (docs/results-teachers/key) so later sessions reuse it."""
    dst = os.path.join(TEACHERS, key)
    if all(os.path.exists(os.path.join(dst, f)) for f in TEACHER_FILES):
        return
    os.makedirs(dst, exist_ok=True)
    for f in TEACHER_FILES:
        shutil.copy2(os.path.join(run_dir, f), os.path.join(dst, f))


def load_ledger(use):
    if not use or not os.path.exists(LEDGER):
        return {}
    with open(LEDGER) as f:
        return json.load(f)


def save_ledger(ledger):
    # Merged with what is on disk, so two invocations on different --only rows keep each
    # other's entries.
    merged = load_ledger(True)
    merged.update(ledger)
    ledger.update(merged)
    tmp = LEDGER + ".tmp." + str(os.getpid())
    with open(tmp, "w") as f:
        json.dump(merged, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(tmp, LEDGER)


def checkpoint_sha(path):
    """The SHA-256 the checkpoint's sidecar records (kdw verifies it on every load)."""
    with open(path + ".json") as f:
        return json.load(f)["sha256"]


def kdw_cmd(kdw, sets, out, threads):
    cmd = [kdw, "run", PROJECT]
    for s in sets + EXTRA:
        cmd += ["--set", s]
    if threads is not None:
        cmd += ["--set", f"threads={threads}"]
    return cmd + ["--out", out, "--quiet"]


def fmt(values):
    if not values:
        return "—"
    mean = statistics.mean(values)
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * mean:.2f} ± {100 * sd:.2f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kdw", default="build/release/bin/kdw")
    ap.add_argument("--out", default="runs/results")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--only", default="", help="comma-separated row keys (default: all)")
    ap.add_argument("--threads", type=int, default=None, help="override the project's threads")
    ap.add_argument("--doc", default="docs/RESULTS.md")
    ap.add_argument("--no-ledger", action="store_true", help="train every run, ignoring " + LEDGER)
    ap.add_argument("--set", action="append", default=[], metavar="PATH=VALUE",
                    help="extra kdw --set for every run (for smoke tests: dataset.limit=512 ...)")
    a = ap.parse_args()
    EXTRA.extend(a.set)
    os.chdir(ROOT)
    if not os.access(a.kdw, os.X_OK):
        sys.exit(f"{a.kdw} is not an executable: build first (scripts/build.sh release) or pass --kdw")
    os.makedirs(a.out, exist_ok=True)
    log = os.path.join(a.out, "kdw.log")

    # The teachers, trained once on all training images (their students are not reported).
    prep = [
        ("teacher", ["dataset.limit=0", "student.train.epochs=1"]),
        ("teacher2", ["dataset.limit=0", "teacher.arch=lenet5", "teacher.arch_options={}",
                      "student.train.epochs=1"]),
    ]
    prep_cmds, teachers = {}, {}
    for key, sets in prep:
        run_dir = os.path.join(a.out, key)
        cmd = kdw_cmd(a.kdw, sets, run_dir, a.threads)
        prep_cmds[key] = cmd
        use_ledger = not a.no_ledger and not EXTRA
        if use_ledger:
            restore_teacher(key, run_dir)
        s = ensure_run(cmd, run_dir, log)
        if use_ledger:
            keep_teacher(key, run_dir)
        teachers[key] = (os.path.join(run_dir, "teacher.pt"), s["models"]["teacher"])

    table = rows(teachers["teacher"][0], teachers["teacher2"][0])
    only = set(filter(None, a.only.split(",")))
    unknown = only - {k for k, _, _ in table}
    if unknown:
        sys.exit(f"unknown row(s) {sorted(unknown)}; valid: {', '.join(k for k, _, _ in table)}")
    ledger = load_ledger(not a.no_ledger and not EXTRA)
    teacher_shas = [checkpoint_sha(teachers[k][0]) for k in ("teacher", "teacher2")]
    results = []
    for key, label, sets in table:
        if only and key not in only:
            continue
        accs, extras, secs, cmd0, failures = [], {}, [], None, []
        for seed in a.seeds:
            run_dir = os.path.join(a.out, key, f"seed{seed}")
            cmd = kdw_cmd(a.kdw, sets + [f"seed={seed}"], run_dir, a.threads)
            cmd0 = cmd0 or cmd
            fingerprint = {"command": shown(cmd), "teacher_sha256": teacher_shas}
            recorded = ledger.get(f"{key}/seed{seed}")
            entry = {"fingerprint": fingerprint, "commit": commit(), "machine": machine(),
                     "date": time.strftime("%Y-%m-%d")}
            if summary(run_dir) is None and recorded and recorded["fingerprint"] == fingerprint:
                print(f"  {key} seed {seed}: recorded in {LEDGER} (commit {recorded['commit']})", flush=True)
                USED_COMMITS.add(recorded["commit"])
                if "failed" in recorded:
                    failures.append((seed, recorded["failed"], recorded.get("investigation")))
                    continue
                st, wall = recorded["student"], recorded["wall_seconds"]
            else:
                try:
                    s = ensure_run(cmd, run_dir, log, allow_failure=True)
                except RunFailed as e:
                    # A run that fails (a divergence) is a result too: reported, not retried.
                    failures.append((seed, str(e), None))
                    if not EXTRA and not a.no_ledger:
                        ledger[f"{key}/seed{seed}"] = dict(entry, failed=str(e))
                        save_ledger(ledger)
                    continue
                st, wall = s["models"]["student"], s["wall_seconds"]
                USED_COMMITS.add(commit())
                if not EXTRA and not a.no_ledger:
                    ledger[f"{key}/seed{seed}"] = dict(entry, student=st, wall_seconds=wall)
                    save_ledger(ledger)
            accs.append(st["final_test_acc"])
            secs.append(wall)
            for k, v in st.items():
                if k.startswith("final_") and k != "final_test_acc" and v is not None:
                    extras.setdefault(k[len("final_"):], []).append(v)
        results.append((key, label, accs, extras, secs, cmd0))
        FAILURES[key] = failures

    if only:
        for key, label, accs, extras, secs, _ in results:
            print(f"{label:55s} {fmt(accs)}  {extras}")
        return
    write_doc(a, results, teachers, prep_cmds)


def write_doc(a, results, teachers, prep_cmds):
    scratch = next(r for r in results if r[0] == "ce")[2]
    base = statistics.mean(scratch)
    lines = [
        "# Results: every method on one teacher/student pair",
        "",
        "Generated by `scripts/results.py` (do not edit by hand; rerun it). "
        f"{len(a.seeds)} seeds ({', '.join(map(str, a.seeds))}) per row; "
        "student test accuracy on the 10,000 Fashion-MNIST test images after the last epoch "
        "(final, not best-of-epochs: no model selection on the test set), mean ± sample sd in %.",
        "",
        "**Setup** (`" + PROJECT + "`): teacher `cnn_small` width 32 (421.74k parameters), "
        "trained once on all 60,000 training images, 5 epochs SGD 0.05 cosine; "
        "student `cnn_small` width 8 (103.04k parameters) trained on the first 15,000 training "
        "images, 5 epochs, batch 128, SGD 0.05 momentum 0.9, weight decay 5e-4, cosine; "
        "every method at its registry defaults unless the row says otherwise; no augmentation. "
        "The seed sets the student's initial weights and data order (the teacher is the same in every row).",
        "",
        "Teachers (test accuracy): "
        + "; ".join(f"`{info['arch']}` {100 * info['final_test_acc']:.2f}% (`{os.path.relpath(path)}`)"
                    for path, info in teachers.values()) + ".",
        "",
        "| method | student acc % | Δ vs scratch (pt) | Welch 95 % CI (pt), p | other metrics | wall s/run |",
        "|---|---|---|---|---|---|",
    ]
    unsure = []
    for key, label, accs, extras, secs, _ in results:
        delta = ci = ""
        if key != "ce" and len(accs) > 1 and len(scratch) > 1:
            d, lo, hi, pv = welch(accs, scratch)
            delta = f"{100 * d:+.2f}"
            ci = f"[{100 * lo:+.2f}, {100 * hi:+.2f}], p = {pv:.2g}"
            if lo <= 0 <= hi:
                ci += " ¹"
                unsure.append(label)
        other = "; ".join(f"{name} {fmt(v)}" for name, v in extras.items())
        failed = FAILURES.get(key, [])
        shown_label = label + (f" ²: {len(accs)} of {len(accs) + len(failed)} seeds" if failed else "")
        wall = f"{statistics.mean(secs):.0f}" if secs else "—"
        lines.append(f"| {shown_label} | {fmt(accs)} | {delta} | {ci} | {other} | {wall} |")
    lines += ["", f"¹ The interval includes zero: over these {len(a.seeds)} seeds the difference from scratch is "
              "not distinguishable from seed-to-seed noise (" + str(len(unsure)) + " rows)."]
    for key, label, *_ in results:
        for seed, reason, investigation in FAILURES.get(key, []):
            lines += ["", f"² {label}, seed {seed}: the run failed and is left out of the mean: {reason}"
                      + (f". Investigated: {investigation}" if investigation else "")]
    lines += ["",
              "Reading the table (facts of this setup, not general claims): the `kd, LMA student` row is "
              "best compared with `scratch, LMA student`, its own baseline; `dmc` distils from two teachers "
              "trained per seed on half of the classes each (3 epochs) into a student that sees no labels, so "
              "it is not a like-for-like comparison with scratch; `ard` trades clean for robust accuracy "
              "(`robust_acc`: PGD ε 8/255, 5 steps, on 1,000 test images); `crd` is slow on CPU because every "
              "step gathers 2 × 128 × 4,097 memory-bank rows. Wall seconds include loading the dataset and, "
              "where a method reads more than logits, a live teacher forward per batch.",
              "", "## Commands", "",
              "Teachers (once; each also trains a 1-epoch student that is not reported):", "", "```sh"]
    lines += [shown(cmd) for cmd in prep_cmds.values()]
    lines += ["```", "",
              "Rows (shown for the first seed; `--set seed=N` and the `--out` folder change per seed):",
              ""]
    for key, label, _, _, _, cmd in results:
        lines += [f"**{label}**", "", "```sh", shown(cmd), "```", ""]
    lines += ["Reproduce everything: `scripts/results.py` (resumes; about "
              f"{sum(sum(r[4]) for r in results) / 60:.0f} min of training on the machine below).",
              "", "Machine: " + machine() + " Engine commit(s) of the runs: "
              + ", ".join(sorted(USED_COMMITS or {commit()})) + ".", ""]
    os.makedirs(os.path.dirname(a.doc), exist_ok=True)
    # scripts/examples.py and scripts/online_results.py own the blocks between their markers:
    # keep them.
    old = open(a.doc).read() if os.path.exists(a.doc) else ""
    for owner in ("examples", "online"):
        begin, end = f"<!-- {owner}:begin -->", f"<!-- {owner}:end -->"
        if begin in old and end in old:
            lines += ["", old[old.index(begin):old.index(end) + len(end)], ""]
    tmp = a.doc + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(lines))
    os.replace(tmp, a.doc)
    print(f"wrote {a.doc}")


if __name__ == "__main__":
    main()
