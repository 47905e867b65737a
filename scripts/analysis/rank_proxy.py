#!/usr/bin/python3
"""Where ModelP ranks the optimum before ml2 has found it, for ModelP variants (offline).

For every ml2 run of a bench on Kernel Tuner caches, and for each of the first rounds before the
run measured the optimum, this trains a ModelP variant on what the run had measured by then
(successful runs only, as ml2's ModelP) and ranks every valid configuration the run had not yet
tried. It reports, over those rounds, the mean log10(1 + rank of the optimum) and the share of
rounds in which the optimum was among the top 16 (one round of ml2 on these targets) and the
top 64. The default variant is ml2's ModelP (AutoTVM's booster parameters, 100 rounds, a bagged
ensemble of 5 on 70 % subsamples, the throughput label); every option changes one thing.

It needs Debian's python3-numpy and python3-xgboost (the same XGBoost 1.7 as libxgboost-dev);
the project's build and tests do not use it. Example (docs/experiments.md (34)):

  build/ml2tuner bench --suite '../shared/data/spaces/kerneltuner/convolution/*.json.gz' \
      --tuners xgb,ml2 --trials 1000 --seeds 10 --jobs 2 --out /tmp/gpu
  scripts/analysis/rank_proxy.py /tmp/gpu label=log_latency features=pairs depth=2

With --fit-all, the variant is instead trained on every valid configuration of each space the
bench tuned, and the rank of that space's optimum among them is printed: how well the model
class can place the optimum at all. With --clustering it prints, per space, the share of the
runs before the optimum was measured (after the first round) that had a one-knob neighbour among
the runs of their own round, and the share whose neighbour differed in the last knob only
(use_padding in Kernel Tuner's convolution). With --transfer it trains on every valid
configuration of the kernel's other recordings (other GPUs; each normalised by its own best) and
prints where that model ranks the optimum of each space: what a history from other devices, as
AutoTVM's transfer learning uses, would know before the first run.
"""
import argparse
import glob
import gzip
import itertools
import json
import os
import sqlite3
import sys

import numpy as np
import xgboost as xgb

DEFAULTS = dict(label="throughput", features="knobs", depth=3, eta=0.3, rounds=100, ensemble=5,
                subsample=0.7, min_child_weight=1.0, kappa=0.0, top_model=0.0, seed=0,
                region_k=0, region_d=2, first_rounds=5)
HELP = {
    "label": "throughput (best / latency, ml2's default on these targets) or log_latency",
    "features": "knobs; pairs (+ log of the product of every two numeric knobs); "
                "onehot (+ one indicator per knob value)",
    "kappa": "rank by the ensemble's mean + kappa x its members' standard deviation",
    "top_model": "add the scores of a second model trained on this share of the best runs "
                 "(at least 8)",
    "region_k": "rank only among the untried within region_d knobs of the best region_k runs "
                "(a trust region; an optimum outside it counts as ranked last); 0: everywhere",
    "seed": "offsets the members' seeds (to see how much the boosters' own randomness moves it)",
    "first_rounds": "rounds looked at per run (after the first), while the optimum is unknown",
}


def load_cache(path):
    with gzip.open(path, "rt") as f:
        text = f.read()
    try:
        d = json.loads(text)
    except json.JSONDecodeError:  # a cache Kernel Tuner was still appending to: close it
        d = json.loads(text.rstrip().rstrip(",") + "}}")
    keys = d["tune_params_keys"]
    x, latency = [], []
    for entry in d["cache"].values():
        x.append([float(entry[k]) for k in keys])
        t = entry.get("time")  # a failure: a string, or (a failed compile in some caches) none
        latency.append(float(t) if isinstance(t, (int, float)) else np.inf)
    return np.array(x), np.array(latency)


def features(x, kind):
    numeric = [j for j in range(x.shape[1]) if len(set(x[:, j])) > 2]
    cols = [x]
    if kind == "pairs":
        for a, b in itertools.combinations(numeric, 2):
            cols.append((np.log2(x[:, a]) + np.log2(x[:, b]))[:, None])
    elif kind == "onehot":
        for j in numeric:
            for v in sorted(set(x[:, j])):
                cols.append((x[:, j] == v).astype(float)[:, None])
    elif kind != "knobs":
        sys.exit(f"rank_proxy: unknown features '{kind}' (expected knobs, pairs or onehot)")
    return np.hstack(cols)


def rounds_of(db):
    con = sqlite3.connect(db)
    rows = con.execute("select trial, config_index, latency_mean_ms, round from records "
                       "order by trial").fetchall()
    con.close()
    return rows


def predict(cfg, f_train, y, f_all):
    members = []
    for m in range(cfg["ensemble"]):
        params = dict(max_depth=cfg["depth"], eta=cfg["eta"], gamma=1e-4,
                      min_child_weight=cfg["min_child_weight"], objective="reg:squarederror",
                      nthread=1, seed=m + 100 * cfg["seed"],
                      subsample=cfg["subsample"] if cfg["ensemble"] > 1 else 1.0)
        booster = xgb.train(params, xgb.DMatrix(f_train, label=y), cfg["rounds"])
        members.append(booster.predict(xgb.DMatrix(f_all)))
    members = np.array(members)
    return members.mean(0) + cfg["kappa"] * members.std(0)


def label(cfg, lat):
    """What the model learns from latencies: throughput normalised by the best, or -log."""
    return lat.min() / lat if cfg["label"] == "throughput" else -np.log(lat)


def reaches(latency_ms, optimum_ms):
    """A run's latency is the optimum's (the recorded value, up to rounding)."""
    return latency_ms is not None and latency_ms <= optimum_ms * (1 + 1e-9)


def ranks_for_task(cfg, space, run_dbs):
    x, latency = load_cache(space)
    f = features(x, cfg["features"])
    optimum = int(np.argmin(latency))
    out = []
    for db in run_dbs:
        rows = rounds_of(db)
        for k, rnd in enumerate(sorted({r[3] for r in rows})[1:1 + cfg["first_rounds"]], 1):
            seen = [r for r in rows if r[3] < rnd]
            if any(reaches(r[2], latency[optimum]) for r in seen):
                break
            ran = [r[1] for r in seen if r[2] is not None]
            lat = latency[ran]
            score = predict(cfg, f[ran], label(cfg, lat), f)
            if cfg["top_model"] > 0:
                best = [ran[i] for i in np.argsort(lat)[:max(8, int(cfg["top_model"] * len(ran)))]]
                score = score + predict(cfg, f[best], label(cfg, latency[best]), f)
            tried = {r[1] for r in seen}
            untried = np.array([i for i in range(len(latency))
                                if i not in tried and np.isfinite(latency[i])])
            if cfg["region_k"] > 0:
                best = [ran[i] for i in np.argsort(lat)[:cfg["region_k"]]]
                dist = np.min([(x != x[b]).sum(1) for b in best], axis=0)
                if dist[optimum] > cfg["region_d"]:
                    out.append((k, len(untried)))
                    continue
                untried = untried[dist[untried] <= cfg["region_d"]]
            out.append((k, int((score[untried] > score[optimum]).sum())))
    return out


def clustering(space, run_dbs):
    x, latency = load_cache(space)
    optimum = latency.min()
    runs = neighbour = last_knob = 0
    for db in run_dbs:
        rows = [r for r in rounds_of(db) if r[0] is not None and r[0] > 0]
        found = min((r[0] for r in rows if reaches(r[2], optimum)), default=None)
        for rnd in sorted({r[3] for r in rows})[1:]:
            picks = [r[1] for r in rows if r[3] == rnd and (found is None or r[0] < found)]
            for a in picks:
                diff = [x[a] != x[b] for b in picks if b != a]
                one = [d for d in diff if d.sum() == 1]
                runs += 1
                neighbour += bool(one)
                last_knob += any(d[-1] for d in one)
    return (f"{runs} runs, {neighbour / max(runs, 1):.2f} with a one-knob neighbour in their round,"
            f" {last_knob / max(runs, 1):.2f} one differing in the last knob")


def rank_by_model_of(cfg, space, training):
    """Where a model trained on every valid configuration of the `training` recordings (each
    labelled against its own best) ranks the optimum of `space` among its valid configurations."""
    rows, labels = [], []
    for path in training:
        x, latency = load_cache(path)
        valid = np.isfinite(latency)
        rows.append(features(x, cfg["features"])[valid])
        labels.append(label(cfg, latency[valid]))
    x, latency = load_cache(space)
    valid = np.isfinite(latency)
    score = predict(cfg, np.vstack(rows), np.concatenate(labels),
                    features(x, cfg["features"])[valid])
    return int((score > score[int(np.argmin(latency[valid]))]).sum())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("bench", help="an ml2tuner bench --out folder with ml2 runs on KT caches")
    ap.add_argument("--spaces", default=os.path.join(os.path.dirname(__file__), "..", "..", "..",
                                                     "shared", "data", "spaces", "kerneltuner"),
                    help="folder holding <kernel>/<device>.json.gz")
    ap.add_argument("--fit-all", action="store_true",
                    help="train on every valid configuration; print where the optimum ranks")
    ap.add_argument("--clustering", action="store_true",
                    help="how many of a round's runs had a one-knob neighbour in the round")
    ap.add_argument("--transfer", action="store_true",
                    help="train on the kernel's other recordings; print where the optimum ranks")
    ap.add_argument("variant", nargs="*", help="k=v; keys: " + ", ".join(
        f"{k} (default {v}{'; ' + HELP[k] if k in HELP else ''})" for k, v in DEFAULTS.items()))
    args = ap.parse_intermixed_args()
    cfg = dict(DEFAULTS)
    for kv in args.variant:
        k, _, v = kv.partition("=")
        if k not in cfg:
            sys.exit(f"rank_proxy: unknown key '{k}' (expected one of {', '.join(cfg)})")
        cfg[k] = type(cfg[k])(v)
    if cfg["label"] not in ("throughput", "log_latency"):
        sys.exit(f"rank_proxy: unknown label '{cfg['label']}' (expected throughput or log_latency)")
    tasks = sorted(glob.glob(os.path.join(args.bench, "runs", "*", "*")))
    if not tasks:
        sys.exit(f"rank_proxy: no runs under {args.bench}/runs (expected an ml2tuner bench --out)")
    per_task = []
    by_round = {}  # rounds after the first -> [runs that had not measured the optimum, top 16]
    for task in tasks:
        kernel, device = task.split(os.sep)[-2:]
        space = os.path.join(args.spaces, kernel, device + ".json.gz")
        dbs = sorted(glob.glob(os.path.join(task, "ml2", "seed*", "run.db")))
        if not os.path.exists(space) or not dbs:
            continue
        if args.transfer:
            others = sorted(p for p in glob.glob(os.path.join(args.spaces, kernel, "*.json.gz"))
                            if os.path.abspath(p) != os.path.abspath(space))
            print(f"  {kernel}/{device}: trained on {len(others)} other recordings, the optimum "
                  f"ranks {rank_by_model_of(cfg, space, others)}", flush=True)
            continue
        if args.clustering:
            print(f"  {kernel}/{device}: {clustering(space, dbs)}", flush=True)
            continue
        if args.fit_all:
            print(f"  {kernel}/{device}: trained on every valid configuration, the optimum ranks "
                  f"{rank_by_model_of(cfg, space, [space])}", flush=True)
            continue
        kr = ranks_for_task(cfg, space, dbs)
        if not kr:
            continue
        for k, rank in kr:
            tally = by_round.setdefault(k, [0, 0])
            tally[0] += 1
            tally[1] += rank < 16
        r = np.array([rank for _, rank in kr])
        per_task.append((np.mean(np.log10(r + 1)), np.mean(r < 16), np.mean(r < 64), len(r)))
        print(f"  {kernel}/{device}: {len(r)} rounds, mean log10(1+rank) {per_task[-1][0]:.3f}, "
              f"top 16 {per_task[-1][1]:.2f}, top 64 {per_task[-1][2]:.2f}", flush=True)
    if args.fit_all or args.clustering or args.transfer:
        return
    if not per_task:
        sys.exit("rank_proxy: no task of the bench has a recorded space and ml2 runs")
    m = np.mean(per_task, axis=0)
    print(f"{' '.join(args.variant) or 'default'}: mean over {len(per_task)} tasks: "
          f"log10(1+rank) {m[0]:.3f}, top 16 {m[1]:.3f}, top 64 {m[2]:.3f} "
          f"({sum(t[3] for t in per_task)} rounds)")
    for k in sorted(by_round):
        print(f"  after {k} round(s) of runs: the optimum among the top 16 in {by_round[k][1]} of "
              f"the {by_round[k][0]} runs that had not measured it")


if __name__ == "__main__":
    main()
