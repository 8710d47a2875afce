#!/usr/bin/python3
"""Runs the online (cohort) methods against their peers trained alone, over several seeds,
with `kdw`, and writes docs/RESULTS.md's "Online distillation" section (between its markers):
mean ± sd of each peer's, its scratch twin's and the ensemble's final test accuracy, and each
peer's gain with Welch's 95 % interval and p, plus the exact commands.

    scripts/online_results.py [--kdw build/release/bin/kdw] [--out runs/online] [--seeds 1 2 3]
                              [--threads 1] [--doc docs/RESULTS.md]

Cohort rows are projects/fashion-mnist-dml.json (a cnn_small and an mlp peer) with the row's
overrides; the baseline trains each peer alone from the same initial weights on the same
batches (`peerK_scratch`), which is the "independently trained peers of the same
architecture and total epochs" comparison. Multi-branch rows are projects/fashion-mnist-one.json
(a resnet8 split into a trunk and branches): the deliverable branch against the same
architecture trained alone from the same initial weights (`student_scratch`), with every
branch's and the ensemble's accuracy beside it. Finished runs are reused; interrupted ones
resume. Standard library only.
"""
import argparse, os, statistics, sys

from kdruns import write_section, ROOT, commands_and_machine, ensure_run, j, measured_at
from kdstats import welch

PROJECT = "projects/fashion-mnist-dml.json"
BRANCH_PROJECT = "projects/fashion-mnist-one.json"
BEGIN, END = "<!-- online:begin -->", "<!-- online:end -->"


def rows():
    return [
        ("dml", "dml, the example (10,000 images, 5 epochs)", ["method=" + j({"name": "dml"})]),
        ("dml_scarce", "dml, 1,000 labelled images, 30 epochs",
         ["method=" + j({"name": "dml"}), "dataset.limit=1000",
          "peers=" + j([dict(p, train=dict(p["train"], epochs=30)) for p in peers()])]),
        ("dml_cnn", "dml with the peers of the next rows (cnn_small width 8 and width 4): their reference",
         ["method=" + j({"name": "dml"}), "peers=" + j(cnn_peers())]),
        ("afd", "afd (peers: cnn_small width 8 and width 4, both with feature maps; the example's settings)",
         ["method=" + j({"name": "afd"}), "peers=" + j(cnn_peers())]),
        ("iekd_mutual", "iekd's mutual form (IE-DML; the same two cnn_small peers)",
         ["method=" + j({"name": "iekd", "mutual": True}), "peers=" + j(cnn_peers())]),
    ]


def cnn_peers():
    first = peers()[0]
    return [dict(first), dict(first, arch_options=dict(first["arch_options"], width=4))]


def branch_rows():
    return [
        ("one", "one, the example (resnet8, 3 branches after stage2, 10,000 images, 5 epochs)", []),
        ("ffl", "ffl (2 branches after stage2 and the fusion module; its ensemble is the branch mean)",
         ["method=" + j({"name": "ffl"})]),
        ("okddip", "okddip (3 peers and the leader after stage2; the leader delivers, the ensemble is the peers')",
         ["method=" + j({"name": "okddip"})]),
        ("pcl", "pcl (3 peers after stage2, each on its own random crop and flip; the temporal mean of peer 1 "
         "delivers; this row and its twin train with that augmentation)",
         ["method=" + j({"name": "pcl"}), "dataset.augment=" + j({"random_crop_padding": 2, "horizontal_flip": True})]),
        ("pcl_decay99", "pcl with ema_decay 0.99: the temporal mean averages about the last 100 steps (with the "
         "paper's 0.999 it is the plain average of the first 1,000 steps, here all 390 of the run)",
         ["method=" + j({"name": "pcl", "ema_decay": 0.99}),
          "dataset.augment=" + j({"random_crop_padding": 2, "horizontal_flip": True})]),
        ("mcl", "mcl (4 branches after stage1; nce_k 1,024 negatives instead of the authors' 16,384, so that a "
         "step fits the 2-core machine; the last branch delivers)", ["method=" + j({"name": "mcl", "nce_k": 1024})]),
        ("student_ensemble", "student_ensemble (5 resnet8 students of widths 1 .. 0.2 on one stem; the narrowest "
         "delivers, against that narrow resnet8 alone)", ["method=" + j({"name": "student_ensemble"})]),
    ]


def peers():
    import json
    with open(os.path.join(ROOT, PROJECT)) as f:
        return json.load(f)["peers"]


def kdw_cmd(kdw, sets, out, seed, threads, project=PROJECT):
    cmd = [kdw, "run", project]
    for s in sets + [f"seed={seed}", f"threads={threads}"]:
        cmd += ["--set", s]
    return cmd + ["--out", out, "--quiet"]


def fmt(xs):
    return f"{100 * statistics.mean(xs):.2f} ± {100 * statistics.stdev(xs):.2f}" if len(xs) > 1 else f"{100 * xs[0]:.2f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kdw", default=os.path.join(ROOT, "build/release/bin/kdw"))
    ap.add_argument("--out", default="runs/online")  # relative to the repository (kdw runs there)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--doc", default=os.path.join(ROOT, "docs/RESULTS.md"))
    a = ap.parse_args()
    os.chdir(ROOT)
    log = os.path.join(a.out, "kdw.log")
    os.makedirs(a.out, exist_ok=True)
    lines = [BEGIN, "", "## Online distillation: cohorts against their peers trained alone", "",
             f"Generated by `scripts/online_results.py` (rerun it; it resumes). Seeds {', '.join(map(str, a.seeds))}; "
             "final test accuracy in % on all 10,000 test images, mean ± sample sd over the seeds. Every run trains "
             "the cohort (`peer1` cnn_small width 8, `peer2` mlp 128, unless the row says otherwise) and each peer alone (`peerK_scratch`: same "
             "initial weights, same batches, same epochs). The gain is peer minus twin; Welch's 95 % interval and "
             "p compare the two sets of accuracies without pairing.", "",
             "| row | peer1 | peer1 alone | gain peer1 [95 % CI], p | peer2 | peer2 alone | "
             "gain peer2 [95 % CI], p | ensemble of the peers |", "|---|---|---|---|---|---|---|---|"]
    cmds, notes = [], []
    for key, label, sets in rows():
        res = {r: [] for r in ("peer1", "peer1_scratch", "peer2", "peer2_scratch", "ensemble")}
        commits = set()
        for seed in a.seeds:
            out = os.path.join(a.out, key, f"seed{seed}")
            cmd = kdw_cmd(a.kdw, sets, out, seed, a.threads)
            s = ensure_run(cmd, out, log)
            commits.add(measured_at(out))
            for r in res:
                res[r].append(s["models"][r]["final_test_acc"])
            if seed == a.seeds[0]:
                cmds.append((label, cmd))
        cells = [label + f" (at {', '.join(sorted(commits))})"]
        for peer in ("peer1", "peer2"):
            d, lo, hi, p = welch(res[peer], res[peer + "_scratch"])
            cells += [fmt(res[peer]), fmt(res[peer + "_scratch"]),
                      f"{100 * d:+.2f} [{100 * lo:+.2f}, {100 * hi:+.2f}], p {p:.3f}"]
            if lo <= 0 <= hi:
                notes.append(f"{label}, {peer}: the interval includes zero (no difference shown at this n).")
        cells.append(fmt(res["ensemble"]))
        lines.append("| " + " | ".join(cells) + " |")
    lines += [""] + [f"- {n}" for n in notes]
    lines += ["", "Multi-branch networks (`projects/fashion-mnist-one.json`): the deliverable branch (`student`, "
              "saved as `student.pt`) against the same architecture trained alone (`student_scratch`, same initial "
              "weights and batches); the other branches and the method's ensemble for reference. Parameters: the "
              "deliverable's, then the whole network's.", "",
              "| row | deliverable | alone | gain [95 % CI], p | every branch | ensemble | parameters |",
              "|---|---|---|---|---|---|---|"]
    for key, label, sets in branch_rows():
        res, branches, ens, params = {"student": [], "student_scratch": []}, {}, [], ""
        commits = set()
        for seed in a.seeds:
            out = os.path.join(a.out, key, f"seed{seed}")
            cmd = kdw_cmd(a.kdw, sets, out, seed, a.threads, BRANCH_PROJECT)
            s = ensure_run(cmd, out, log)
            commits.add(measured_at(out))
            st = s["models"]["student"]
            for r in res:
                res[r].append(s["models"][r]["final_test_acc"])
            for k, v in st.items():
                if k.startswith("final_branch") and v is not None:
                    branches.setdefault(k[len("final_"):-len("_acc")], []).append(v)
            ens.append(st["final_ensemble_acc"])
            params = f"{st['params']:,} / {st['total_params']:,}"
            if seed == a.seeds[0]:
                cmds.append((label, cmd))
        d, lo, hi, p = welch(res["student"], res["student_scratch"])
        lines.append("| " + " | ".join([label + f" (at {', '.join(sorted(commits))})", fmt(res["student"]), fmt(res["student_scratch"]),
                                         f"{100 * d:+.2f} [{100 * lo:+.2f}, {100 * hi:+.2f}], p {p:.3f}",
                                         "; ".join(f"{b} {fmt(v)}" for b, v in sorted(branches.items())),
                                         fmt(ens), params]) + " |")
    lines += commands_and_machine(cmds, END)
    write_section(a.doc, BEGIN, END, lines)


if __name__ == "__main__":
    main()
