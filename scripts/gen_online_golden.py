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


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "online_golden.json")
    gen = torch.Generator().manual_seed(SEED)
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
        },
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
