#!/usr/bin/python3
"""Generates tests/data/online_golden.json: golden values for the online (cohort) methods'
losses (docs/METHODS.md, "Online distillation").

tests/test_online.cpp checks engine/methods/online/ and the registered methods' defaults
against these values. Everything is stated here again from the formulas, in plain PyTorch
(float64), independently of the engine:

  dml    Deep Mutual Learning (YingZhangDUT/Deep-Mutual-Learning, train_models.py):
         kl_loss_compute(logits1, logits2) = mean_batch sum_c p2 * log(p2 / p1), p = softmax;
         net i's loss = CE_i + sum_{j != i} kl_loss_compute(logits_i, logits_j), with the
         gradients of net i taken over net i's variables only (the others are targets).
         The engine's "mean" reduction divides the sum by K - 1 (the paper's Eq. 10); its
         temperature T scales logits and the term by T^2 (T = 1 is the authors').
  grad   d L_i / d z_i (autograd) and d L_i / d z_j for j != i (zero: detached targets)
  one    On-the-fly Native Ensemble (Lan1991Xu/ONE_NeurIPS2018): ONE_ResNet.forward's gate
         g = softmax(relu(bn_v1 output)) and x_m = sum_b g_b * z_b; cifar_one.py train():
         CE on every branch and on x_m, plus consistency_weight * sum_b KLLoss(z_b, x_m) with
         loss/kl_loss.py's KLLoss (T = 3, target softmax(x_m / T) + 1e-7 taken as .data,
         T^2 * sum(target * (log target - log_softmax(z / T))) / batch). Gradients with respect
         to the branch logits and the gate's BatchNorm output.
  ffl    Feature Fusion Learning (Jangho-Kim/FFL-pytorch train_FFL.py train()): with
         ensemble_logit = mean of the branch logits and fused_logit the fusion module's,
         CE on every branch and on fused_logit, plus consistency_weight * (sum_b
         KLLoss(z_b, fused_logit) + KLLoss(fused_logit, ensemble_logit)) with utils.py's
         KLLoss (the same as ONE's). Gradients with respect to the branch and fused logits.
  rampup utils/ramps.py sigmoid_rampup(current, length) (Mean Teacher's, which ONE imports):
         1 for length 0, else exp(-5 (1 - clip(current, 0, length) / length)^2).

Inputs are rounded to 4 decimals, so the stored inputs are exactly those the expected values
come from. The "authors" block holds the documented reference defaults.

    /usr/bin/python3 scripts/gen_online_golden.py            # writes tests/data/online_golden.json
    /usr/bin/python3 scripts/gen_online_golden.py OUT.json   # writes elsewhere

Deterministic (fixed seed): rerunning it must not change the checked-in file.
"""

import json
import os
import sys

import torch
import torch.nn.functional as F

SEED = 170600384  # arXiv 1706.00384 (Zhang et al., DML)


def rounded(t):
    return torch.round(t * 1e4) / 1e4


def rows(t):
    return [[float(v) for v in r] for r in t.tolist()]


def kl_authors(z_self, z_other, T):
    # The authors' kl_loss_compute at temperature T (their T is 1): KL(p_other || p_self).
    p1 = F.softmax(z_self / T, 1)
    p2 = F.softmax(z_other / T, 1)
    return (p2 * torch.log(p2 / p1)).sum(1).mean()


def dml_case(gen, name, peers, batch, classes, T, reduction, weight=1.0, scale=3.0):
    logits = [rounded(torch.randn(batch, classes, generator=gen, dtype=torch.float64) * scale) for _ in range(peers)]
    y = torch.randint(0, classes, (batch,), generator=gen)
    case = {"name": name, "T": T, "reduction": reduction, "weight": weight,
            "logits": [rows(z) for z in logits], "labels": [int(v) for v in y], "peers": []}
    for i in range(peers):
        zs = [z.clone().requires_grad_(True) for z in logits]
        ce = F.cross_entropy(zs[i], y)
        kl = sum(kl_authors(zs[i], zs[j].detach(), T) for j in range(peers) if j != i)
        if reduction == "mean":
            kl = kl / (peers - 1)
        kl = kl * T * T
        total = ce + weight * kl
        total.backward()
        case["peers"].append({
            "ce": float(ce), "mutual_kl": float(kl), "total": float(total),
            "grad_self": rows(zs[i].grad),
            "grad_others_zero": all(zs[j].grad is None or float(zs[j].grad.abs().max()) == 0.0
                                    for j in range(peers) if j != i),
        })
    return case


def kl_one(pred, label, T=3.0):
    # loss/kl_loss.py KLLoss.forward, with the target's .data as a detach.
    predict = F.log_softmax(pred / T, dim=1)
    target = (F.softmax(label / T, dim=1) + 1e-7).detach()
    return T * T * ((target * (target.log() - predict)).sum(1).sum() / target.size()[0])


def one_case(gen, name, branches, batch, classes, T, weight, scale=3.0):
    z = [rounded(torch.randn(batch, classes, generator=gen, dtype=torch.float64) * scale) for _ in range(branches)]
    g_raw = rounded(torch.randn(batch, branches, generator=gen, dtype=torch.float64))
    y = torch.randint(0, classes, (batch,), generator=gen)
    zs = [t.clone().requires_grad_(True) for t in z]
    gs = g_raw.clone().requires_grad_(True)
    g = F.softmax(F.relu(gs), dim=1)
    x_m = sum(g[:, b].repeat(classes, 1).transpose(0, 1) * zs[b] for b in range(branches))
    ce = sum(F.cross_entropy(t, y) for t in zs)
    ens_ce = F.cross_entropy(x_m, y)
    kl = sum(kl_one(t, x_m, T) for t in zs)
    total = ce + ens_ce + weight * kl
    total.backward()
    return {"name": name, "T": T, "weight": weight, "logits": [rows(t) for t in z], "gate": rows(g_raw),
            "labels": [int(v) for v in y], "ce": float(ce), "ensemble_ce": float(ens_ce), "kl": float(kl),
            "total": float(total), "ensemble": rows(x_m.detach()),
            "grad_logits": [rows(t.grad) for t in zs], "grad_gate": rows(gs.grad)}


def ffl_case(gen, name, branches, batch, classes, T, weight, scale=3.0):
    z = [rounded(torch.randn(batch, classes, generator=gen, dtype=torch.float64) * scale) for _ in range(branches + 1)]
    y = torch.randint(0, classes, (batch,), generator=gen)
    zs = [t.clone().requires_grad_(True) for t in z]
    outputs, fused = zs[:branches], zs[branches]
    ensemble = sum(outputs) / branches
    ce = sum(F.cross_entropy(t, y) for t in outputs)
    fused_ce = F.cross_entropy(fused, y)
    kl = sum(kl_one(t, fused, T) for t in outputs) + kl_one(fused, ensemble, T)
    total = ce + fused_ce + weight * kl
    total.backward()
    return {"name": name, "T": T, "weight": weight, "logits": [rows(t) for t in z[:branches]], "fused": rows(z[branches]),
            "labels": [int(v) for v in y], "ce": float(ce), "fused_ce": float(fused_ce), "kl": float(kl),
            "total": float(total), "ensemble": rows(ensemble.detach()),
            "grad_logits": [rows(t.grad) for t in outputs], "grad_fused": rows(fused.grad)}


def sigmoid_rampup(current, length):
    if length == 0:
        return 1.0
    current = min(max(current, 0.0), length)
    phase = 1.0 - current / length
    return float(torch.exp(torch.tensor(-5.0 * phase * phase, dtype=torch.float64)))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "online_golden.json")
    gen = torch.Generator().manual_seed(SEED)
    gen_one = torch.Generator().manual_seed(SEED + 1)  # its own stream: the dml cases stay as they were
    gen_ffl = torch.Generator().manual_seed(SEED + 2)
    doc = {
        "generator": "scripts/gen_online_golden.py",
        "torch": torch.__version__,
        "authors": {
            "dml": {
                "source": "YingZhangDUT/Deep-Mutual-Learning train_models.py _tower_loss, kl_loss_compute "
                          "(plain softmax, KL terms added with weight 1); the paper's Eq. 10 averages over K - 1",
                "temperature": 1.0,
                "weight": 1.0,
                "peer_reduction": "mean",
            },
            "one": {
                "source": "Lan1991Xu/ONE_NeurIPS2018 cifar_one.py (3 branches of ONE_ResNet after layer2, "
                          "consistency_rampup 80 of 300 epochs, KLLoss T = 3, weight 1)",
                "temperature": 3.0,
                "weight": 1.0,
                "branches": 3,
                "split": "stage2",
                "rampup_fraction": 80.0 / 300.0,
            },
            "ffl": {
                "source": "Jangho-Kim/FFL-pytorch train_FFL.py (2 branches of ffl_resnet after layer2, "
                          "consistency_rampup 80 of 300 epochs, KLLoss T = 3, weight 1; Fusion_module's "
                          "optimizer_FM with weight_decay 1e-5)",
                "temperature": 3.0,
                "weight": 1.0,
                "branches": 2,
                "split": "stage2",
                "rampup_fraction": 80.0 / 300.0,
                "fusion_weight_decay": 1e-5,
            },
        },
        "one_cases": [
            one_case(gen_one, "three branches, T 3, full weight", 3, 6, 10, 3.0, 1.0),
            one_case(gen_one, "two branches, ramping weight", 2, 5, 7, 3.0, 0.25),
            one_case(gen_one, "four branches, T 1, large logits", 4, 4, 5, 1.0, 1.0, scale=10.0),
        ],
        "ffl_cases": [
            ffl_case(gen_ffl, "two branches (the authors'), full weight", 2, 6, 10, 3.0, 1.0),
            ffl_case(gen_ffl, "three branches, ramping weight", 3, 5, 7, 3.0, 0.3),
            ffl_case(gen_ffl, "two branches, T 1, large logits", 2, 4, 5, 1.0, 1.0, scale=10.0),
        ],
        "rampup": [{"current": c, "length": l, "value": sigmoid_rampup(c, l)}
                   for c, l in [(0, 80), (10, 80), (40, 80), (79, 80), (80, 80), (200, 80), (0, 0), (1, 1.3333), (0, 1.3333)]],
        "cases": [
            dml_case(gen, "two peers, T 1 (the authors')", 2, 6, 10, 1.0, "mean"),
            dml_case(gen, "three peers, mean", 3, 5, 7, 1.0, "mean"),
            dml_case(gen, "three peers, sum (the authors' code), T 3", 3, 4, 10, 3.0, "sum"),
            dml_case(gen, "four peers, weight 0.5, large logits", 4, 4, 5, 2.0, "mean", weight=0.5, scale=10.0),
        ],
    }
    with open(out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
