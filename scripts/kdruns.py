"""What the result scripts (results.py, examples.py) share: running kdw resumably, reading a
finished run's summary, and naming the machine and commit the figures come from. Standard
library only."""
import json, os, shlex, shutil, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def j(value):
    return json.dumps(value, separators=(",", ":"))


def shown(cmd):
    """The command as the docs print it: the default kdw path, whatever binary ran."""
    return " ".join(shlex.quote(c) for c in ["build/release/bin/kdw"] + cmd[1:])


def summary(run_dir):
    try:
        with open(os.path.join(run_dir, "summary.json")) as f:
            s = json.load(f)
        return s if s.get("status") == "completed" else None
    except (OSError, ValueError):
        return None


class RunFailed(Exception):
    """A kdw run that ended without completing; the message is the run's own reason."""


def failure_reason(run_dir):
    """The run's "failed: ..." line from log.txt (kdw writes the reason there)."""
    try:
        with open(os.path.join(run_dir, "log.txt")) as f:
            lines = [l.strip() for l in f if l.strip()]
    except OSError:
        return "no log.txt"
    failed = [l for l in lines if l.startswith("failed:")]
    return failed[-1][len("failed:"):].strip() if failed else (lines[-1] if lines else "empty log.txt")


def ensure_run(cmd, run_dir, log, allow_failure=False):
    """The completed run's summary, running (or resuming) it first. A run that fails exits
    the script, or with allow_failure raises RunFailed with the run's reason."""
    s = summary(run_dir)
    if s is not None:
        return s
    if os.path.isdir(os.path.join(run_dir, "checkpoints")):
        # An interrupted run (this script killed, the machine restarted): continue it.
        resume = [cmd[0], "resume", run_dir, "--quiet"]
        print("$ " + " ".join(shlex.quote(c) for c in resume), flush=True)
        with open(log, "a") as lf:
            rc = subprocess.call(resume, cwd=ROOT, stdout=lf, stderr=subprocess.STDOUT)
        s = summary(run_dir)
        if rc == 0 and s is not None:
            return s
        print(f"  resume failed (exit {rc}); running {run_dir} again from the start", flush=True)
    shutil.rmtree(run_dir, ignore_errors=True)
    os.makedirs(os.path.dirname(run_dir), exist_ok=True)
    print("$ " + " ".join(shlex.quote(c) for c in cmd), flush=True)
    t0 = time.time()
    with open(log, "a") as lf:
        rc = subprocess.call(cmd, cwd=ROOT, stdout=lf, stderr=subprocess.STDOUT)
    s = summary(run_dir)
    if rc != 0 or s is None:
        if allow_failure:
            print(f"  failed (exit {rc}): {failure_reason(run_dir)}", flush=True)
            raise RunFailed(failure_reason(run_dir))
        sys.exit(f"kdw failed (exit {rc}) or {run_dir} did not complete; see {log}")
    print(f"  done in {time.time() - t0:.0f} s", flush=True)
    return s


def commit():
    try:
        return subprocess.check_output(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                                       stderr=subprocess.DEVNULL).strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} hardware threads, {time.strftime('%Y-%m-%d')}."


def write_section(doc, begin, end, lines):
    """Replaces the text between `begin` and `end` in `doc` (markers included in `lines`), or
    appends it; written atomically."""
    text = open(doc).read() if os.path.exists(doc) else ""
    block = "\n".join(lines)
    if begin in text and end in text:
        text = text[:text.index(begin)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    tmp = doc + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, doc)
    print(f"wrote {doc}")


def measured_at(run_dir):
    """The engine commit a run was measured at: commit.txt beside its summary, written when the
    run is first seen finished (runs reused from an earlier commit keep theirs)."""
    path = os.path.join(run_dir, "commit.txt")
    if not os.path.exists(path):
        with open(path, "w") as f:
            f.write(commit() + "\n")
    with open(path) as f:
        return f.read().strip()


def commands_and_machine(cmds, end):
    """A results section's closing lines: each row's command (first seed), the machine, the
    commit the section was written at, and the end marker."""
    lines = ["", "Commands (first seed; `--set seed=N` and `--out` change per seed):", ""]
    lines += [f"- {label}: `{shown(cmd)}`" for label, cmd in cmds]
    lines += ["", "Machine: " + machine() + " Each row names the engine commit its runs were measured at; this "
              "section was written at " + commit() + ".", "", end]
    return lines

