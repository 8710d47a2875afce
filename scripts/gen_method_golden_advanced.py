#!/usr/bin/python3
"""Generates tests/data/method_golden_advanced.json: golden values for srm, london, iekd and LMA.

tests/test_methods_advanced.cpp checks the engine's pure functions (engine/methods/SrmLosses.h,
LondonLosses.h, IekdLosses.h, engine/models/Lma.h) and the whole srm and london methods
against these values. The formulas are re-stated here from the papers and, for IE-KD, the
authors' code (aliyun/Revisiting-Knowledge-Distillation-an-Inheritance-and-Exploration-
Framework: loss/factor_transfer.py, loss/reconstruction.py):

- SRM's one-stage stand-in, the method `srm_lite` (the paper's `srm` has its own golden values,
  scripts/gen_srm_golden.py; the keys "srm" and "srm_method" below are srm_lite's):
  top-k sparse codes over a dictionary, pixel labels
  (1/k on the active atoms), image labels (their mean over an image), KL losses; the online
  spherical k-means dictionary step is the engine's own (see docs/METHODS.md).
- LONDON (Shang et al., ICCV 2021): the authors' code (42Shawn/LONDON,
  CIFAR-100/distiller_london.py, restated below) — per-image FSP transmitting matrices,
  `top_eigenvalue` by power iteration on TM·TMᵀ, the weighted MSE of the top singular values,
  the whole method with and without the OFD connectors; and the engine's own variants:
  batch transmitting matrices (Gram, or a ridge least-squares map), power iteration with kept
  vectors (also checked against an SVD), log-distance of the Lipschitz estimates.
- IE-KD (Huang et al., CVPR 2021): NormLoss / CosLoss / RecLoss.
- LMA (Xu et al., AAAI 2020): f(x) = k0 x + sum_i (k_i - k_{i-1}) relu(x - b_i) with
  b_i = mean + std * ndtri(i / K).

Everything is float64. Inputs are rounded to 4 decimals before the computation, so the stored
inputs are exactly those the expected values were computed from. Tensors are stored as
{"shape": [...], "data": [flat, row-major]}.

Regenerate with Debian's python3-torch (the LibTorch 1.13 the engine links):

    /usr/bin/python3 scripts/gen_method_golden_advanced.py          # writes tests/data/method_golden_advanced.json
    /usr/bin/python3 scripts/gen_method_golden_advanced.py OUT.json

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

SEED = 20210331  # SRM on arXiv

torch.set_default_dtype(torch.float64)
DRAWS = Draws(SEED)
GEN, randn, rand = DRAWS.gen, DRAWS.randn, DRAWS.rand


def unit_rows(x):
    return F.normalize(x, p=2, dim=1)



# ---------------------------------------------------------------------------------------
# LMA
# ---------------------------------------------------------------------------------------

def lma_quantiles(k):
    return torch.special.ndtri(torch.arange(1, k, dtype=torch.float64) / k)


def lma_function(x, slopes, boundaries):
    y = x * slopes[0]
    for i in range(1, slopes.numel()):
        y = y + (slopes[i] - slopes[i - 1]) * F.relu(x - boundaries[i - 1])
    return y


def lma_cases():
    cases = []
    for name, shape, k, mean, std in [("k6_map", (2, 3, 4, 4), 6, 0.1, 1.3),
                                      ("k2_vector", (5, 7), 2, -0.2, 0.8),
                                      ("k5_odd", (3, 2, 3, 3), 5, 0.0, 1.0),
                                      ("k9_wide", (4, 6), 9, 0.5, 2.0)]:
        x = randn(*shape, scale=1.5)
        slopes = randn(k, scale=0.7)
        w = randn(*shape)  # the loss sum(w * f(x)) weights every element differently
        b = lma_quantiles(k) * std + mean
        xg = x.clone().requires_grad_(True)
        sg = slopes.clone().requires_grad_(True)
        y = lma_function(xg, sg, b)
        (w * y).sum().backward()
        cases.append({"name": name, "segments": k, "mean": mean, "std": std, "x": enc(x), "slopes": enc(slopes),
                      "weights": enc(w), "boundaries": enc(b), "y": enc(y), "grad_x": enc(xg.grad),
                      "grad_slopes": enc(sg.grad)})
    quantiles = {str(k): lma_quantiles(k).tolist() for k in range(2, 17)}
    return {"cases": cases, "quantiles": quantiles}


# ---------------------------------------------------------------------------------------
# SRM
# ---------------------------------------------------------------------------------------

def srm_pixel_vectors(f):
    if f.dim() == 2:
        return f
    return f.permute(0, 2, 3, 1).reshape(-1, f.size(1))


def srm_codes(vectors, dictionary, k):
    sim = vectors @ dictionary.t()
    values, indices = sim.topk(k, dim=1, largest=True, sorted=True)
    codes = torch.zeros_like(sim).scatter(1, indices, values)
    return codes, indices


def srm_pixel_labels(indices, atoms):
    k = indices.size(1)
    return torch.zeros(indices.size(0), atoms).scatter_(1, indices, 1.0 / k)


def srm_image_labels(labels, positions):
    return labels.reshape(-1, positions, labels.size(1)).mean(1)


def kl_rows(y, logp):
    return (torch.xlogy(y, y) - y * logp).sum(1)


def srm_pixel_loss(logits, labels):
    return kl_rows(labels, F.log_softmax(logits, 1)).mean()


def srm_image_loss(logits, image_labels, positions):
    q = F.softmax(logits, 1).reshape(-1, positions, logits.size(1)).mean(1)
    return kl_rows(image_labels, q.log()).mean()


def srm_dictionary_step(dictionary, usage, vectors, decay, dead_usage):
    m = dictionary.size(0)
    x = unit_rows(vectors)
    p = x.size(0)
    best_sim, assign = (x @ dictionary.t()).max(1)
    counts = torch.zeros(m).index_add_(0, assign, torch.ones(p))
    sums = torch.zeros_like(dictionary).index_add_(0, assign, x)
    means = sums / counts.clamp(min=1.0).unsqueeze(1)
    moved = unit_rows(decay * dictionary + (1 - decay) * means)
    new_dict = torch.where(counts.unsqueeze(1) > 0, moved, dictionary)
    new_usage = decay * usage + (1 - decay) * counts / p
    dead = (new_usage < dead_usage).nonzero().flatten()
    n_dead = min(dead.numel(), p)
    if n_dead > 0:
        worst = best_sim.sort(stable=True, dim=0, descending=False)[1][:n_dead]
        rows = dead[:n_dead]
        new_dict.index_copy_(0, rows, x.index_select(0, worst))
        new_usage.index_fill_(0, rows, 1.0 / m)
    return new_dict, new_usage


def srm_cases():
    # Pure pieces on a map of 2 images, 3 channels, 2x3 positions; 5 atoms, top-2.
    n, c, h, w, m, k = 2, 3, 2, 3, 5, 2
    feature = randn(n, c, h, w)
    vectors = srm_pixel_vectors(feature)
    dictionary = unit_rows(randn(m, c))
    codes, indices = srm_codes(vectors, dictionary, k)
    labels = srm_pixel_labels(indices, m)
    image = srm_image_labels(labels, h * w)
    logits = randn(n * h * w, m, scale=2.0)
    lg = logits.clone().requires_grad_(True)
    pixel_loss = srm_pixel_loss(lg, labels)
    pixel_loss.backward()
    grad_pixel = lg.grad.clone()
    lg.grad = None
    image_loss = srm_image_loss(lg, image, h * w)
    image_loss.backward()
    grad_image = lg.grad.clone()

    # Dictionary steps: one plain, one where two atoms are dead (usage below the floor).
    steps = []
    for name, usage, dead_usage, decay in [("plain", torch.full((m,), 1.0 / m), 0.01 / m, 0.9),
                                           ("reseed", torch.tensor([0.3, 1e-5, 0.3, 2e-5, 0.4]), 0.21, 0.5)]:
        vec = randn(7, c)
        d2, u2 = srm_dictionary_step(dictionary, usage, vec, decay, dead_usage)
        steps.append({"name": name, "usage": enc(usage), "vectors": enc(vec), "decay": decay,
                      "dead_usage": dead_usage, "dictionary_out": enc(d2), "usage_out": enc(u2)})
    return {"feature": enc(feature), "vectors": enc(vectors), "dictionary": enc(dictionary), "top_k": k,
            "positions": h * w, "codes": enc(codes), "indices": enc(indices.double()), "pixel_labels": enc(labels),
            "image_labels": enc(image), "logits": enc(logits), "pixel_loss": pixel_loss.item(),
            "grad_pixel": enc(grad_pixel), "image_loss": image_loss.item(), "grad_image": enc(grad_image),
            "dictionary_steps": steps}


def srm_method_case():
    """The whole srm method on one pair: pooling, 1x1 conv + BN head (train mode), cosine
    logits over a fixed dictionary, pixel and image KL, CE (kd_weight 0)."""
    batch, classes, cs, ct, m, k, tau = 3, 4, 2, 3, 6, 2, 0.5
    pixel_w, image_w = 1.5, 0.7
    s_feat = randn(batch, cs, 4, 4)
    t_feat = rand(batch, ct, 2, 2)  # post-ReLU-like
    logits = randn(batch, classes, scale=2.0)
    y = torch.randint(0, classes, (batch,), generator=GEN)
    dictionary = unit_rows(randn(m, ct))
    conv = nn.Conv2d(cs, ct, 1, bias=False)
    bn = nn.BatchNorm2d(ct)
    with torch.no_grad():
        conv.weight.copy_(randn(ct, cs, 1, 1, scale=0.5))
        bn.weight.copy_(rand(ct, lo=0.5, hi=1.5))
        bn.bias.copy_(randn(ct, scale=0.1))
    sf = s_feat.clone().requires_grad_(True)
    pooled = F.adaptive_avg_pool2d(sf, (2, 2))
    positions = 4
    _, indices = srm_codes(srm_pixel_vectors(t_feat), dictionary, k)
    labels = srm_pixel_labels(indices, m)
    image = srm_image_labels(labels, positions)
    proj = unit_rows(srm_pixel_vectors(bn(conv(pooled))))
    atom_logits = proj @ dictionary.t() / tau
    lp = srm_pixel_loss(atom_logits, labels)
    li = srm_image_loss(atom_logits, image, positions)
    ce = F.cross_entropy(logits, y)
    total = ce + pixel_w * lp + image_w * li
    total.backward()
    return {"temperature": tau, "top_k": k, "dictionary_size": m, "pixel_weight": pixel_w, "image_weight": image_w,
            "student_feature": enc(s_feat), "teacher_feature": enc(t_feat), "logits": enc(logits),
            "labels": y.tolist(), "dictionary": enc(dictionary),
            "params": {"pair0.connector.conv.weight": enc(conv.weight), "pair0.connector.bn.weight": enc(bn.weight),
                       "pair0.connector.bn.bias": enc(bn.bias)},
            "expected": {"ce": ce.item(), "srm_pixel": lp.item(), "srm_image": li.item(), "total": total.item(),
                         "grad_student_feature": enc(sf.grad), "grad_conv_weight": enc(conv.weight.grad)}}


# ---------------------------------------------------------------------------------------
# LONDON
# ---------------------------------------------------------------------------------------

def pool_to_common(a, b):
    if a.dim() != 4 or b.dim() != 4:
        return a, b
    h = min(a.size(2), b.size(2))
    w = min(a.size(3), b.size(3))

    def pool(x):
        return x if (x.size(2) == h and x.size(3) == w) else F.adaptive_avg_pool2d(x, (h, w))
    return pool(a), pool(b)


def transmitting_matrix(f_in, f_out, kind, ridge=1e-3):
    a, b = f_in, f_out
    if a.dim() != b.dim():
        if a.dim() == 4:
            a = a.mean((2, 3))
        else:
            b = b.mean((2, 3))
    a, b = pool_to_common(a, b)
    x = srm_pixel_vectors(a)
    y = srm_pixel_vectors(b)
    r = x.size(0)
    if kind == "gram":
        return y.t() @ x / r
    xx = x.t() @ x / r
    xy = x.t() @ y / r
    scale = (xx.diagonal().sum() / x.size(1)).detach().clamp(min=1e-12)
    return torch.linalg.solve(xx + ridge * scale * torch.eye(x.size(1)), xy).t()


def power_iteration(m, u, v, iterations):
    with torch.no_grad():
        md = m.detach()
        for _ in range(iterations):
            v = F.normalize(md.t() @ u, dim=0)
            u = F.normalize(md @ v, dim=0)
    return u.dot(m @ v), u, v


def lipschitz_loss(student, teacher, distance):
    """The engine's log-distance variants; each sigma is a scalar or one per image."""
    ls = [s.clamp(min=1e-12).log() for s in student]
    lt = [t.detach().clamp(min=1e-12).log() for t in teacher]
    if distance == "product":
        return (sum(ls) - sum(lt)).pow(2).mean()
    assert distance == "per_stage"
    return sum((a - b).pow(2).mean() for a, b in zip(ls, lt)) / len(ls)


def london_cases():
    out = {"transmitting": [], "power": [], "lipschitz": []}
    for name, si, so, kind in [("gram_maps", (3, 4, 4, 4), (3, 5, 2, 2), "gram"),
                               ("ls_maps", (3, 4, 4, 4), (3, 5, 2, 2), "least_squares"),
                               ("gram_map_to_vector", (4, 3, 2, 2), (4, 6), "gram"),
                               ("ls_vectors", (9, 4), (9, 3), "least_squares")]:
        f_in, f_out = rand(*si), rand(*so)
        a = f_in.clone().requires_grad_(True)
        b = f_out.clone().requires_grad_(True)
        m = transmitting_matrix(a, b, kind)
        weights = randn(*m.shape)
        (weights * m).sum().backward()
        out["transmitting"].append({"name": name, "kind": kind, "ridge": 1e-3, "f_in": enc(f_in),
                                    "f_out": enc(f_out), "weights": enc(weights), "matrix": enc(m),
                                    "grad_in": enc(a.grad), "grad_out": enc(b.grad)})
    for name, shape, iterations in [("5x7_3it", (5, 7), 3), ("6x4_1it", (6, 4), 1), ("8x8_10it", (8, 8), 10)]:
        m = randn(*shape)
        u = F.normalize(randn(shape[0]), dim=0)
        v = F.normalize(randn(shape[1]), dim=0)
        mg = m.clone().requires_grad_(True)
        sigma, u2, v2 = power_iteration(mg, u, v, iterations)
        sigma.backward()
        out["power"].append({"name": name, "matrix": enc(m), "u": enc(u), "v": enc(v), "iterations": iterations,
                             "sigma": sigma.item(), "u_out": enc(u2), "v_out": enc(v2), "grad_matrix": enc(mg.grad),
                             "svd_sigma": torch.linalg.svdvals(m)[0].item()})
    for name, s, t in [("three", [1.7, 0.4, 2.2], [2.5, 0.9, 1.1]), ("one", [0.3], [0.8]),
                       ("per_image", [[1.7, 0.4, 2.2, 0.8], [0.6, 1.3, 0.2, 2.9]],
                        [[2.5, 0.9, 1.1, 0.7], [0.5, 0.3, 1.8, 2.0]])]:
        for distance in ("product", "per_stage", "mse"):
            sv = torch.tensor(s, requires_grad=True)
            tv = torch.tensor(t)
            if distance == "mse":
                loss = london_official_mse(list(sv), list(tv))
            else:
                loss = lipschitz_loss(list(sv), list(tv), distance)
            loss.backward()
            out["lipschitz"].append({"name": name + "_" + distance, "distance": distance,
                                     "student": s, "teacher": t, "loss": loss.item(), "grad_student": sv.grad.tolist()})
    return out


def london_method_case():
    """The whole london method with feature_loss none: two stage pairs, one transition, Gram
    matrices, given power-iteration vectors (warm), product loss, CE."""
    batch, classes = 4, 3
    s1, s2 = rand(batch, 3, 4, 4), rand(batch, 4, 2, 2)
    t1, t2 = rand(batch, 5, 4, 4), rand(batch, 6, 2, 2)
    logits = randn(batch, classes, scale=2.0)
    y = torch.randint(0, classes, (batch,), generator=GEN)
    us, vs = F.normalize(randn(4), dim=0), F.normalize(randn(3), dim=0)
    ut, vt = F.normalize(randn(6), dim=0), F.normalize(randn(5), dim=0)
    weight, iterations = 2.0, 2
    a = s1.clone().requires_grad_(True)
    b = s2.clone().requires_grad_(True)
    sigma_s, us2, vs2 = power_iteration(transmitting_matrix(a, b, "gram"), us, vs, iterations)
    sigma_t, ut2, vt2 = power_iteration(transmitting_matrix(t1, t2, "gram"), ut, vt, iterations)
    lip = lipschitz_loss([sigma_s], [sigma_t], "product")
    ce = F.cross_entropy(logits, y)
    total = ce + weight * lip
    total.backward()
    return {"weight": weight, "iterations": iterations, "s1": enc(s1), "s2": enc(s2), "t1": enc(t1), "t2": enc(t2),
            "logits": enc(logits), "labels": y.tolist(),
            "buffers": {"power_s0.u": enc(us), "power_s0.v": enc(vs), "power_t0.u": enc(ut), "power_t0.v": enc(vt)},
            "expected": {"ce": ce.item(), "lipschitz": lip.item(), "total": total.item(),
                         "sigma_s": sigma_s.item(), "sigma_t": sigma_t.item(),
                         "power_s0.u": enc(us2), "power_s0.v": enc(vs2), "power_t0.u": enc(ut2),
                         "power_t0.v": enc(vt2), "grad_s1": enc(a.grad), "grad_s2": enc(b.grad)}}


# The authors' code, restated (42Shawn/LONDON, CIFAR-100/distiller_london.py, Distiller):
# transmitting_matrix, top_eigenvalue (with the start vector given instead of torch.rand, so
# that the values are reproducible) and the loss of forward(). These cases draw from their own
# generator so that adding them left every other value in the file unchanged.

LGEN = torch.Generator().manual_seed(20211011)  # ICCV 2021


def lrand(*shape, lo=0.0, hi=1.0):
    return rounded(torch.rand(*shape, generator=LGEN) * (hi - lo) + lo)


def lrandn(*shape, scale=1.0):
    return rounded(torch.randn(*shape, generator=LGEN) * scale)


def london_official_tm(fm1, fm2):
    if fm1.size(2) > fm2.size(2):
        fm1 = F.adaptive_avg_pool2d(fm1, (fm2.size(2), fm2.size(3)))
    fm1 = fm1.view(fm1.size(0), fm1.size(1), -1)
    fm2 = fm2.view(fm2.size(0), fm2.size(1), -1).transpose(1, 2)
    return torch.bmm(fm1, fm2) / fm1.size(2)


def london_official_top(K, start, n_power_iterations):
    v = start.unsqueeze(2)
    for _ in range(n_power_iterations):
        m = torch.bmm(K, v)
        n = torch.norm(m, dim=1).unsqueeze(1)
        v = m / n
    return torch.sqrt(n / torch.norm(v, dim=1).unsqueeze(1))  # [N, 1, 1]


def london_official_sigma(tm, start, iterations):
    return london_official_top(torch.bmm(tm, tm.transpose(2, 1)), start, iterations).flatten()


def london_official_mse(sigma_s, sigma_t):
    """forward()'s loss_london given the top singular values of the P = feat_num - 1 transitions."""
    feat_num = len(sigma_s) + 1
    loss = 0
    for i in range(feat_num - 1):
        loss = loss + F.mse_loss(sigma_s[i], sigma_t[i]) / 2 ** (feat_num - i - 1)
    return loss


def gaussian_margin(t):
    """OFD's get_margin_from_BN with the channel's measured mean and (population) deviation:
    E[x | x < 0] of a Gaussian, or -3 sigma where Phi(-mu/sigma) <= 0.001."""
    x = t.transpose(0, 1).reshape(t.size(1), -1)
    out = []
    for mu, sd in zip(x.mean(1).tolist(), x.std(1, unbiased=False).tolist()):
        tail = 0.5 * math.erfc(mu / sd / math.sqrt(2))
        out.append(mu - sd * math.exp(-0.5 * (mu / sd) ** 2) / math.sqrt(2 * math.pi) / tail
                   if tail > 0.001 else -3 * sd)
    return torch.tensor(out, dtype=torch.float64)


def london_official_distillation_loss(source, target, margin):
    """OFD's partial L2 (distillation_loss of the same file), margin per channel."""
    target = torch.max(target, margin.view(1, -1, 1, 1))
    loss = F.mse_loss(source, target, reduction="none")
    loss = loss * ((source > target) | (target > 0)).double()
    return loss.sum()


def check_gap(tm):
    """Converged power iterations must not depend on the start: a clear top singular value."""
    sv = torch.linalg.svdvals(tm)
    assert (sv[:, 1] < 0.85 * sv[:, 0]).all(), sv


def london_fsp_cases():
    out = {"transmitting": [], "power": []}
    for name, si, so in [("fsp_pooled", (3, 4, 4, 4), (3, 5, 2, 2)), ("fsp_same_size", (2, 3, 3, 3), (2, 4, 3, 3))]:
        f_in, f_out = lrandn(*si), lrandn(*so)
        a = f_in.clone().requires_grad_(True)
        b = f_out.clone().requires_grad_(True)
        m = london_official_tm(a, b)
        weights = lrandn(*m.shape)
        (weights * m).sum().backward()
        out["transmitting"].append({"name": name, "kind": "fsp", "ridge": 1e-3, "f_in": enc(f_in),
                                    "f_out": enc(f_out), "weights": enc(weights), "matrix": enc(m),
                                    "grad_in": enc(a.grad), "grad_out": enc(b.grad)})
    for name, shape, iterations in [("3x4x5_10it", (3, 4, 5), 10), ("2x6x3_2it", (2, 6, 3), 2),
                                    ("4x3x3_1it", (4, 3, 3), 1)]:
        tm = lrandn(*shape)
        start = lrand(shape[0], shape[1])
        weights = lrandn(shape[0])
        tg = tm.clone().requires_grad_(True)
        sigma = london_official_sigma(tg, start, iterations)
        (weights * sigma).sum().backward()
        out["power"].append({"name": name, "matrix": enc(tm), "start": enc(start), "iterations": iterations,
                             "weights": enc(weights), "sigma": enc(sigma), "grad_matrix": enc(tg.grad),
                             "svd_sigma": enc(torch.linalg.svdvals(tm)[:, 0])})
    return out


def london_fsp_method_case(ofd):
    """The whole london method at its defaults (fsp, mse, weight 0.004) on three stages (two
    transitions), with feature_loss none or ofd (connectors: 1x1 conv + BN in training mode;
    the margin is OFD's Gaussian E[x | x < 0] of this first batch's teacher channel statistics).
    100 power iterations: converged, so the engine's random start does not matter."""
    batch, classes, iterations = 4, 3, 100
    s_shapes = [(3, 4, 4), (4, 2, 2), (5, 1, 1)]
    t_shapes = [(4, 4, 4), (6, 2, 2), (3, 1, 1)]
    s_pre = [lrandn(batch, *sh) for sh in s_shapes]
    t_pre = [lrandn(batch, *sh) for sh in t_shapes]
    logits = lrandn(batch, classes, scale=2.0)
    y = torch.randint(0, classes, (batch,), generator=LGEN)
    params = {}
    convs, bns = [], []
    if ofd:
        for i, (ss, ts) in enumerate(zip(s_shapes, t_shapes)):
            conv = lrandn(ts[0], ss[0], 1, 1, scale=0.7)
            gamma, beta = lrand(ts[0], lo=0.5, hi=1.5), lrandn(ts[0], scale=0.1)
            convs.append(conv.clone().requires_grad_(True))
            bns.append((gamma, beta))
            params["pair%d.connector.conv.weight" % i] = enc(conv)
            params["pair%d.connector.bn.weight" % i] = enc(gamma)
            params["pair%d.connector.bn.bias" % i] = enc(beta)
    feats = [f.clone().requires_grad_(True) for f in s_pre]
    s_feats = list(feats)
    t_feats = [f.detach() for f in t_pre]
    feat_num = len(t_feats)
    loss_distill, sigma_s, sigma_t = 0, [], []
    for i in range(feat_num):  # forward() of the authors' Distiller
        if ofd:
            s_feats[i] = F.batch_norm(F.conv2d(s_feats[i], convs[i]), None, None, bns[i][0], bns[i][1],
                                      training=True, eps=1e-5)
            t = t_feats[i]
            loss_distill = loss_distill + london_official_distillation_loss(s_feats[i], t, gaussian_margin(t)) \
                / 2 ** (feat_num - i - 1)
        if i < feat_num - 1:
            tm_s = london_official_tm(s_feats[i], s_feats[i + 1])
            tm_t = london_official_tm(t_feats[i], t_feats[i + 1])
            check_gap(tm_s.detach())
            check_gap(tm_t)
            start_s, start_t = lrand(batch, tm_s.size(1)), lrand(batch, tm_t.size(1))
            sigma_s.append(london_official_sigma(tm_s, start_s, iterations))
            sigma_t.append(london_official_sigma(tm_t, start_t, iterations))
            # Converged: another start gives the same values (to far below the test's tolerance).
            other = london_official_sigma(tm_s.detach(), lrand(batch, tm_s.size(1)), iterations)
            assert torch.allclose(other, sigma_s[-1].detach(), rtol=1e-10, atol=0)
            assert torch.allclose(sigma_t[-1], torch.linalg.svdvals(tm_t)[:, 0], rtol=1e-10, atol=0)
    lip = london_official_mse(sigma_s, sigma_t)
    ce = F.cross_entropy(logits, y)
    weight, feature_weight = 0.8 / 200, 1e-3
    total = ce + weight * lip
    expected = {"ce": ce.item(), "lipschitz": lip.item()}
    if ofd:
        feature = loss_distill / batch
        total = total + feature_weight * feature
        expected["feature"] = feature.item()
    total.backward()
    expected["total"] = total.item()
    for i, f in enumerate(feats):
        expected["grad_s%d" % (i + 1)] = enc(f.grad)
    for i, c in enumerate(convs):
        expected["grad_pair%d.connector.conv.weight" % i] = enc(c.grad)
    return {"feature_loss": "ofd" if ofd else "none", "power_iterations": iterations,
            "s_pre": [enc(f) for f in s_pre], "t_pre": [enc(f) for f in t_pre], "logits": enc(logits),
            "labels": y.tolist(), "params": params, "expected": expected}


# ---------------------------------------------------------------------------------------
# IE-KD (aliyun/...: loss/factor_transfer.py, loss/reconstruction.py)
# ---------------------------------------------------------------------------------------

def factor_transfer(x, y, p=1):
    x = F.normalize(x.view(x.size(0), -1), p=2, dim=1)
    y = F.normalize(y.view(y.size(0), -1), p=2, dim=1)
    diff = x - y
    diff = diff.norm(p=p).pow(p) / diff.numel()
    return diff.pow(1 / p)


def cos_loss(x, y, negative):
    x = F.normalize(x.view(x.size(0), -1), p=2, dim=1)
    y = F.normalize(y.view(y.size(0), -1), p=2, dim=1)
    inner = torch.sum(x * y, dim=1)
    if negative:
        return inner.abs().sum() / inner.numel()
    return (1 - inner).sum() / inner.numel()


def rec_loss(x, y, norm=1):
    diff = x - y
    diff = diff.norm(p=norm).pow(norm) / diff.numel()
    return diff.pow(1 / norm)


def iekd_cases():
    cases = []
    for distance in ("l1", "l2", "cos"):
        s, t = randn(3, 4, 2, 2), randn(3, 4, 2, 2)
        for part in ("inherit", "explore"):
            sg = s.clone().requires_grad_(True)
            if distance == "cos":
                loss = cos_loss(sg, t, negative=(part == "explore"))
            else:
                p = 1 if distance == "l1" else 2
                loss = factor_transfer(sg, t, p)
                if part == "explore":
                    loss = -loss
            loss.backward()
            cases.append({"distance": distance, "part": part, "student": enc(s), "teacher": enc(t),
                          "loss": loss.item(), "grad_student": enc(sg.grad)})
    x, y = randn(2, 3, 3, 3), randn(2, 3, 3, 3)
    xg = x.clone().requires_grad_(True)
    r = rec_loss(xg, y)
    r.backward()
    recon = {"reconstruction": enc(x), "input": enc(y), "loss": r.item(), "grad": enc(xg.grad)}
    return {"cases": cases, "recon": recon}


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "method_golden_advanced.json")
    doc = {
        "generator": "scripts/gen_method_golden_advanced.py",
        "torch_version": torch.__version__,
        "seed": SEED,
        "lma": lma_cases(),
        "srm": srm_cases(),
        "srm_method": srm_method_case(),
        "london": london_cases(),
        "london_method": london_method_case(),
        "london_fsp": london_fsp_cases(),
        "london_fsp_method": [london_fsp_method_case(False), london_fsp_method_case(True)],
        "iekd": iekd_cases(),
    }
    with open(out_path, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    print("wrote %s (%d bytes)" % (os.path.normpath(out_path), os.path.getsize(out_path)))


if __name__ == "__main__":
    main()
