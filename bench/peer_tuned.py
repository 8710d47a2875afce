#!/usr/bin/python3
"""The tuned PyTorch-Python peer: what a careful user writes for the same job as our engine.

Synthetic images of CIFAR shape (3x32x32) or Fashion-MNIST shape (1x28x28), 10 classes;
RepDistiller's CIFAR networks as ours build them — resnet20 -> resnet8 (3x3 stem, basic blocks,
1x1-conv+BN downsampling) or wrn_40_2 -> wrn_16_2 (pre-activation blocks) — SGD with
momentum, batch 64. Tuned as a user would: channels_last, cudnn.benchmark, autocast (bf16, or
fp16 with a GradScaler), the teacher under torch.no_grad in eval mode, batches from pinned
memory copied non_blocking, no .item() inside the step, and optionally torch.compile.

Phases (one JSON line each): "teacher" (cross-entropy steps of the teacher), "kd_live" (Hinton
KD steps of the student with a live teacher forward per batch, T 4, alpha 0.9), "kd_cached"
(the same with the teacher's logits computed once for the whole set and looked up per batch,
as a careful user caches them; the cache's build time is reported beside), "feature_kd"
(attention transfer on the three stage outputs plus cross-entropy, beta 1000, live teacher)
and "eval" (no-grad student forwards in batches of 1000).
    peer_tuned.py --device cuda --precision bf16 [--compile] [--shape cifar|fashion]
                  [--pair resnet20:resnet8|wrn_40_2:wrn_16_2] [--steps 300] [--warmup 50]
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
    """Returns (logits, [stage1, stage2, stage3]) like our networks' named features."""
    def __init__(self, depth, channels=3, filters=(16, 16, 32, 64), classes=10):
        super().__init__()
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(channels, filters[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(filters[0])
        self.stages, cin = nn.ModuleList(), filters[0]
        for s in range(3):
            blocks = []
            for i in range(n):
                blocks.append(Block(cin, filters[s + 1], 2 if (s > 0 and i == 0) else 1))
                cin = filters[s + 1]
            self.stages.append(nn.Sequential(*blocks))
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)), feats


class PreActBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.equal = cin == cout
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.short = None if self.equal else nn.Conv2d(cin, cout, 1, stride, bias=False)

    def forward(self, x):
        a = F.relu(self.bn1(x))
        out = self.conv2(F.relu(self.bn2(self.conv1(a))))
        return out + (x if self.equal else self.short(a))


class WideResNet(nn.Module):
    def __init__(self, depth, widen, channels=3, classes=10):
        super().__init__()
        n = (depth - 4) // 6
        ch = [16, 16 * widen, 32 * widen, 64 * widen]
        self.conv1 = nn.Conv2d(channels, ch[0], 3, 1, 1, bias=False)
        self.stages = nn.ModuleList()
        for s in range(3):
            self.stages.append(nn.Sequential(*[PreActBlock(ch[s] if i == 0 else ch[s + 1], ch[s + 1],
                                                           2 if (s > 0 and i == 0) else 1) for i in range(n)]))
        self.bn = nn.BatchNorm2d(ch[3])
        self.fc = nn.Linear(ch[3], classes)

    def forward(self, x):
        x = self.conv1(x)
        feats = []
        for stage in self.stages:
            x = stage(x)
            feats.append(x)
        x = F.relu(self.bn(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)), feats


def build(name, channels):
    if name.startswith("resnet"):
        return ResNet(int(name[6:]), channels)
    depth, widen = name[4:].split("_")
    return WideResNet(int(depth), int(widen), channels)


def at_map(f):
    return F.normalize(f.pow(2).mean(1).flatten(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--precision", default="bf16", choices=["fp32", "bf16", "fp16"])
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--phases", default="teacher,kd_live,kd_cached,feature_kd,eval")
    ap.add_argument("--shape", default="cifar", choices=["cifar", "fashion"])
    ap.add_argument("--pair", default="resnet20:resnet8")
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    cuda = dev.type == "cuda"
    torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    n = 2000
    c, hw = (3, 32) if a.shape == "cifar" else (1, 28)
    tname, sname = a.pair.split(":")
    images = torch.randn(n, c, hw, hw)
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

    def timed(step, label, it=None, extra=None, per_step=None, steps=None, warmup=None):
        it = it or batches()
        steps, warmup = steps or a.steps, warmup or a.warmup
        for _ in range(warmup):
            step(*next(it))
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(steps):
            loss = step(*next(it))
        float(loss)  # one read-back at the end, as at a log point
        if cuda:
            torch.cuda.synchronize()
        dt = time.perf_counter() - t0
        rec = {"phase": label, "precision": a.precision, "compile": a.compile, "shape": a.shape, "pair": a.pair,
               "img_per_s": steps * (per_step or a.batch) / dt, "device": a.device, "torch": torch.__version__}
        rec.update(extra or {})
        print(json.dumps(rec), flush=True)

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
    T, alpha, beta = 4.0, 0.9, 1000.0

    def kd_loss(s32, t32, y):
        kd = F.kl_div(F.log_softmax(s32 / T, 1), F.softmax(t32 / T, 1), reduction="batchmean") * T * T
        return alpha * kd + (1 - alpha) * F.cross_entropy(s32, y)

    if "teacher" in phases:
        t = prep(build(tname, c))
        opt = torch.optim.SGD(t.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
        fwd = torch.compile(t) if a.compile else t

        def teacher_step(x, y):
            with autocast():
                loss = F.cross_entropy(fwd(x)[0], y)
            optimizer_step(opt, loss)
            return loss.detach()
        timed(teacher_step, "teacher")

    teacher = prep(build(tname, c)).eval()
    tf = torch.compile(teacher) if a.compile else teacher

    def student_and_opt():
        st = prep(build(sname, c))
        return st, torch.optim.SGD(st.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4), \
            (torch.compile(st) if a.compile else st)

    if "kd_live" in phases:
        student, opt, sf = student_and_opt()

        def kd_step(x, y):
            with torch.no_grad(), autocast():
                t_logits = tf(x)[0]
            with autocast():
                s_logits = sf(x)[0]
            # The losses in fp32, as autocast's fp32 list would run softmax and KL anyway.
            loss = kd_loss(s_logits.float(), t_logits.float(), y)
            optimizer_step(opt, loss)
            return loss.detach()
        timed(kd_step, "kd_live")

    if "kd_cached" in phases:
        student, opt, sf = student_and_opt()
        t0 = time.perf_counter()
        with torch.no_grad(), autocast():
            cache = torch.cat([tf(images[i:i + 1000].to(dev).contiguous(memory_format=torch.channels_last))[0].float()
                               for i in range(0, n, 1000)])
        if cuda:
            torch.cuda.synchronize()
        build_s = time.perf_counter() - t0

        def indexed():
            g = torch.Generator().manual_seed(1)
            while True:
                order = torch.randperm(n, generator=g)
                for s_ in range(n // a.batch):
                    idx = order[s_ * a.batch:(s_ + 1) * a.batch]
                    x = images[idx]
                    if cuda:
                        x = x.pin_memory()
                    yield (x.to(dev, non_blocking=True).contiguous(memory_format=torch.channels_last),
                           (labels[idx].to(dev, non_blocking=True), idx.to(dev, non_blocking=True)))

        def cached_step(x, yi):
            y, idx = yi
            with autocast():
                s_logits = sf(x)[0]
            loss = kd_loss(s_logits.float(), cache[idx], y)
            optimizer_step(opt, loss)
            return loss.detach()
        timed(cached_step, "kd_cached", indexed(), {"cache_build_s": build_s})

    if "feature_kd" in phases:
        student, opt, sf = student_and_opt()

        def at_step(x, y):
            with torch.no_grad(), autocast():
                t_feats = tf(x)[1]
            with autocast():
                s_logits, s_feats = sf(x)
            at = sum((at_map(sf_.float()) - at_map(tf_.float())).pow(2).mean() for sf_, tf_ in zip(s_feats, t_feats))
            loss = F.cross_entropy(s_logits.float(), y) + beta / 2 * at
            optimizer_step(opt, loss)
            return loss.detach()
        timed(at_step, "feature_kd")

    if "eval" in phases:
        student, _, sf = student_and_opt()
        student.eval()
        test = images[:1000].to(dev).contiguous(memory_format=torch.channels_last)

        def eval_step(x, y):
            with torch.no_grad(), autocast():
                return sf(test)[0].argmax(1).eq(labels[:1000].to(dev)).sum()
        timed(eval_step, "eval", per_step=1000, steps=max(3, a.steps // 20), warmup=max(1, a.warmup // 20))


if __name__ == "__main__":
    main()
