#!/usr/bin/python3
"""The sweep behind the example projects: which Fashion-MNIST settings make Hinton KD beat the
scratch student clearly, measured over several seeds with `kdw`, and the table of
docs/RESULTS.md's "Example projects" section (written between its markers).

    scripts/examples.py [--kdw build/release/bin/kdw] [--out runs/examples] [--seeds 1 2 3 4 5]
                        [--stage explore|examples|all] [--only key,...] [--doc docs/RESULTS.md]

Stage "explore": candidate student settings distilled from two teachers trained once (the
quick example's cnn_small and a cnn_large trained on all 60k images), so only the student and its
scratch twin train per seed. Stage "examples": the example projects themselves, end to end
(teacher trained per seed, as a user runs them). The seed sets the initial weights and the
data order; the student and its scratch twin share both, so a per-seed gain is a paired
difference. Finished runs (summary.json status "completed") are reused: an interrupted
invocation continues where it stopped. Standard library only.
"""
import argparse, json, os, shlex, shutil, statistics, subprocess, sys, time

from kdruns import write_section, ROOT, commit, ensure_run, j, machine, shown, summary
from kdstats import welch

BEGIN, END = "<!-- examples:begin -->", "<!-- examples:end -->"
QUICK, MAIN = "projects/fashion-mnist-quick.json", "projects/fashion-mnist-kd.json"
NOGAIN = "projects/fashion-mnist-kd-nogain.json"  # the main example's teacher, an MLP student on all images
# The sweep's two teachers: the quick example's, and a stronger one (cnn_large, 4 epochs on all
# 60k images: the main example's teacher before it moved to cnn_small for speed).
TEACHERS = {"tq": (QUICK, []), "tm": (NOGAIN, ["teacher.arch=cnn_large", "teacher.train.epochs=4"])}


def student(arch, limit, epochs, opts=None):
    s = [f"student.arch={arch}", f"student.arch_options={j(opts or {})}",
         f"student.train.limit={limit}", f"student.train.epochs={epochs}", "student.train.lr_schedule=cosine"]
    return s


def kd(t, a):
    return [f"method={j({'name': 'kd', 'temperature': t, 'alpha': a})}"]


def explore_rows():
    """(key, label, project, teacher key, sets)."""
    mlp = {"hidden": [128]}
    cnn8 = {"width": 8}
    rows = []
    # The quick teacher gets the whole grid; the stronger teacher only the grid's best cell,
    # 1000 images at α 0.5, for both students.
    for tk, (proj, tsets) in TEACHERS.items():
        for arch, opts, name in (("mlp", mlp, "mlp[128]"), ("cnn_small", cnn8, "cnn_small(8)")):
            for limit, epochs in ((1000, 30), (3000, 15)):
                for t, a in ((4.0, 0.9), (4.0, 0.5)):
                    if tk == "tm" and (limit, a) != (1000, 0.5):
                        continue
                    key = f"{tk}_{arch}_{limit}_a{int(a * 10)}"
                    label = f"`{tk}` teacher → {name}, {limit} labelled images, {epochs} ep, T {t:g} α {a:g}"
                    rows.append((key, label, proj, tk, tsets + student(arch, limit, epochs, opts) + kd(t, a), None))
    return rows


def example_rows():
    """(key, label, project, teacher key, sets, how many of the seeds)."""
    return [("quick", "`fashion-mnist-quick.json` (as shipped)", QUICK, None, [], None),
            ("main", "`fashion-mnist-kd.json` (as shipped)", MAIN, None, [], None),
            # Labels the negative case only, and trains two MLPs on all 60k images per seed.
            # The same teacher config and seed as the main example's: its per-seed teacher is
            # reused (see write_doc) instead of being trained again.
            ("nogain", "`fashion-mnist-kd-nogain.json` (KD does not help: MLP student on all 60k images; 3 seeds)",
             NOGAIN, "main", [], 3)]


def kdw_cmd(kdw, project, sets, out):
    cmd = [kdw, "run", project]
    for s in sets:
        cmd += ["--set", s]
    return cmd + ["--out", out, "--quiet"]


def evaluate(rows, teachers, a, log, seeds):
    results = []
    for key, label, project, tk, sets, count in rows:
        if a.only and key not in a.only:
            continue
        row_seeds = seeds[:count] if count else seeds
        st, sc, secs, cmd0 = [], [], [], None
        for seed in row_seeds:
            run_dir = os.path.join(a.out, key, f"seed{seed}")
            if tk == "main":  # the main example's teacher of this seed
                extra = [f"teacher.checkpoint={os.path.join(a.out, 'main', f'seed{seed}', 'teacher.pt')}"]
            else:
                extra = [f"teacher.checkpoint={teachers[tk]}"] if tk else []
            cmd = kdw_cmd(a.kdw, project, sets + extra + [f"seed={seed}"], run_dir)
            cmd0 = cmd0 or cmd
            s = ensure_run(cmd, run_dir, log)
            st.append(s["models"]["student"]["final_test_acc"])
            sc.append(s["models"]["student_scratch"]["final_test_acc"])
            secs.append(s["wall_seconds"])
        results.append((key, label, st, sc, secs, cmd0))
        gains = [x - y for x, y in zip(st, sc)]
        print(f"{label:70s} KD {100 * statistics.mean(st):.2f}  scratch {100 * statistics.mean(sc):.2f}  "
              f"gain {100 * statistics.mean(gains):+.2f} ± {100 * statistics.stdev(gains):.2f}", flush=True)
    return results


def table(results):
    lines = ["| setting | KD student % | scratch % | gain (pt), mean ± sd over seeds | gain > 2 sd | "
             "Welch 95 % CI (pt), p | wall s/run |", "|---|---|---|---|---|---|---|"]
    for key, label, st, sc, secs, _ in results:
        gains = [x - y for x, y in zip(st, sc)]
        gm, gs = statistics.mean(gains), statistics.stdev(gains)
        d, lo, hi, p = welch(st, sc)
        lines.append(f"| {label} | {100 * statistics.mean(st):.2f} ± {100 * statistics.stdev(st):.2f} | "
                     f"{100 * statistics.mean(sc):.2f} ± {100 * statistics.stdev(sc):.2f} | "
                     f"{100 * gm:+.2f} ± {100 * gs:.2f} | {'yes' if gm > 2 * gs else 'no'} | "
                     f"[{100 * lo:+.2f}, {100 * hi:+.2f}], p = {p:.2g} | {statistics.mean(secs):.0f} |")
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kdw", default="build/release/bin/kdw")
    ap.add_argument("--out", default="runs/examples")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5], help="seeds of the example projects")
    ap.add_argument("--explore-seeds", type=int, nargs="+", default=[1, 2, 3], help="seeds of the sweep rows")
    ap.add_argument("--stage", choices=["explore", "examples", "all"], default="all")
    ap.add_argument("--only", default="")
    ap.add_argument("--doc", default="docs/RESULTS.md")
    a = ap.parse_args()
    a.only = set(filter(None, a.only.split(",")))
    os.chdir(ROOT)
    if not os.access(a.kdw, os.X_OK):
        sys.exit(f"{a.kdw} is not an executable: build first (scripts/build.sh release) or pass --kdw")
    os.makedirs(a.out, exist_ok=True)
    log = os.path.join(a.out, "kdw.log")
    sections = []
    if a.stage in ("explore", "all"):
        teachers, prep = {}, []
        for tk, (proj, tsets) in TEACHERS.items():
            run_dir = os.path.join(a.out, "teacher_" + tk)
            cmd = kdw_cmd(a.kdw, proj, tsets + ["student.train.epochs=1", "baseline=false"], run_dir)
            s = ensure_run(cmd, run_dir, log)
            teachers[tk] = os.path.join(run_dir, "teacher.pt")
            prep.append((tk, proj, cmd, s["models"]["teacher"]))
        res = evaluate(explore_rows(), teachers, a, log, a.explore_seeds)
        sections.append(("explore", prep, res))
    if a.stage in ("examples", "all"):
        sections.append(("examples", [], evaluate(example_rows(), {}, a, log, a.seeds)))
    if a.only:
        return
    write_doc(a, sections)


def write_doc(a, sections):
    lines = [BEGIN, "", "## Example projects: where KD clearly beats the scratch student", "",
             "Generated by `scripts/examples.py` (rerun it; it resumes). "
             f"Seeds: {', '.join(map(str, a.explore_seeds))} for the sweep, {', '.join(map(str, a.seeds))} for the "
             "example projects; final test accuracy on all 10,000 "
             "test images. The gain is the KD student minus its scratch twin of the same seed (same initial "
             "weights and data order), as mean ± sample sd over the seeds; \"gain > 2 sd\" is the bar the "
             "example projects must pass. Welch's 95 % interval and p compare the two sets of accuracies "
             "without pairing (more conservative).", ""]
    for name, prep, res in sections:
        if name == "explore":
            lines += ["### The sweep", "",
                      "Students that see only the first N labelled training images (`student.train.limit`), "
                      "distilled with Hinton KD from a teacher trained once on the example's data: "
                      + "; ".join(f"`{t['arch']}` {100 * t['final_test_acc']:.2f}% (`{tk}`, {proj})"
                                  for tk, proj, _, t in prep) + ". Rows starting `tq_` use the quick "
                      "example's teacher, `tm_` the cnn_large one. The sweep's wall times were taken while the "
                      "machine also built and benchmarked (up to 2× slower); compare its accuracies, not its times.", ""]
            lines += table(res)
            lines += ["", "Teachers:", "", "```sh"] + [shown(c) for _, _, c, _ in prep] + ["```", ""]
        else:
            lines += ["### The example projects, end to end (teacher trained per seed)", ""]
            lines += table(res)
            lines += ["", "The no-gain example has the main example's teacher section (same config, same seed), so "
                      "its rows load the main example's teacher of the same seed (`teacher.checkpoint`) instead "
                      "of training that teacher a second time; its wall time therefore leaves out the teacher.", ""]
        lines += ["Commands (first seed; `--set seed=N` and `--out` change per seed):", ""]
        for key, label, _, _, _, cmd in res:
            lines += [f"- {label}: `{shown(cmd)}`"]
        lines += [""]
    lines += ["Machine: " + machine() + " Engine commit: " + commit() + ".", "", END]
    write_section(a.doc, BEGIN, END, lines)


if __name__ == "__main__":
    main()
