#!/usr/bin/python3
"""Golden values for tests/test_analysis_reader.cpp (kd::softTargets): softmax at T, entropy and
the KD term T^2 * KL(p_t || p_s), computed with torch's own softmax / kl_div (the reference
formulas Hinton et al. 2015 use), printed as C++ initialisers."""
import torch
import torch.nn.functional as F

cases = [
    ([1.0, 2.0, 3.0], [3.0, 1.0, 0.5], 1.0),
    ([2.5, -1.0, 0.3, 4.0], [1.0, 0.0, 0.2, 2.0], 4.0),
    ([10.0, -3.0, 0.0, 1.0, 2.0], [0.5, 0.4, 0.3, 0.2, 0.1], 20.0),
]
torch.set_default_dtype(torch.float64)
for t_logits, s_logits, T in cases:
    t = torch.tensor(t_logits) / T
    s = torch.tensor(s_logits) / T
    pt, ps = F.softmax(t, 0), F.softmax(s, 0)
    ht = -(pt * pt.log()).sum().item()
    hs = -(ps * ps.log()).sum().item()
    kl = F.kl_div(F.log_softmax(s, 0), F.log_softmax(t, 0), reduction="sum", log_target=True).item()
    print("{%s, %s, %r, {%s}, {%s}, %.17g, %.17g, %.17g}," % (
        "{" + ", ".join(repr(x) for x in t_logits) + "}",
        "{" + ", ".join(repr(x) for x in s_logits) + "}", T,
        ", ".join("%.17g" % x for x in pt.tolist()), ", ".join("%.17g" % x for x in ps.tolist()),
        ht, hs, T * T * kl))
