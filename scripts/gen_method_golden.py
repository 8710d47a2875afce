#!/usr/bin/python3
"""Generates tests/data/method_golden.json: golden values for the KD methods' losses.

tests/test_methods.cpp checks the engine's pure loss functions (engine/methods/KdLosses.h,
engine/methods/FeatureLosses.h) and, for FitNet and VID, whole methods with their adapters
against these values. The reference formulas below are written the way the authors' code
computes them:

- DKD: mdistiller's `dkd_loss` (megvii-research/mdistiller, mdistiller/distillers/DKD.py)
- FitNet, AT, SP, RKD, PKT, NST, VID, CRD: RepDistiller's `distiller_zoo` and `crd`
  (HobbitLong/RepDistiller), with attention maps from |f|^p as in the AT paper
- OFD: the partial L2 `distillation_loss` of clovaai/overhaul-distillation

Everything is float64. Inputs are rounded to 4 decimals before the computation, so the
stored inputs are exactly those the expected values were computed from. Tensors are stored
as {"shape": [...], "data": [flat, row-major]}. Every case stores d(loss)/d(student input)
as "grad_student" (autograd), so the C++ side checks gradients as well as values.

Regenerate (Debian's python3-torch, the LibTorch 1.13 the engine links; installed for the
system interpreter only, so call it explicitly rather than a `python3` on PATH):

    /usr/bin/python3 scripts/gen_method_golden.py            # writes tests/data/method_golden.json
    /usr/bin/python3 scripts/gen_method_golden.py OUT.json   # writes elsewhere

The output is deterministic (fixed seed); rerunning it must not change the checked-in file.
"""

import json
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

from goldenlib import Draws, enc, rounded

SEED = 20220607  # DKD, CVPR 2022

torch.set_default_dtype(torch.float64)
DRAWS = Draws(SEED)
GEN, randn, rand = DRAWS.gen, DRAWS.randn, DRAWS.rand



# ---------------------------------------------------------------------------------------
# Reference losses
# ---------------------------------------------------------------------------------------

def _get_gt_mask(logits, target):
    target = target.reshape(-1)
    return torch.zeros_like(logits).scatter_(1, target.unsqueeze(1), 1).bool()


def _get_other_mask(logits, target):
    target = target.reshape(-1)
    return torch.ones_like(logits).scatter_(1, target.unsqueeze(1), 0).bool()


def cat_mask(t, mask1, mask2):
    t1 = (t * mask1).sum(dim=1, keepdims=True)
    t2 = (t * mask2).sum(1, keepdims=True)
    return torch.cat([t1, t2], dim=1)


def dkd_parts(logits_student, logits_teacher, target, temperature):
    """mdistiller's dkd_loss, returning the unweighted TCKD and NCKD."""
    gt_mask = _get_gt_mask(logits_student, target)
    other_mask = _get_other_mask(logits_student, target)
    pred_student = F.softmax(logits_student / temperature, dim=1)
    pred_teacher = F.softmax(logits_teacher / temperature, dim=1)
    pred_student = cat_mask(pred_student, gt_mask, other_mask)
    pred_teacher = cat_mask(pred_teacher, gt_mask, other_mask)
    log_pred_student = torch.log(pred_student)
    tckd_loss = (F.kl_div(log_pred_student, pred_teacher, reduction="sum")
                 * (temperature ** 2) / target.shape[0])
    pred_teacher_part2 = F.softmax(logits_teacher / temperature - 1000.0 * gt_mask, dim=1)
    log_pred_student_part2 = F.log_softmax(logits_student / temperature - 1000.0 * gt_mask, dim=1)
    nckd_loss = (F.kl_div(log_pred_student_part2, pred_teacher_part2, reduction="sum")
                 * (temperature ** 2) / target.shape[0])
    return tckd_loss, nckd_loss


def pool_to_common(a, b):
    if a.dim() != 4:
        return a, b
    h, w = min(a.shape[2], b.shape[2]), min(a.shape[3], b.shape[3])
    if a.shape[2:] != (h, w):
        a = F.adaptive_avg_pool2d(a, (h, w))
    if b.shape[2:] != (h, w):
        b = F.adaptive_avg_pool2d(b, (h, w))
    return a, b


def hint_loss(f_s, f_t):
    return nn.MSELoss()(f_s, f_t)


def at_map(f, p):
    return F.normalize(f.abs().pow(p).mean(1).view(f.size(0), -1))


def at_loss(f_s, f_t, p):
    f_s, f_t = pool_to_common(f_s, f_t)
    return (at_map(f_s, p) - at_map(f_t, p)).pow(2).mean()


def sp_loss(f_s, f_t):
    bsz = f_s.shape[0]
    f_s = f_s.view(bsz, -1)
    f_t = f_t.view(bsz, -1)
    G_s = F.normalize(torch.mm(f_s, torch.t(f_s)))
    G_t = F.normalize(torch.mm(f_t, torch.t(f_t)))
    G_diff = G_t - G_s
    return (G_diff * G_diff).view(-1, 1).sum(0)[0] / (bsz * bsz)


def pdist(e, squared=False, eps=1e-12):
    e_square = e.pow(2).sum(dim=1)
    prod = e @ e.t()
    res = (e_square.unsqueeze(1) + e_square.unsqueeze(0) - 2 * prod).clamp(min=eps)
    if not squared:
        res = res.sqrt()
    res = res.clone()
    res[range(len(e)), range(len(e))] = 0
    return res


def rkd_parts(f_s, f_t):
    student = f_s.view(f_s.shape[0], -1)
    teacher = f_t.view(f_t.shape[0], -1)
    with torch.no_grad():
        t_d = pdist(teacher, squared=False)
        mean_td = t_d[t_d > 0].mean()
        t_d = t_d / mean_td
    d = pdist(student, squared=False)
    mean_d = d[d > 0].mean()
    d = d / mean_d
    loss_d = F.smooth_l1_loss(d, t_d)
    with torch.no_grad():
        td = (teacher.unsqueeze(0) - teacher.unsqueeze(1))
        norm_td = F.normalize(td, p=2, dim=2)
        t_angle = torch.bmm(norm_td, norm_td.transpose(1, 2)).view(-1)
    sd = (student.unsqueeze(0) - student.unsqueeze(1))
    norm_sd = F.normalize(sd, p=2, dim=2)
    s_angle = torch.bmm(norm_sd, norm_sd.transpose(1, 2)).view(-1)
    loss_a = F.smooth_l1_loss(s_angle, t_angle)
    return loss_d, loss_a


def pkt_loss(output_net, target_net, eps=0.0000001):
    output_net_norm = torch.sqrt(torch.sum(output_net ** 2, dim=1, keepdim=True))
    output_net = output_net / (output_net_norm + eps)
    target_net_norm = torch.sqrt(torch.sum(target_net ** 2, dim=1, keepdim=True))
    target_net = target_net / (target_net_norm + eps)
    model_similarity = torch.mm(output_net, output_net.transpose(0, 1))
    target_similarity = torch.mm(target_net, target_net.transpose(0, 1))
    model_similarity = (model_similarity + 1.0) / 2.0
    target_similarity = (target_similarity + 1.0) / 2.0
    model_similarity = model_similarity / torch.sum(model_similarity, dim=1, keepdim=True)
    target_similarity = target_similarity / torch.sum(target_similarity, dim=1, keepdim=True)
    return torch.mean(target_similarity * torch.log((target_similarity + eps) / (model_similarity + eps)))


def poly_kernel(a, b):
    a = a.unsqueeze(1)
    b = b.unsqueeze(2)
    return (a * b).sum(-1).pow(2)


def nst_loss(f_s, f_t):
    f_s, f_t = pool_to_common(f_s, f_t)
    f_s = F.normalize(f_s.view(f_s.shape[0], f_s.shape[1], -1), dim=2)
    f_t = F.normalize(f_t.view(f_t.shape[0], f_t.shape[1], -1), dim=2)
    return (poly_kernel(f_t, f_t).mean().detach() + poly_kernel(f_s, f_s).mean()
            - 2 * poly_kernel(f_s, f_t).mean())


def vid_loss(pred_mean, target, log_scale, eps=1e-5):
    pred_var = torch.log(1.0 + torch.exp(log_scale)) + eps
    pred_var = pred_var.view(1, -1, *([1] * (pred_mean.dim() - 2)))
    neg_log_prob = 0.5 * ((pred_mean - target) ** 2 / pred_var + torch.log(pred_var))
    return torch.mean(neg_log_prob)


CRD_EPS = 1e-7


def crd_contrast_loss(x, n_data):
    """RepDistiller ContrastLoss."""
    bsz = x.shape[0]
    m = x.size(1) - 1
    Pn = 1 / float(n_data)
    P_pos = x.select(1, 0)
    log_D1 = torch.div(P_pos, P_pos.add(m * Pn + CRD_EPS)).log()
    P_neg = x.narrow(1, 1, m)
    log_D0 = torch.div(P_neg.clone().fill_(m * Pn), P_neg.add(m * Pn + CRD_EPS)).log()
    return (-(log_D1.sum(0) + log_D0.reshape(-1, 1).sum(0)) / bsz)[0]


def crd_memory(v1, v2, y, idx, memory_v1, memory_v2, T, momentum, n_data):
    """RepDistiller ContrastMemory.forward with given idx and Z unset (< 0)."""
    K = idx.shape[1] - 1
    batchSize = v1.size(0)
    inputSize = memory_v1.size(1)
    weight_v1 = torch.index_select(memory_v1, 0, idx.view(-1)).detach().view(batchSize, K + 1, inputSize)
    out_v2 = torch.exp(torch.div(torch.bmm(weight_v1, v2.view(batchSize, inputSize, 1)), T))
    weight_v2 = torch.index_select(memory_v2, 0, idx.view(-1)).detach().view(batchSize, K + 1, inputSize)
    out_v1 = torch.exp(torch.div(torch.bmm(weight_v2, v1.view(batchSize, inputSize, 1)), T))
    Z_v1 = (out_v1.mean() * n_data).item()
    Z_v2 = (out_v2.mean() * n_data).item()
    out_v1 = torch.div(out_v1, Z_v1).contiguous()
    out_v2 = torch.div(out_v2, Z_v2).contiguous()
    with torch.no_grad():
        l_pos = torch.index_select(memory_v1, 0, y.view(-1))
        l_pos.mul_(momentum)
        l_pos.add_(torch.mul(v1, 1 - momentum))
        updated_v1 = l_pos.div(l_pos.pow(2).sum(1, keepdim=True).pow(0.5))
        ab_pos = torch.index_select(memory_v2, 0, y.view(-1))
        ab_pos.mul_(momentum)
        ab_pos.add_(torch.mul(v2, 1 - momentum))
        updated_v2 = ab_pos.div(ab_pos.pow(2).sum(1, keepdim=True).pow(0.5))
    return out_v1.squeeze(2), out_v2.squeeze(2), Z_v1, Z_v2, updated_v1, updated_v2


def ofd_loss(source, target, margin):
    """overhaul-distillation distillation_loss (summed partial L2)."""
    margin = margin.view(1, -1, *([1] * (source.dim() - 2)))
    target = torch.max(target, margin)
    loss = F.mse_loss(source, target, reduction="none")
    loss = loss * ((source > target) | (target > 0)).double()
    return loss.sum()


# ---------------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------------

def with_grad(fn, student, *rest):
    s = student.clone().requires_grad_(True)
    out = fn(s, *rest)
    if isinstance(out, tuple):
        total = sum(out)
    else:
        total = out
    total.backward()
    return out, s.grad


def dkd_case(name, batch, classes, T, alpha, beta, scale=3.0, teacher=None):
    s = randn(batch, classes, scale=scale)
    t = randn(batch, classes, scale=scale)
    y = torch.randint(0, classes, (batch,), generator=GEN)
    if teacher is not None:
        t = teacher(t, y)
    sg = s.clone().requires_grad_(True)
    tckd, nckd = dkd_parts(sg, t, y, T)
    ce = F.cross_entropy(sg, y)
    total = ce + alpha * tckd + beta * nckd
    total.backward()
    return {"name": name, "temperature": T, "alpha": alpha, "beta": beta, "student": enc(s),
            "teacher": enc(t), "labels": y.tolist(),
            "expected": {"tckd": tckd.item(), "nckd": nckd.item(), "ce": ce.item(),
                         "total": total.item(), "grad_student": enc(sg.grad)}}


def pair_case(loss, name, s, t, fn, **extra):
    value, grad = with_grad(fn, s, t)
    case = {"loss": loss, "name": name, "student": enc(s), "teacher": enc(t)}
    case.update(extra)
    if isinstance(value, tuple):
        case["expected"] = [v.item() for v in value]
    else:
        case["expected"] = [value.item()]
    case["grad_student"] = enc(grad)
    return case


def feature_cases():
    cases = []
    # FitNet hint: MSE of equal shapes.
    cases.append(pair_case("hint", "maps_3x4x4", randn(3, 4, 4, 4), randn(3, 4, 4, 4), hint_loss))
    cases.append(pair_case("hint", "vectors_5x6", randn(5, 6), randn(5, 6), hint_loss))
    # AT (p = 2; channels differ; pooled where sizes differ).
    for name, ss, ts in [("same_size", (4, 3, 4, 4), (4, 5, 4, 4)),
                         ("student_larger", (3, 2, 6, 6), (3, 4, 3, 3)),
                         ("teacher_larger", (3, 4, 2, 2), (3, 2, 4, 4))]:
        s, t = rand(*ss), rand(*ts)  # post-ReLU-like, non-negative
        cases.append(pair_case("at", name, s, t, lambda a, b: at_loss(a, b, 2.0), p=2.0))
    s, t = randn(3, 2, 3, 3), randn(3, 3, 3, 3)
    cases.append(pair_case("at", "signed_p3", s, t, lambda a, b: at_loss(a, b, 3.0), p=3.0))
    # SP: maps and vectors of different sizes.
    cases.append(pair_case("sp", "maps", rand(5, 3, 3, 3), rand(5, 4, 2, 2), sp_loss))
    cases.append(pair_case("sp", "vectors", randn(6, 7), randn(6, 4), sp_loss))
    # RKD distance and angle: embeddings of different widths.
    cases.append(pair_case("rkd", "vectors", randn(6, 5), randn(6, 7), rkd_parts))
    cases.append(pair_case("rkd", "maps", rand(4, 2, 2, 2), rand(4, 3, 2, 2), rkd_parts))
    # PKT.
    cases.append(pair_case("pkt", "vectors", randn(6, 5), randn(6, 8), pkt_loss))
    cases.append(pair_case("pkt", "nonneg", rand(5, 4), rand(5, 3), pkt_loss))
    # NST: channels and spatial sizes differ.
    cases.append(pair_case("nst", "same_size", rand(3, 3, 4, 4), rand(3, 5, 4, 4), nst_loss))
    cases.append(pair_case("nst", "student_larger", rand(3, 2, 6, 6), rand(3, 4, 3, 3), nst_loss))
    # VID on maps and vectors with a given log-scale.
    for name, shape in [("maps", (3, 4, 3, 3)), ("vectors", (5, 6))]:
        log_scale = randn(shape[1])
        cases.append(pair_case("vid", name, randn(*shape), randn(*shape),
                               lambda a, b, ls=log_scale: vid_loss(a, b, ls), log_scale=enc(log_scale),
                               eps=1e-5))
    # OFD partial L2 with per-channel margins (teacher pre-ReLU features are signed).
    for name, shape in [("maps", (3, 4, 3, 3)), ("vectors", (5, 6))]:
        margin = -rand(shape[1], lo=0.1, hi=1.5)
        cases.append(pair_case("ofd", name, randn(*shape), randn(*shape),
                               lambda a, b, m=margin: ofd_loss(a, b, m), margin=enc(margin)))
    return cases


def negative_stats_case():
    f = randn(4, 3, 2, 2)
    x = f.transpose(0, 1).reshape(3, -1)
    sums = x.clamp(max=0).sum(1)
    counts = (x < 0).sum(1).double()
    return {"feature": enc(f), "sums": sums.tolist(), "counts": counts.tolist(),
            "margin": (sums / counts.clamp(min=1)).tolist()}


def crd_case():
    n_data, dim, batch, K = 10, 6, 3, 4
    T, momentum = 0.07, 0.5
    stdv = 1.0 / math.sqrt(dim / 3)
    mem_s = rounded(torch.rand(n_data, dim, generator=GEN) * 2 * stdv - stdv)
    mem_t = rounded(torch.rand(n_data, dim, generator=GEN) * 2 * stdv - stdv)
    raw_s, raw_t = randn(batch, dim), randn(batch, dim)
    y = torch.tensor([2, 7, 4])
    idx = torch.tensor([[2, 0, 5, 9, 1], [7, 3, 3, 8, 0], [4, 6, 1, 2, 9]])
    assert idx.shape == (batch, K + 1)

    def l2(x):
        return x.div(x.pow(2).sum(1, keepdim=True).pow(0.5))

    rs = raw_s.clone().requires_grad_(True)
    rt = raw_t.clone().requires_grad_(True)
    v1, v2 = l2(rs), l2(rt)
    out_s, out_t, z_s, z_t, upd_s, upd_t = crd_memory(v1, v2, y, idx, mem_s, mem_t, T, momentum, n_data)
    loss_s = crd_contrast_loss(out_s, n_data)
    loss_t = crd_contrast_loss(out_t, n_data)
    total = loss_s + loss_t
    total.backward()
    return {"n_data": n_data, "temperature": T, "momentum": momentum, "memory_s": enc(mem_s),
            "memory_t": enc(mem_t), "raw_s": enc(raw_s), "raw_t": enc(raw_t), "labels_idx": y.tolist(),
            "idx": enc(idx.double()),
            "expected": {"out_s": enc(out_s), "out_t": enc(out_t), "z_s": z_s, "z_t": z_t,
                         "loss_s": loss_s.item(), "loss_t": loss_t.item(), "total": total.item(),
                         "updated_s": enc(upd_s), "updated_t": enc(upd_t),
                         "grad_raw_s": enc(rs.grad), "grad_raw_t": enc(rt.grad)}}


def fitnet_method_case():
    """The whole fitnet method: RepDistiller's ConvReg regressor (models/util.py) for a student
    map twice the teacher's size (3x3 conv, stride 2, padding 1; ConvReg's bias left out, as it
    cancels in BN) + BN (train mode) + ReLU, CE, beta."""
    batch, classes, cs, ct = 4, 5, 3, 5
    beta = 100.0
    s_feat = randn(batch, cs, 6, 6)
    t_feat = randn(batch, ct, 3, 3)
    logits = randn(batch, classes, scale=2.0)
    y = torch.randint(0, classes, (batch,), generator=GEN)
    conv = nn.Conv2d(cs, ct, kernel_size=3, stride=2, padding=1, bias=False)
    bn = nn.BatchNorm2d(ct)
    with torch.no_grad():
        conv.weight.copy_(randn(ct, cs, 3, 3, scale=0.3))
        bn.weight.copy_(rand(ct, lo=0.5, hi=1.5))
        bn.bias.copy_(randn(ct, scale=0.1))
    sf = s_feat.clone().requires_grad_(True)
    hint = hint_loss(F.relu(bn(conv(sf))), t_feat)
    ce = F.cross_entropy(logits, y)
    total = ce + beta * hint
    total.backward()
    return {"beta": beta, "student_feature": enc(s_feat), "teacher_feature": enc(t_feat),
            "logits": enc(logits), "labels": y.tolist(),
            "params": {"regressor0.conv.weight": enc(conv.weight), "regressor0.bn.weight": enc(bn.weight),
                       "regressor0.bn.bias": enc(bn.bias)},
            "expected": {"ce": ce.item(), "hint": hint.item(), "total": total.item(),
                         "grad_student_feature": enc(sf.grad),
                         "grad_conv_weight": enc(conv.weight.grad)}}


def vid_method_case():
    """The whole vid method on one map pair: three 1x1 convs with ReLUs, learned variance."""
    batch, classes, cs, ct = 3, 4, 2, 3
    beta, eps, init_var = 1.0, 1e-5, 5.0
    s_feat = randn(batch, cs, 4, 4)
    t_feat = randn(batch, ct, 2, 2)
    logits = randn(batch, classes, scale=2.0)
    y = torch.randint(0, classes, (batch,), generator=GEN)
    w = [randn(ct, cs, 1, 1, scale=0.5), randn(ct, ct, 1, 1, scale=0.5), randn(ct, ct, 1, 1, scale=0.5)]
    log_scale = torch.full((ct,), math.log(math.exp(init_var - eps) - 1.0))
    sf = s_feat.clone().requires_grad_(True)
    x = F.adaptive_avg_pool2d(sf, (2, 2))
    x = F.conv2d(F.relu(F.conv2d(F.relu(F.conv2d(x, w[0])), w[1])), w[2])
    vid = vid_loss(x, t_feat, log_scale, eps)
    ce = F.cross_entropy(logits, y)
    total = ce + beta * vid
    total.backward()
    return {"beta": beta, "student_feature": enc(s_feat), "teacher_feature": enc(t_feat),
            "logits": enc(logits), "labels": y.tolist(),
            "params": {"head0.conv0.weight": enc(w[0]), "head0.conv1.weight": enc(w[1]),
                       "head0.conv2.weight": enc(w[2]), "head0.log_scale": enc(log_scale)},
            "expected": {"ce": ce.item(), "vid": vid.item(), "total": total.item(),
                         "grad_student_feature": enc(sf.grad)}}


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "method_golden.json")

    def teacher_onehot(mag):
        def make(t, y):
            out = torch.full_like(t, -mag)
            out[torch.arange(len(y)), y] = mag
            return out
        return make

    dkd = [
        dkd_case("b4_c5_T4_a1_b8", 4, 5, 4.0, 1.0, 8.0),
        dkd_case("b6_c10_T1_a0.5_b2", 6, 10, 1.0, 0.5, 2.0),
        dkd_case("b3_c3_T2_a2_b1", 3, 3, 2.0, 2.0, 1.0),
        dkd_case("b5_c8_T8_a1_b8_large_scale", 5, 8, 8.0, 1.0, 8.0, scale=10.0),
        dkd_case("b4_c6_T4_a1_b8_teacher_pm10", 4, 6, 4.0, 1.0, 8.0, teacher=teacher_onehot(10.0)),
        dkd_case("b2_c2_T4_a1_b8_two_classes", 2, 2, 4.0, 1.0, 8.0),
    ]
    doc = {
        "generator": "scripts/gen_method_golden.py",
        "torch_version": torch.__version__,
        "seed": SEED,
        "dkd": dkd,
        "features": feature_cases(),
        "negative_stats": negative_stats_case(),
        "crd": crd_case(),
        "fitnet_method": fitnet_method_case(),
        "vid_method": vid_method_case(),
    }
    with open(out_path, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    print("wrote %s (%d bytes)" % (os.path.normpath(out_path), os.path.getsize(out_path)))


if __name__ == "__main__":
    main()
