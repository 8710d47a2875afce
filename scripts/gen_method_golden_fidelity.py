#!/usr/bin/python3
"""Generates tests/data/method_golden_fidelity.json: golden values for the loss paths that
follow the authors' code since issue 8 ("Fidelity to the authors' code").

tests/test_methods_fidelity.cpp checks against these values:

- fitnet with RepDistiller's ConvReg regressor (HobbitLong/RepDistiller, models/util.py
  `ConvReg`; the hint is distiller_zoo/FitNet.py `HintLoss`, an MSE): a 3x3 stride-2 conv
  when the student map is twice the teacher's size, a 4x4 stride-2 transposed conv when it is
  half, a (1+Hs-Ht)x(1+Ws-Wt) conv otherwise (1x1 for equal sizes), then BatchNorm (train
  mode: batch statistics) and ReLU (use_relu, default on). ConvReg's conv bias is left out:
  before BatchNorm in train mode a per-channel constant cancels exactly. A student map
  smaller than the teacher's by other than 2x, which ConvReg refuses, is the engine's
  fallback: the teacher map average-pooled to the student's size and a 1x1 conv.
- dmc's double distillation loss (Zhang et al., WACV 2020, eqs. 3-4) with the three target
  normalisations: the paper's per-image mean over each teacher's own classes, FACIL's
  re-implementation (the concatenated logits minus their batch mean), none.

Everything is float64; inputs are rounded to 4 decimals so the stored inputs are exactly
those the values were computed from. Tensors are {"shape": [...], "data": [flat]}.

    /usr/bin/python3 scripts/gen_method_golden_fidelity.py           # writes tests/data/method_golden_fidelity.json
    /usr/bin/python3 scripts/gen_method_golden_fidelity.py OUT.json  # writes elsewhere

Deterministic (fixed seed): rerunning it must not change the checked-in file.
"""

import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

from goldenlib import Draws, enc

SEED = 20260801

torch.set_default_dtype(torch.float64)
DRAWS = Draws(SEED)
GEN, randn, rand = DRAWS.gen, DRAWS.randn, DRAWS.rand



def conv_reg_case(name, s_size, t_size, relu=True, batch=3, cs=2, ct=3):
    """The fitnet hint with ConvReg for one pair of spatial sizes ((H, W) each)."""
    hs, ws = s_size
    ht, wt = t_size
    s_feat = randn(batch, cs, hs, ws)
    t_feat = randn(batch, ct, ht, wt)
    pooled_teacher = False
    if hs == 2 * ht and ws == 2 * wt:
        conv = nn.Conv2d(cs, ct, kernel_size=3, stride=2, padding=1, bias=False)
    elif 2 * hs == ht and 2 * ws == wt:
        conv = nn.ConvTranspose2d(cs, ct, kernel_size=4, stride=2, padding=1, bias=False)
    elif hs >= ht and ws >= wt:
        conv = nn.Conv2d(cs, ct, kernel_size=(1 + hs - ht, 1 + ws - wt), bias=False)
    else:
        conv = nn.Conv2d(cs, ct, kernel_size=1, bias=False)
        pooled_teacher = True
    bn = nn.BatchNorm2d(ct)
    with torch.no_grad():
        conv.weight.copy_(randn(*conv.weight.shape, scale=0.4))
        bn.weight.copy_(rand(ct, lo=0.5, hi=1.5))
        bn.bias.copy_(randn(ct, scale=0.2))
    sf = s_feat.clone().requires_grad_(True)
    target = F.adaptive_avg_pool2d(t_feat, (hs, ws)) if pooled_teacher else t_feat
    y = bn(conv(sf))
    if relu:
        y = F.relu(y)
    hint = F.mse_loss(y, target)
    hint.backward()
    return {"name": name, "relu": relu, "pooled_teacher": pooled_teacher,
            "student_feature": enc(s_feat), "teacher_feature": enc(t_feat),
            "params": {"regressor0.conv.weight": enc(conv.weight), "regressor0.bn.weight": enc(bn.weight),
                       "regressor0.bn.bias": enc(bn.bias)},
            "expected": {"hint": hint.item(), "grad_student_feature": enc(sf.grad),
                         "grad_conv_weight": enc(conv.weight.grad)}}


def dmc_case():
    n, co, cn = 4, 3, 2
    zs = randn(n, co + cn, scale=2.0)
    zo = randn(n, co, scale=3.0) + 1.5
    zn = randn(n, cn, scale=3.0) - 0.7
    targets = {
        "class_mean": torch.cat([zo - zo.mean(1, keepdim=True), zn - zn.mean(1, keepdim=True)], 1),
        "batch_mean": torch.cat([zo, zn], 1) - torch.cat([zo, zn], 1).mean(0, keepdim=True),
        "none": torch.cat([zo, zn], 1),
    }
    out = {"student": enc(zs), "old": enc(zo), "new": enc(zn), "expected": {}}
    for name, target in targets.items():
        s = zs.clone().requires_grad_(True)
        loss = F.mse_loss(s, target)  # mean over batch and classes, FACIL's reduction='mean'
        grad, = torch.autograd.grad(loss, s)
        out["expected"][name] = {"loss": loss.item(), "grad_student": enc(grad)}
    return out


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "method_golden_fidelity.json")
    doc = {
        "generator": "scripts/gen_method_golden_fidelity.py",
        "torch_version": torch.__version__,
        "seed": SEED,
        "conv_reg": [
            conv_reg_case("strided_6x6_to_3x3", (6, 6), (3, 3)),
            conv_reg_case("transposed_3x3_to_6x6", (3, 3), (6, 6)),
            conv_reg_case("valid_5x4_to_3x3", (5, 4), (3, 3)),
            conv_reg_case("equal_4x4", (4, 4), (4, 4)),
            conv_reg_case("equal_4x4_no_relu", (4, 4), (4, 4), relu=False),
            conv_reg_case("pooled_teacher_3x3_to_7x7", (3, 3), (7, 7)),
        ],
        "dmc": dmc_case(),
    }
    with open(out_path, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    print("wrote %s (%d bytes)" % (out_path, os.path.getsize(out_path)))


if __name__ == "__main__":
    main()
