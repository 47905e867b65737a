#!/usr/bin/python3
"""A Gaussian-process ModelP against ml2's boosted one, offline, on Kernel Tuner caches.

Kernel Tuner's Bayesian optimisation models these spaces with a Gaussian process. This script
asks whether that model class would find a space's optimum in fewer trials than ml2's boosted
ModelP, in a simplified tuning loop that is the same for both: a first round of 16 random
configurations, then rounds of 16, each the untried configurations the model ranks best among
those a validity classifier (boosted, threshold 0.2, as ModelV) does not reject. It prints, per
space and seed, the trial at which the optimum was measured (None: not within the budget).

Models (the first argument):
  xgb      ModelP's booster (AutoTVM's parameters, 100 rounds, bagged ensemble of 5 on 70 %
           subsamples, throughput label), ranked by its mean
  gp_mean  a GP on log-latency: Matern 5/2, isotropic, knob features log2-scaled to [0, 1],
           length scale and noise chosen by marginal likelihood on a grid; ranked by its mean
  gp_ei    the same GP, ranked by expected improvement over the best measured

It needs Debian's python3-numpy and python3-xgboost; the build and the tests do not use it.
Example (docs/experiments.md (36)):

  scripts/analysis/gp_proxy.py gp_ei --seeds 10
"""
import argparse
import glob
import math
import os
import sys

import numpy as np
import xgboost as xgb

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rank_proxy import load_cache  # noqa: E402


def scaled_features(x):
    cols = []
    for j in range(x.shape[1]):
        v = x[:, j]
        if len(set(v)) > 2 and v.min() > 0:
            v = np.log2(v)
        lo, hi = v.min(), v.max()
        cols.append((v - lo) / (hi - lo) if hi > lo else v * 0)
    return np.array(cols).T


def matern52(a, b, length):
    d = np.sqrt(np.maximum(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1), 0)) / length
    s = math.sqrt(5) * d
    return (1 + s + s * s / 3) * np.exp(-s)


def gp_predict(x_train, y, x_all):
    mu, sd = y.mean(), y.std() + 1e-9
    yn = (y - mu) / sd
    best = None
    for length in (0.1, 0.2, 0.3, 0.5, 0.8, 1.2, 2.0):
        for noise in (1e-3, 1e-2, 1e-1):
            k = matern52(x_train, x_train, length) + noise * np.eye(len(x_train))
            try:
                chol = np.linalg.cholesky(k)
            except np.linalg.LinAlgError:
                continue
            alpha = np.linalg.solve(chol.T, np.linalg.solve(chol, yn))
            evidence = -0.5 * yn @ alpha - np.log(np.diag(chol)).sum()
            if best is None or evidence > best[0]:
                best = (evidence, length, chol, alpha)
    _, length, chol, alpha = best
    ks = matern52(x_all, x_train, length)
    v = np.linalg.solve(chol, ks.T)
    var = np.maximum(1 - (v * v).sum(0), 1e-12)
    return ks @ alpha * sd + mu, np.sqrt(var) * sd


def expected_improvement(mean, std, best):  # of a minimised log-latency
    z = (best - mean) / std
    cdf = 0.5 * (1 + np.vectorize(math.erf)(z / math.sqrt(2)))
    pdf = np.exp(-z * z / 2) / math.sqrt(2 * math.pi)
    return (best - mean) * cdf + std * pdf


def booster(params, x, y, rounds):
    return xgb.train(dict(params, nthread=1), xgb.DMatrix(x, label=y), rounds)


def scores(model, f, ran, latency, untried):
    """Lower is better."""
    if model == "xgb":
        members = [booster(dict(max_depth=3, eta=0.3, gamma=1e-4, objective="reg:squarederror",
                                seed=m, subsample=0.7), f[ran],
                           latency[ran].min() / latency[ran], 100).predict(xgb.DMatrix(f[untried]))
                   for m in range(5)]
        return -np.mean(members, 0)
    y = np.log(latency[ran])
    mean, std = gp_predict(f[ran], y, f[untried])
    return mean if model == "gp_mean" else -expected_improvement(mean, std, y.min())


def trial_of_optimum(space, seed, model, batch, budget):
    x, latency = load_cache(space)
    f = scaled_features(x)
    n, optimum = len(latency), latency.min()
    order = [int(i) for i in np.random.default_rng(seed).permutation(n)[:batch]]
    while len(order) < budget and not any(latency[i] <= optimum * (1 + 1e-9) for i in order):
        tried = set(order)
        ran = [i for i in order if np.isfinite(latency[i])]
        untried = np.array([i for i in range(n) if i not in tried])
        if len(ran) < 2:  # nothing to learn from yet: another random round
            order += [int(i) for i in np.random.default_rng(seed + len(order)).permutation(
                untried)[:batch]]
            continue
        s = scores(model, f, ran, latency, untried)
        valid = np.array([np.isfinite(latency[i]) for i in order], float)
        if valid.min() < 1:
            p = booster(dict(max_depth=3, eta=0.3, objective="binary:logistic", seed=0),
                        f[order], valid, 50).predict(xgb.DMatrix(f[untried]))
            s = np.where(p < 0.2, np.inf, s)
        order += [int(i) for i in untried[np.argsort(s, kind="stable")[:batch]]]
    hits = [t for t, i in enumerate(order[:budget], 1) if latency[i] <= optimum * (1 + 1e-9)]
    return hits[0] if hits else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", choices=["xgb", "gp_mean", "gp_ei"])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--budget", type=int, default=400)
    ap.add_argument("--spaces", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)),
        "../../../shared/data/spaces/kerneltuner/convolution/*.json.gz"))
    a = ap.parse_args()
    found = []
    for space in sorted(glob.glob(a.spaces)):
        trials = [trial_of_optimum(space, s, a.model, a.batch, a.budget)
                  for s in range(1, a.seeds + 1)]
        found += trials
        print(os.path.basename(space), trials, flush=True)
    print(f"{a.model}: mean trial of the optimum {np.mean([t or a.budget for t in found]):.1f} "
          f"(not found within {a.budget}: {sum(t is None for t in found)} of {len(found)})")


if __name__ == "__main__":
    main()
