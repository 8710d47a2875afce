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
  okddip Online KD with Diverse Peers (DefangChen/OKDDip train_GL.py train(), resnet_GL.py
         forward, utils.py KL_Loss): the first N - 1 branches are peers, the last the leader;
         energy = bmm(q, k^T) of the peers' projections (B x P x d), attention = softmax over
         the last dim, x_m = bmm(pro, attention^T) with pro the peers' logits (B x C x P);
         CE on every branch, plus consistency_weight * (sum_i KL_Loss(z_i, x_m[:, :, i]) +
         KL_Loss(z_leader, mean of the peers)), KL_Loss = T^2 * KLDivLoss(batchmean) of
         log_softmax(z / T) against softmax(target / T) + 1e-7, the target NOT detached.
         Gradients with respect to every branch's logits, q and k.
  mcl    Multi-View Contrastive Learning OKD (winycg/MCL-OKD main_cifar_mcl_okd.py train(),
         mcl/memory.py ContrastMemory.forward, mcl/criterion.py ContrastLoss): for i < j the
         scores exp(bmm(memory_i[idx], e_j) / T) then exp(bmm(memory_j[idx], e_i) / T), each
         divided by z = mean * n_data; loss = sum of ContrastLoss over them; DistillKL(T) of the
         last branch against the detached mean of all logits; CE on every branch. Then the
         banks' rows idx[:, 0] = normalise(m * row + (1 - m) * e). Gradients with respect to
         every branch's logits and embeddings.
  student_ensemble  Online ensemble model compression (Devwalkar/BOC-KD utils/Losses.py
         Combined_Loss.student_forward): teacher = mean of the students' raw logits (fixed 1/N
         weights), detached; CE summed over the students; KL_Loss(teacher, s_j) = T^2 *
         sum_c p_t (log p_t - log_softmax(s_j / T)) / batch for every student, the widest too;
         MSELoss(widest stage map detached, adapter(narrow stage map)) summed over stages and
         narrower students. Gradients with respect to the logits and the adapted maps.
  pcl    Peer Collaborative Learning (Wu & Gong, AAAI 2021; no author code, the formulas of the
         paper as the public reproduction shaoeric/Peer-Collaborative-Learning-for-Online-
         Knowledge-Distillation writes them in src/losses/kd_loss.py and loss_wrapper.py):
         the peer ensemble teacher z_e = Linear(concat of the peers' pooled features); loss =
         CE(z_e) + sum_i [CE(z_i) + w * (KD(z_i, z_e detached) + PM_i)], KD = T^2 *
         KLDivLoss(batchmean) of log_softmax(z_i / T) against softmax(target / T), PM_i the
         mean over j != i of KD(z_i, mean teacher j's logits, detached). Gradients with
         respect to the peers' logits, their features and the ensemble head. The temporal
         mean: src/utils/ema.py update_ema_variables, alpha = min(1 - 1 / (step + 1), decay),
         ema = alpha * ema + (1 - alpha) * param after every step.
  afd    Online adversarial feature-map distillation (Chung et al., ICML 2020; no author code):
         network k's logit loss CE(z_k) + w * T^2 * KL(softmax(z_peer / T) || softmax(z_k / T)),
         batch mean, z_peer detached; LSGAN terms from discriminator scores in (0, 1):
         discriminator = mean (1 - D(real))^2 + mean D(fake)^2, generator = mean (1 - D(fake))^2.
         Gradients with respect to the logits and the scores.
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


def kl_okddip(pred, target, T=3.0):
    # utils.py KL_Loss.forward: nn.KLDivLoss(reduction='batchmean'), the target keeps its gradient.
    predict = F.log_softmax(pred / T, dim=1)
    t = F.softmax(target / T, dim=1) + 1e-7
    return T * T * ((t * (t.log() - predict)).sum(1).sum() / t.size()[0])


def okddip_case(gen, name, branches, batch, classes, dim, T, weight, scale=3.0):
    peers = branches - 1
    z = [rounded(torch.randn(batch, classes, generator=gen, dtype=torch.float64) * scale) for _ in range(branches)]
    q = rounded(torch.randn(batch, peers, dim, generator=gen, dtype=torch.float64))
    k = rounded(torch.randn(batch, peers, dim, generator=gen, dtype=torch.float64))
    y = torch.randint(0, classes, (batch,), generator=gen)
    zs = [t.clone().requires_grad_(True) for t in z]
    qs, ks = q.clone().requires_grad_(True), k.clone().requires_grad_(True)
    attention = F.softmax(torch.bmm(qs, ks.permute(0, 2, 1)), dim=-1)
    pro = torch.stack(zs[:peers], dim=2)  # B x classes x P
    x_m = torch.bmm(pro, attention.permute(0, 2, 1))
    leader = zs[peers]
    ce = sum(F.cross_entropy(zs[i], y) for i in range(peers)) + F.cross_entropy(leader, y)
    kl = sum(kl_okddip(zs[i], x_m[:, :, i], T) for i in range(peers))
    leader_kl = kl_okddip(leader, torch.mean(pro, dim=2), T)
    total = ce + weight * (kl + leader_kl)
    total.backward()
    return {"name": name, "T": T, "weight": weight, "logits": [rows(t) for t in z],
            "queries": [rows(q[b]) for b in range(batch)], "keys": [rows(k[b]) for b in range(batch)],
            "labels": [int(v) for v in y], "ce": float(ce), "kl": float(kl), "leader_kl": float(leader_kl),
            "total": float(total), "attention": [rows(attention[b].detach()) for b in range(batch)],
            "ensemble": rows(torch.mean(pro, dim=2).detach()),
            "grad_logits": [rows(t.grad) for t in zs],
            "grad_queries": [rows(qs.grad[b]) for b in range(batch)],
            "grad_keys": [rows(ks.grad[b]) for b in range(batch)]}


def contrast_loss(x, n_data):
    # mcl/criterion.py ContrastLoss.forward (RepDistiller's), eps = 1e-7.
    bsz, m = x.shape[0], x.size(1) - 1
    pn = 1 / float(n_data)
    p_pos = x.select(1, 0)
    log_d1 = torch.div(p_pos, p_pos.add(m * pn + 1e-7)).log()
    p_neg = x.narrow(1, 1, m)
    log_d0 = torch.div(p_neg.clone().fill_(m * pn), p_neg.add(m * pn + 1e-7)).log()
    return -(log_d1.sum(0) + log_d0.view(-1, 1).sum(0)) / bsz


def mcl_case(gen, name, branches, batch, classes, n_data, dim, k, T, nce_t, gamma, alpha, beta, momentum, scale=3.0):
    z = [rounded(torch.randn(batch, classes, generator=gen, dtype=torch.float64) * scale) for _ in range(branches)]
    e = [F.normalize(torch.randn(batch, dim, generator=gen, dtype=torch.float64), dim=1) for _ in range(branches)]
    e = [rounded(t) for t in e]
    mem = [rounded(F.normalize(torch.randn(n_data, dim, generator=gen, dtype=torch.float64), dim=1))
           for _ in range(branches)]
    y = torch.randint(0, classes, (batch,), generator=gen)
    anchors = torch.randperm(n_data, generator=gen)[:batch]
    idx = torch.cat([anchors.unsqueeze(1), torch.randint(0, n_data, (batch, k), generator=gen)], 1)
    zs = [t.clone().requires_grad_(True) for t in z]
    es = [t.clone().requires_grad_(True) for t in e]
    outs = []
    for i in range(branches):
        for j in range(i + 1, branches):
            w1 = torch.index_select(mem[i], 0, idx.view(-1)).detach().view(batch, k + 1, dim)
            outs.append(torch.exp(torch.div(torch.bmm(w1, es[j].view(batch, dim, 1)), nce_t)))
            w2 = torch.index_select(mem[j], 0, idx.view(-1)).detach().view(batch, k + 1, dim)
            outs.append(torch.exp(torch.div(torch.bmm(w2, es[i].view(batch, dim, 1)), nce_t)))
    outs = [o / (o.mean().clone().detach().item() * n_data) for o in outs]
    contrast = sum(contrast_loss(o.squeeze(2), n_data) for o in outs)
    ce = sum(F.cross_entropy(t, y) for t in zs)
    ensemble = (sum(zs) / branches).detach()
    kl = F.kl_div(F.log_softmax(zs[-1] / T, dim=1), F.softmax(ensemble / T, dim=1), reduction="batchmean") * T * T
    total = gamma * ce + alpha * kl + beta * contrast
    total.backward()
    updated = []
    for i in range(branches):
        pos = torch.index_select(mem[i], 0, anchors) * momentum + e[i] * (1 - momentum)
        updated.append(rows(pos / pos.pow(2).sum(1, keepdim=True).pow(0.5)))
    return {"name": name, "T": T, "nce_t": nce_t, "n_data": n_data, "gamma": gamma, "alpha": alpha, "beta": beta,
            "momentum": momentum, "logits": [rows(t) for t in z], "embeddings": [rows(t) for t in e],
            "memories": [rows(t) for t in mem], "idx": [[int(v) for v in r] for r in idx],
            "labels": [int(v) for v in y], "ce": float(ce), "kl": float(kl), "contrast": float(contrast),
            "total": float(total), "scores": [rows(o.squeeze(2).detach()) for o in outs],
            "grad_logits": [rows(t.grad) for t in zs], "grad_embeddings": [rows(t.grad) for t in es],
            "updated_rows": updated}


def ensemble_case(gen, name, students, stages, batch, classes, T, a, scale=3.0):
    z = [rounded(torch.randn(batch, classes, generator=gen, dtype=torch.float64) * scale) for _ in range(students)]
    shapes = [(batch, 4, 4, 4), (batch, 6, 2, 2), (batch, 8, 1, 1)][:stages]
    widest = [rounded(torch.randn(*sh, generator=gen, dtype=torch.float64)) for sh in shapes]
    adapted = [[rounded(torch.randn(*sh, generator=gen, dtype=torch.float64)) for _ in range(students - 1)]
               for sh in shapes]
    y = torch.randint(0, classes, (batch,), generator=gen)
    zs = [t.clone().requires_grad_(True) for t in z]
    ws = [t.clone().requires_grad_(True) for t in widest]
    ads = [[t.clone().requires_grad_(True) for t in row] for row in adapted]
    teacher = (sum(zs) / students).detach()
    p_t = F.softmax(teacher / T, dim=1)
    ce = sum(F.cross_entropy(t, y) for t in zs)
    kd = sum(T * T * (p_t * (p_t.log() - F.log_softmax(t / T, dim=1))).sum() / batch for t in zs)
    feat = sum(F.mse_loss(a_, ws[k].detach()) for k in range(stages) for a_ in ads[k])
    total = a[0] * ce + a[1] * feat + a[2] * kd
    total.backward()
    return {"name": name, "T": T, "weights": a, "logits": [rows(t) for t in z],
            "widest": [t.reshape(batch, -1).tolist() for t in widest], "shapes": [list(sh) for sh in shapes],
            "adapted": [[t.reshape(batch, -1).tolist() for t in row] for row in adapted],
            "labels": [int(v) for v in y], "ce": float(ce), "kd": float(kd), "feat": float(feat),
            "total": float(total), "ensemble": rows(teacher),
            "grad_logits": [rows(t.grad) for t in zs],
            "grad_adapted": [[t.grad.reshape(batch, -1).tolist() for t in row] for row in ads]}


def kd_pcl(pred, target, T):
    # src/losses/kd_loss.py KDLoss: KLDivLoss(batchmean)(log_softmax(pred / T), softmax(target / T)) * T^2
    p = F.softmax(target / T, dim=1)
    return T * T * (p * (p.log() - F.log_softmax(pred / T, dim=1))).sum() / pred.size(0)


def pcl_case(gen, name, peers, batch, classes, dim, T, weight, decay, scale=3.0):
    z = [rounded(torch.randn(batch, classes, generator=gen, dtype=torch.float64) * scale) for _ in range(peers)]
    mean = [rounded(torch.randn(batch, classes, generator=gen, dtype=torch.float64) * scale) for _ in range(peers)]
    feats = [rounded(torch.randn(batch, dim, generator=gen, dtype=torch.float64)) for _ in range(peers)]
    w = rounded(torch.randn(classes, peers * dim, generator=gen, dtype=torch.float64) * 0.3)
    b = rounded(torch.randn(classes, generator=gen, dtype=torch.float64) * 0.1)
    y = torch.randint(0, classes, (batch,), generator=gen)
    zs = [t.clone().requires_grad_(True) for t in z]
    fs = [t.clone().requires_grad_(True) for t in feats]
    ws, bs = w.clone().requires_grad_(True), b.clone().requires_grad_(True)
    en = F.linear(torch.cat(fs, dim=1), ws, bs)
    ensemble_ce = F.cross_entropy(en, y)
    ce = sum(F.cross_entropy(t, y) for t in zs)
    pe = sum(kd_pcl(t, en.detach(), T) for t in zs)
    pm = sum(sum(kd_pcl(zs[i], mean[j].detach(), T) for j in range(peers) if j != i) / (peers - 1)
             for i in range(peers))
    total = ensemble_ce + ce + weight * (pe + pm)
    total.backward()
    # The temporal mean over a few steps (update_ema_variables), from step 0.
    params = [rounded(torch.randn(4, generator=gen, dtype=torch.float64)) for _ in range(4)]
    ema = rounded(torch.randn(4, generator=gen, dtype=torch.float64))
    start = [float(v) for v in ema]
    for step, p in enumerate(params):
        alpha = min(1 - 1 / (step + 1), decay)
        ema = alpha * ema + (1 - alpha) * p
    return {"name": name, "T": T, "weight": weight, "logits": [rows(t) for t in z],
            "mean_logits": [rows(t) for t in mean], "features": [rows(t) for t in feats],
            "head_weight": rows(w), "head_bias": [float(v) for v in b], "labels": [int(v) for v in y],
            "ensemble": rows(en.detach()), "ensemble_ce": float(ensemble_ce), "ce": float(ce), "pe": float(pe),
            "pm": float(pm), "total": float(total), "grad_logits": [rows(t.grad) for t in zs],
            "grad_features": [rows(t.grad) for t in fs], "grad_head_weight": rows(ws.grad),
            "grad_head_bias": [float(v) for v in bs.grad],
            "ema_decay": decay, "ema_steps": [[float(v) for v in p] for p in params],
            "ema_start": start,
            "ema_result": [float(v) for v in ema]}


def afd_case(gen, name, batch, classes, T, weight, scale=3.0):
    z = rounded(torch.randn(batch, classes, generator=gen, dtype=torch.float64) * scale)
    peer = rounded(torch.randn(batch, classes, generator=gen, dtype=torch.float64) * scale)
    y = torch.randint(0, classes, (batch,), generator=gen)
    real = rounded(torch.sigmoid(torch.randn(batch, generator=gen, dtype=torch.float64) * 2))
    fake = rounded(torch.sigmoid(torch.randn(batch, generator=gen, dtype=torch.float64) * 2))
    zs, ps = z.clone().requires_grad_(True), peer.clone().requires_grad_(True)
    ce = F.cross_entropy(zs, y)
    q = F.softmax(ps.detach() / T, dim=1)
    kl = T * T * (q * (q.log() - F.log_softmax(zs / T, dim=1))).sum() / batch
    total = ce + weight * kl
    total.backward()
    rs, fs = real.clone().requires_grad_(True), fake.clone().requires_grad_(True)
    d_loss = ((1 - rs) ** 2).mean() + (fs ** 2).mean()
    d_loss.backward()
    fg = fake.clone().requires_grad_(True)
    g_loss = ((1 - fg) ** 2).mean()
    g_loss.backward()
    return {"name": name, "T": T, "weight": weight, "logits": rows(z), "peer_logits": rows(peer),
            "labels": [int(v) for v in y], "ce": float(ce), "kl": float(kl), "total": float(total),
            "grad_logits": rows(zs.grad), "real_scores": [float(v) for v in real],
            "fake_scores": [float(v) for v in fake], "discriminator": float(d_loss), "generator": float(g_loss),
            "grad_real": [float(v) for v in rs.grad], "grad_fake_d": [float(v) for v in fs.grad],
            "grad_fake_g": [float(v) for v in fg.grad]}


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
    gen_okddip = torch.Generator().manual_seed(SEED + 3)
    gen_mcl = torch.Generator().manual_seed(SEED + 4)
    gen_ens = torch.Generator().manual_seed(SEED + 5)
    gen_pcl = torch.Generator().manual_seed(SEED + 6)
    gen_afd = torch.Generator().manual_seed(SEED + 7)
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
            "okddip": {
                "source": "DefangChen/OKDDip train_GL.py (4 branches of resnet_GL after layer2, the last the "
                          "group leader; consistency rampup length 80 of 300 epochs, KL_Loss T = 3, alpha 1; "
                          "query/key Linear(64, 64 // 8))",
                "temperature": 3.0,
                "weight": 1.0,
                "branches": 4,
                "split": "stage2",
                "rampup_fraction": 80.0 / 300.0,
                "projection_factor": 8,
                "deploy_branch": 0,
            },
            "afd": {
                "source": "Chung, Park, Kim & Kwak, Feature-map-level Online Adversarial Knowledge Distillation "
                          "(ICML 2020); no author code, the paper's text not at hand: our stated choices "
                          "(docs/METHODS.md)",
                "temperature": 3.0,
                "weight": 1.0,
                "adversarial_weight": 1.0,
                "adversarial_lr": 2e-5,
                "adversarial_weight_decay": 0.1,
            },
            "pcl": {
                "source": "Wu & Gong, Peer Collaborative Learning for Online Knowledge Distillation (AAAI 2021), "
                          "as the reproduction shaoeric/Peer-Collaborative-Learning-for-Online-Knowledge-"
                          "Distillation configures it for CIFAR: 3 peers of resnet after layer2, KDLoss and PMLoss "
                          "T = 3, weights 1, ramp-up over 80 of 300 epochs (the paper's, not the reproduction's "
                          "compute_rampup_weight, which divides by lambd = 1 instead of 80), EMA decay 0.999, "
                          "the temporal mean of peer 1 deployed",
                "temperature": 3.0,
                "weight": 1.0,
                "ema_decay": 0.999,
                "branches": 3,
                "split": "stage2",
                "rampup_fraction": 80.0 / 300.0,
                "deploy_branch": 1,
            },
            "student_ensemble": {
                "source": "Devwalkar/BOC-KD configs/Cifar100_exp (ResNet32/44/56/110: 5 students, only the stem "
                          "shared, widths int(c * (N - j) / N), T = 2, contribution ratios [0.7, 0.15, 0.15])",
                "temperature": 2.0,
                "ce_weight": 0.7,
                "feature_weight": 0.15,
                "kd_weight": 0.15,
                "branches": 5,
                "split": "stem",
                "rampup_fraction": 0.0,
                "deploy_branch": 0,
            },
            "mcl": {
                "source": "winycg/MCL-OKD main_cifar_mcl_okd.py (4 branches of mcl_okd_resnet after layer1; "
                          "--kd_T 3, --gamma 1, --alpha 1, --beta 0.025, --feat-dim 128, --nce_k 16384, --nce_t 0.1, "
                          "--nce_m 0.5; no ramp-up)",
                "temperature": 3.0,
                "ce_weight": 1.0,
                "weight": 1.0,
                "beta": 0.025,
                "feat_dim": 128,
                "nce_k": 16384,
                "nce_t": 0.1,
                "nce_momentum": 0.5,
                "branches": 4,
                "split": "stage1",
                "rampup_fraction": 0.0,
                "deploy_branch": 0,
            },
        },
        "okddip_cases": [
            okddip_case(gen_okddip, "three peers and a leader (the authors'), full weight", 4, 5, 10, 8, 3.0, 1.0),
            okddip_case(gen_okddip, "two peers and a leader, ramping weight", 3, 4, 7, 4, 3.0, 0.4),
            okddip_case(gen_okddip, "four peers, T 1, large logits", 5, 3, 5, 2, 1.0, 1.0, scale=10.0),
        ],
        "mcl_cases": [
            mcl_case(gen_mcl, "four branches (the authors'), their weights", 4, 5, 10, 24, 6, 7, 3.0, 0.1, 1.0, 1.0,
                     0.025, 0.5),
            mcl_case(gen_mcl, "two branches, strong contrast", 2, 4, 7, 16, 4, 5, 3.0, 0.1, 1.0, 0.5, 1.0, 0.5),
            mcl_case(gen_mcl, "three branches, T 1, nce_t 0.5, large logits", 3, 3, 5, 12, 3, 4, 1.0, 0.5, 0.5, 1.0,
                     0.2, 0.9, scale=10.0),
        ],
        "afd_cases": [
            afd_case(gen_afd, "T 3, weight 1", 6, 10, 3.0, 1.0),
            afd_case(gen_afd, "T 1, weight 0.5", 5, 7, 1.0, 0.5),
            afd_case(gen_afd, "T 4, large logits", 4, 5, 4.0, 1.0, scale=10.0),
        ],
        "pcl_cases": [
            pcl_case(gen_pcl, "three peers (the paper's), full weight", 3, 5, 10, 6, 3.0, 1.0, 0.999),
            pcl_case(gen_pcl, "two peers, ramping weight, decay 0.5", 2, 4, 7, 4, 3.0, 0.3, 0.5),
            pcl_case(gen_pcl, "four peers, T 1, large logits", 4, 3, 5, 3, 1.0, 1.0, 0.9, scale=10.0),
        ],
        "student_ensemble_cases": [
            ensemble_case(gen_ens, "five students (the authors'), their CIFAR-100 weights", 5, 3, 4, 10, 2.0,
                          [0.7, 0.15, 0.15]),
            ensemble_case(gen_ens, "two students, T 3, weights 1", 2, 3, 3, 7, 3.0, [1.0, 1.0, 1.0]),
            ensemble_case(gen_ens, "three students, one stage, large logits", 3, 1, 3, 5, 2.0, [0.4, 0.3, 0.3],
                          scale=10.0),
        ],
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
