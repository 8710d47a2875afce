#!/usr/bin/python3
"""Writes the seed inputs of the fuzz targets into fuzz/corpus/<target>/seed-*, from real
files where they exist: the example projects, Fashion-MNIST's IDX files, a checkpoint saved by
torch 1.13 (the same serialisation as the engine's), and a run directory written by kdw.
Files are joined with "\\n--8<--\\n" (fuzz/FuzzSupport.h, sections()).

    fuzz/make_seeds.py [--kdw build/release/bin/kdw]

Needs /usr/bin/python3 with python3-torch (Debian) for the checkpoint seeds.
"""
import argparse, glob, gzip, hashlib, json, os, shutil, struct, subprocess, sys, tempfile, zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CUT = b"\n--8<--\n"
FASHION = "/usr/share/datasets/fashion-mnist"


def put(target, name, data):
    d = os.path.join(ROOT, "fuzz", "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def joined(*parts):
    return CUT.join(p if isinstance(p, bytes) else p.encode() for p in parts)


def idx(magic_type, dims, payload):
    return struct.pack(">BBBB", 0, 0, magic_type, len(dims)) + b"".join(struct.pack(">I", d) for d in dims) + payload


def png(w, h, channels, pixels):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    colour = {1: 0, 3: 2}[channels]
    raw = b"".join(b"\0" + pixels[y * w * channels:(y + 1) * w * channels] for y in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, colour, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def bmp(w, h, pixels):
    row = (w * 3 + 3) // 4 * 4
    body = b"".join(pixels[y * w * 3:(y + 1) * w * 3] + b"\0" * (row - w * 3) for y in range(h))
    header = struct.pack("<2sIHHI", b"BM", 54 + len(body), 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, len(body), 2835, 2835, 0, 0)
    return header + info + body


def project_seeds():
    overrides = ["student.train.epochs=2\nmethod.name=dkd", "student.arch=resnet8\nteacher.arch=mlp",
                 "method={\"name\":\"crd\",\"nce_k\":16}\nseed=3", "dataset.limit=100\ncheckpoints.keep=1"]
    for i, path in enumerate(sorted(glob.glob(os.path.join(ROOT, "projects", "*.json")))):
        with open(path, "rb") as f:
            put("fuzz_project", os.path.basename(path), joined(f.read(), overrides[i % len(overrides)]))


def idx_seeds():
    with open(os.path.join(FASHION, "t10k-labels-idx1-ubyte.gz"), "rb") as f:
        labels_gz = f.read()
    labels = gzip.decompress(labels_gz)
    put("fuzz_idx", "t10k-labels.gz", labels_gz)
    put("fuzz_idx", "labels-300", idx(0x08, [300], labels[8:308]))
    with gzip.open(os.path.join(FASHION, "t10k-images-idx3-ubyte.gz"), "rb") as f:
        images = f.read(16 + 3 * 784)
    put("fuzz_idx", "images-3", images)
    put("fuzz_idx", "images-3.gz", gzip.compress(images))
    put("fuzz_idx", "float-2x2", idx(0x0D, [2, 2], struct.pack(">4f", 0.5, -1.0, 2.0, 3.5)))


def cifar_seeds():
    def record10(label, seed):
        return bytes([label]) + bytes((seed * 7 + i) % 256 for i in range(3072))

    def record100(coarse, fine, seed):
        return bytes([coarse, fine]) + bytes((seed * 11 + i) % 256 for i in range(3072))
    names10 = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n"
    put("fuzz_cifar", "cifar10", b"\0" + joined(record10(3, 1) + record10(9, 2), record10(0, 3), names10))
    put("fuzz_cifar", "cifar100-fine",
        b"\1" + joined(record100(4, 30, 1) + record100(1, 99, 2), record100(0, 0, 3), "apple\naquarium_fish\n"))
    put("fuzz_cifar", "cifar100-coarse", b"\3" + joined(record100(19, 3, 1), record100(2, 5, 2), "aquatic_mammals\nfish\n"))


def image_seeds():
    grey = bytes(range(0, 256, 16))
    rgb = bytes((i * 37) % 256 for i in range(4 * 4 * 3))
    put("fuzz_image_folder", "png-bmp", b"\1" + joined(png(4, 4, 3, rgb), bmp(4, 4, rgb), png(4, 4, 1, grey),
                                                       png(4, 4, 3, rgb[::-1])))
    put("fuzz_image_folder", "grey", b"\0" + joined(png(4, 4, 1, grey), png(4, 4, 1, grey[::-1]), bmp(4, 4, rgb),
                                                     bmp(4, 4, rgb[::-1])))


def sidecar(archive, meta):
    meta = dict(meta, sha256=hashlib.sha256(archive).hexdigest(), bytes=len(archive), file="m.pt")
    meta["meta_sha256"] = hashlib.sha256(json.dumps(meta, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    return json.dumps(meta, indent=2).encode()


def checkpoint_seeds():
    import torch
    with tempfile.TemporaryDirectory() as tmp:
        for name, module in [("linear", torch.nn.Linear(4, 3)), ("wrong-shape", torch.nn.Linear(5, 3))]:
            path = os.path.join(tmp, "m.pt")
            torch.jit.save(torch.jit.script(module), path)
            with open(path, "rb") as f:
                archive = f.read()
            put("fuzz_checkpoint", name, b"\0" + joined(sidecar(archive, {"arch": "linear", "classes": 3}), archive))
            put("fuzz_checkpoint", name + "-recomputed", b"\1" + joined(json.dumps({"arch": "linear"}), archive))


def run_seeds(kdw):
    with tempfile.TemporaryDirectory() as tmp:
        project = {"name": "seed", "seed": 1, "threads": 1, "dataset": {"name": "synthetic", "limit": 256},
                   "teacher": {"arch": "lenet5", "train": {"epochs": 1, "batch_size": 64, "log_every": 2}},
                   "student": {"arch": "mlp", "arch_options": {"hidden": [16]},
                               "train": {"epochs": 2, "batch_size": 64, "log_every": 2}},
                   "method": {"name": "kd"}, "analysis": {"probe_per_class": 1, "feature_maps": False}}
        pfile = os.path.join(tmp, "p.json")
        with open(pfile, "w") as f:
            json.dump(project, f)
        run = os.path.join(tmp, "run")
        subprocess.check_call([kdw, "run", pfile, "--out", run, "--quiet"], stdout=subprocess.DEVNULL)

        def read(rel, limit=24000):
            p = os.path.join(run, rel)
            if not os.path.exists(p):
                return b""
            with open(p, "rb") as f:
                return f.read()[:limit]
        files = [read("config.json"), read("summary.json"), read("metrics.csv"), read("log.txt"),
                 read("analysis/epoch001.json"), read("analysis/probe.json")]
        put("fuzz_run_reader", "completed", joined(*files))
        torn = read("metrics.csv")
        put("fuzz_run_reader", "running-torn",
            joined(files[0], b'{"status": "running", "pid": 1, "host": "elsewhere", "models": {}}',
                   torn[: len(torn) * 2 // 3], b"", b"", b""))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kdw", default=os.path.join(ROOT, "build/release/bin/kdw"))
    a = ap.parse_args()
    project_seeds()
    idx_seeds()
    cifar_seeds()
    image_seeds()
    checkpoint_seeds()
    run_seeds(a.kdw)
    print("seeds written to fuzz/corpus/")


if __name__ == "__main__":
    main()
