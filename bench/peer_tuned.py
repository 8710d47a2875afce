#!/usr/bin/python3
"""The tuned PyTorch-Python peer: what a careful user writes for the same job as our engine.

CIFAR-shaped (3x32x32, 10 classes) synthetic images, RepDistiller's CIFAR ResNets (resnet20
teacher, resnet8 student: 3x3 stem, basic blocks, 1x1-conv+BN downsampling, as ours), SGD with
momentum, batch 64. Tuned as a user would: channels_last, cudnn.benchmark, autocast (bf16, or
fp16 with a GradScaler), the teacher under torch.no_grad in eval mode, batches from pinned
memory copied non_blocking, no .item() inside the step, and optionally torch.compile.

Phases (one JSON line each): "teacher" (cross-entropy steps of resnet20) and "kd_live" (Hinton
KD steps of resnet8 with a live resnet20 teacher forward per batch, T 4, alpha 0.9).
    peer_tuned.py --device cuda --precision bf16 [--compile] [--steps 300] [--warmup 50]
"""
import argparse, json, time
import torch, torch.nn as nn, torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (x if self.down is None else self.down(x)))


class ResNet(nn.Module):
    def __init__(self, depth, filters=(16, 16, 32, 64), classes=10):
        super().__init__()
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(3, filters[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(filters[0])
        layers, cin = [], filters[0]
        for s in range(3):
            for i in range(n):
                layers.append(Block(cin, filters[s + 1], 2 if (s > 0 and i == 0) else 1))
                cin = filters[s + 1]
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = self.layers(F.relu(self.bn1(self.conv1(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--precision", default="bf16", choices=["fp32", "bf16", "fp16"])
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--phases", default="teacher,kd_live")
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    cuda = dev.type == "cuda"
    torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    n = 2000
    images = torch.randn(n, 3, 32, 32)
    labels = torch.randint(0, 10, (n,))
    if cuda:
        images, labels = images.pin_memory(), labels.pin_memory()
    amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": None}[a.precision]

    def batches():
        g = torch.Generator().manual_seed(1)
        while True:
            order = torch.randperm(n, generator=g)
            for s in range(n // a.batch):
                idx = order[s * a.batch:(s + 1) * a.batch]
                x, y = images[idx], labels[idx]
                if cuda:
                    x, y = x.pin_memory(), y.pin_memory()
                yield (x.to(dev, non_blocking=True).contiguous(memory_format=torch.channels_last),
                       y.to(dev, non_blocking=True))

    def prep(m):
        return m.to(dev).to(memory_format=torch.channels_last)

    def autocast():
        if amp_dtype is None:
            return torch.autocast(dev.type, enabled=False)
        return torch.autocast(dev.type, dtype=amp_dtype)

    def timed(step, label):
        it = batches()
        for _ in range(a.warmup):
            step(*next(it))
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(a.steps):
            loss = step(*next(it))
        float(loss)  # one read-back at the end, as at a log point
        if cuda:
            torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        print(json.dumps({"phase": label, "precision": a.precision, "compile": a.compile,
                          "img_per_s": a.steps * a.batch / dt, "device": a.device,
                          "torch": torch.__version__}), flush=True)

    scaler = torch.cuda.amp.GradScaler(enabled=(a.precision == "fp16" and cuda)) if cuda else None

    def optimizer_step(opt, loss):
        opt.zero_grad(set_to_none=True)
        if scaler is not None and scaler.is_enabled():
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()

    phases = a.phases.split(",")
    if "teacher" in phases:
        t = prep(ResNet(20))
        opt = torch.optim.SGD(t.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
        fwd = torch.compile(t) if a.compile else t

        def teacher_step(x, y):
            with autocast():
                loss = F.cross_entropy(fwd(x), y)
            optimizer_step(opt, loss)
            return loss.detach()
        timed(teacher_step, "teacher")

    if "kd_live" in phases:
        teacher = prep(ResNet(20)).eval()
        student = prep(ResNet(8))
        opt = torch.optim.SGD(student.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
        tf = torch.compile(teacher) if a.compile else teacher
        sf = torch.compile(student) if a.compile else student
        T, alpha = 4.0, 0.9

        def kd_step(x, y):
            with torch.no_grad(), autocast():
                t_logits = tf(x)
            with autocast():
                s_logits = sf(x)
            # The losses in fp32, as autocast's fp32 list would run softmax and KL anyway.
            s32, t32 = s_logits.float(), t_logits.float()
            kd = F.kl_div(F.log_softmax(s32 / T, 1), F.softmax(t32 / T, 1), reduction="batchmean") * T * T
            loss = alpha * kd + (1 - alpha) * F.cross_entropy(s32, y)
            optimizer_step(opt, loss)
            return loss.detach()
        timed(kd_step, "kd_live")


if __name__ == "__main__":
    main()
