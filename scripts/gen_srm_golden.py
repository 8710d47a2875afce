#!/usr/bin/python3
"""Generates tests/data/srm_golden.json: golden values for the method `srm`.

tests/test_srm.cpp checks the engine's pure pieces (engine/methods/SrmCodebook.h) and the
whole method (engine/methods/SrmMethod.cpp, its three phases) against these values. The
formulas are re-stated here from the authors' code, viebboy/SRM (Tran, Gabbouj & Iosifidis,
"Knowledge Distillation by Sparse Representation Matching"):

- cifar100/code/Layers.py: `hyperbolic` (sigmoid(x . centers + intercept) at every position),
  `SparseRep` (keep the similarities >= the k-th largest, reconstruct with the centers),
  `GlobalLocalLabel` (image labels: mean over positions of the sparse similarities; pixel
  labels: the argmax codeword), `GlobalLocalPred` (the student's similarities and their mean);
  centers [C, K] from kaiming_uniform_, intercept from U(-1, 1).
- cifar100/code/DenseNet.py: K = int(C * codeword_multiplier),
  k = int(C * (sparsity_multiplier * codeword_multiplier)), at least 1.
- cifar100/code/Utility.py: `codeword_epoch_trainer` (sum over stages of MSELoss(feature,
  reconstruction), Adam on the codewords only, no weight decay), `srm_init_epoch_trainer`
  (sum over stages of BCELoss(global pred, global label) + CrossEntropyLoss(local pred, local
  label)), `KD_loss` (KLDivLoss batchmean * alpha * T^2 + (1 - alpha) * CE).
- cifar100/code/exp_configurations.py: the defaults (codeword_multiplier 2.0, sparsity 0.02,
  global-local, CLUSTER 10+60+30, INIT 30+100+30, KD 30+100+70 epochs, lr 1e-3/1e-4/1e-5).

The pieces are float64 with inputs rounded to 4 decimals (so the stored inputs are exactly
those the expected values were computed from). The whole-method case is float32, as the
engine trains: its codewords and heads are drawn from torch.manual_seed(SEED) in the order
the engine's setup draws them (per stage pair: the teacher dictionary's centers, its
intercept, the student head's centers, its intercept), which checks the initialisation too.
Tensors are stored as {"shape": [...], "data": [flat, row-major]}.

Regenerate with Debian's python3-torch (the LibTorch 1.13 the engine links):

    /usr/bin/python3 scripts/gen_srm_golden.py          # writes tests/data/srm_golden.json
    /usr/bin/python3 scripts/gen_srm_golden.py OUT.json

The output is deterministic (fixed seeds); rerunning it must not change the checked-in file.
"""

import json
import os
import sys

import torch
import torch.nn.functional as F


def t2j(t):
    t = t.detach()
    return {"shape": list(t.shape), "data": [float(v) for v in t.flatten().tolist()]}


def rounded(t):
    return torch.round(t * 1e4) / 1e4


# --- the authors' pieces, restated -----------------------------------------------------------

def codeword_count(channels, codeword_multiplier):
    return max(1, int(channels * codeword_multiplier))


def sparsity(channels, codeword_multiplier, sparsity_multiplier):
    return max(1, int(channels * (sparsity_multiplier * codeword_multiplier)))


def similarity(x, centers, intercept):
    # N x C x H x W -> N x W x H x C, linear, -> N x H x W x K (Layers.py `hyperbolic`)
    x = x.transpose(1, -1)
    s = torch.sigmoid(F.linear(x, centers.transpose(0, 1)) + intercept)
    return s.transpose(1, 2)


def sparsify(s, k):
    coef, _ = torch.topk(s, k, dim=-1)
    return s * (s >= coef[:, :, :, -1].unsqueeze(-1)).to(s.dtype)


def reconstruct(sparse, centers):
    x = F.linear(sparse, centers)  # N x H x W x C
    x = x.unsqueeze(1).transpose(1, -1)
    return x.reshape(x.size(0), x.size(1), x.size(2), x.size(3))


def reconstruction_loss(x, centers, intercept, k):
    return F.mse_loss(x, reconstruct(sparsify(similarity(x, centers, intercept), k), centers))


def labels(sparse):
    image = sparse.mean(dim=(1, 2))
    pixel = torch.argmax(sparse.transpose(2, 3).transpose(1, 2), dim=1)
    return image, pixel


def image_loss(student_sim, image_labels):
    return F.binary_cross_entropy(student_sim.mean(dim=(1, 2)), image_labels)


def pixel_loss(student_sim, pixel_labels):
    return F.cross_entropy(student_sim.transpose(2, 3).transpose(1, 2), pixel_labels)


def kd_loss(s_logits, t_logits, labels_, alpha, T):
    kl = torch.nn.KLDivLoss(reduction="batchmean")(F.log_softmax(s_logits / T, dim=1), F.softmax(t_logits / T, dim=1))
    ce = F.cross_entropy(s_logits, labels_)
    return ce, kl * T * T, kl * (alpha * T * T) + ce * (1.0 - alpha)


def codewords(channels, k):
    centers = torch.empty(channels, k)
    torch.nn.init.kaiming_uniform_(centers)
    intercept = torch.empty(1)
    torch.nn.init.uniform_(intercept, -1.0, 1.0)
    return centers, intercept


# --- cases ---------------------------------------------------------------------------------

def pieces_case():
    g = torch.Generator().manual_seed(11)
    d = torch.float64
    feature = rounded(torch.randn(2, 3, 2, 3, generator=g, dtype=d))
    centers = rounded(torch.randn(3, 5, generator=g, dtype=d))
    intercept = rounded(torch.randn(1, generator=g, dtype=d))
    k = 2
    student = rounded(torch.randn(2, 4, 2, 3, generator=g, dtype=d))
    head_centers = rounded(torch.randn(4, 5, generator=g, dtype=d))
    head_intercept = rounded(torch.randn(1, generator=g, dtype=d))

    sim = similarity(feature, centers, intercept)
    sparse = sparsify(sim, k)
    recon = reconstruct(sparse, centers)
    image, pixel = labels(sparse)
    pred = similarity(student, head_centers, head_intercept)
    # Ties at the k-th value are kept (>=), as the authors' mask does.
    ties = torch.tensor([[[[0.9, 0.5, 0.5, 0.1]]]], dtype=d)
    vector = rounded(torch.randn(2, 3, generator=g, dtype=d))
    return {
        "feature": t2j(feature), "centers": t2j(centers), "intercept": t2j(intercept), "k": k,
        "student": t2j(student), "head_centers": t2j(head_centers), "head_intercept": t2j(head_intercept),
        "similarity": t2j(sim), "sparse": t2j(sparse), "reconstruction": t2j(recon),
        "reconstruction_loss": float(reconstruction_loss(feature, centers, intercept, k)),
        "image_labels": t2j(image), "pixel_labels": [int(v) for v in pixel.flatten().tolist()],
        "pixel_labels_shape": list(pixel.shape),
        "student_similarity": t2j(pred),
        "image_loss": float(image_loss(pred, image)), "pixel_loss": float(pixel_loss(pred, pixel)),
        "ties": t2j(ties), "ties_sparse_k2": t2j(sparsify(ties, 2)),
        "vector": t2j(vector),
        "vector_similarity": t2j(similarity(vector.unsqueeze(2).unsqueeze(3), centers, intercept)),
    }


def sizes_case():
    rows = []
    # The authors' DenseNet-121 stages (128, 256, 1024 channels) at their CIFAR grid, and small
    # stages where k rounds down to 0 and becomes 1.
    for c in (128, 256, 1024, 16, 64):
        for cm in (1.5, 2.0, 3.0, 4.0):
            for sm in (0.01, 0.02, 0.03):
                rows.append({"channels": c, "codeword_multiplier": cm, "sparsity_multiplier": sm,
                             "codewords": codeword_count(c, cm), "k": sparsity(c, cm, sm)})
    return rows


def phase_plan(d_ep, i_ep, k_ep, total_steps):
    """The engine's rule (SrmCodebook planPhases): each phase's share of the steps, rounded
    cumulatively; a phase with epochs keeps at least one step."""
    w = [d_ep, i_ep, k_ep]
    s = float(sum(w))
    l0 = int(round_half_away(total_steps * w[0] / s))
    l1 = int(round_half_away(total_steps * (w[0] + w[1]) / s)) - l0
    lens = [l0, l1, total_steps - l0 - l1]
    if total_steps >= sum(1 for v in w if v > 0):
        for j in range(3):
            if w[j] > 0 and lens[j] == 0:
                longest = max(range(3), key=lambda i: (lens[i], -i))
                lens[longest] -= 1
                lens[j] = 1
    return lens[0], lens[0] + lens[1]


def round_half_away(x):
    import math
    return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)


def plans_case():
    rows = []
    for (d, i, k, epochs, steps) in [(100, 160, 200, 460, 4600), (100, 160, 200, 5, 2340), (100, 160, 200, 2, 6),
                                     (100, 160, 200, 1, 3), (1, 1, 1, 3, 6), (0, 0, 200, 4, 40), (3, 1, 0, 4, 8)]:
        de, ie = phase_plan(d, i, k, steps)
        rows.append({"dictionary_epochs": d, "init_epochs": i, "kd_epochs": k, "epochs": epochs, "steps": steps,
                     "dictionary_end": de, "init_end": ie, "scaled": epochs != d + i + k})
    return rows


SEED = 1234


def method_case():
    """The whole method through its three phases, 2 steps each (1+1+1 epochs of 2 steps)."""
    params = {"student_features": "stage1,stage2", "teacher_features": "stage1,stage2",
              "codeword_multiplier": 2.0, "sparsity_multiplier": 0.34, "target": "global-local",
              "dictionary_epochs": 1, "init_epochs": 1, "kd_epochs": 1, "dictionary_lr": 0.05,
              "alpha": 0.25, "temperature": 2.0}
    student_shapes = {"stage1": [4, 4, 4], "stage2": [6, 2, 2]}
    teacher_shapes = {"stage1": [3, 4, 4], "stage2": [5, 2, 2]}
    pairs = [("stage1", "stage1"), ("stage2", "stage2")]
    cm, sm = params["codeword_multiplier"], params["sparsity_multiplier"]

    torch.manual_seed(SEED)
    dictionary, heads, ks = [], [], []
    for s_name, t_name in pairs:
        ct = teacher_shapes[t_name][0]
        kk = codeword_count(ct, cm)
        ks.append(sparsity(ct, cm, sm))
        dictionary.append(codewords(ct, kk))
        heads.append(codewords(student_shapes[s_name][0], kk))
    initial_dictionary = [(c.clone(), i.clone()) for c, i in dictionary]
    initial_heads = [(c.clone(), i.clone()) for c, i in heads]

    g = torch.Generator().manual_seed(5)
    n, classes, steps = 3, 4, 6
    batches = []
    for step in range(steps):
        b = {"student": {name: rounded(torch.randn(n, *shape, generator=g)) for name, shape in student_shapes.items()},
             "teacher": {name: rounded(torch.randn(n, *shape, generator=g)) for name, shape in teacher_shapes.items()}}
        b["student"]["logits"] = rounded(torch.randn(n, classes, generator=g))
        b["teacher"]["logits"] = rounded(torch.randn(n, classes, generator=g))
        b["labels"] = torch.randint(0, classes, (n,), generator=g)
        batches.append(b)

    # Phase 1: Adam on the codewords only; the lr is the phase's schedule (x1 before 10 %,
    # x0.1 before 70 %, x0.01 after) at fraction step / phase_steps.
    dict_params = [p for pair in dictionary for p in pair]
    for p in dict_params:
        p.requires_grad_(True)
    opt = torch.optim.Adam(dict_params, lr=params["dictionary_lr"], weight_decay=0.0)
    phase_steps = 2
    expected = []
    for step in range(0, 2):
        f = step / phase_steps
        lr = params["dictionary_lr"] * (1.0 if f < 0.1 else 0.1 if f < 0.7 else 0.01)
        for group in opt.param_groups:
            group["lr"] = lr
        b = batches[step]
        loss = sum(reconstruction_loss(b["teacher"][t], c, i, k) for (_, t), (c, i), k in zip(pairs, dictionary, ks))
        opt.zero_grad()
        loss.backward()
        opt.step()
        expected.append({"total": float(loss), "ce": 0.0, "kd": 0.0, "srm_dict": float(loss),
                         "srm_image": 0.0, "srm_pixel": 0.0})
    # Phase 2: labels from the learned dictionary, the student's heads predict them.
    for step in range(2, 4):
        b = batches[step]
        image, pixel = 0.0, 0.0
        with torch.no_grad():
            sparse = [sparsify(similarity(b["teacher"][t], c, i), k) for (_, t), (c, i), k in zip(pairs, dictionary, ks)]
        for (s, _), (hc, hi), sp in zip(pairs, heads, sparse):
            pred = similarity(b["student"][s], hc, hi)
            il, pl = labels(sp)
            image = image + image_loss(pred, il)
            pixel = pixel + pixel_loss(pred, pl)
        expected.append({"total": float(image + pixel), "ce": 0.0, "kd": 0.0, "srm_dict": 0.0,
                         "srm_image": float(image), "srm_pixel": float(pixel)})
    # Phase 3: KD on the logits.
    for step in range(4, 6):
        b = batches[step]
        ce, kd, total = kd_loss(b["student"]["logits"], b["teacher"]["logits"], b["labels"], params["alpha"],
                                params["temperature"])
        expected.append({"total": float(total), "ce": float(ce), "kd": float(kd), "srm_dict": 0.0,
                         "srm_image": 0.0, "srm_pixel": 0.0})

    def features(d):
        return {name: t2j(t) for name, t in d.items()}

    return {
        "params": params, "seed": SEED, "epochs": 3, "total_steps": steps,
        "student_shapes": student_shapes, "teacher_shapes": teacher_shapes,
        "codewords": [codeword_count(teacher_shapes[t][0], cm) for _, t in pairs], "k": ks,
        "initial": {"dictionary": [{"centers": t2j(c), "intercept": t2j(i)} for c, i in initial_dictionary],
                    "heads": [{"centers": t2j(c), "intercept": t2j(i)} for c, i in initial_heads]},
        "batches": [{"student": features(b["student"]), "teacher": features(b["teacher"]),
                     "labels": [int(v) for v in b["labels"].tolist()]} for b in batches],
        "expected": expected,
    }


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "data",
                                                            "srm_golden.json")
    torch.set_num_threads(1)
    golden = {"pieces": pieces_case(), "sizes": sizes_case(), "plans": plans_case(), "method": method_case()}
    with open(out, "w") as f:
        json.dump(golden, f, indent=1)
        f.write("\n")
    print("wrote", os.path.normpath(out))


if __name__ == "__main__":
    main()
