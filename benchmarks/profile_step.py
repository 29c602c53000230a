"""Seconds per epoch of each engine on the book's net, side by side in one run, against the
FLOP floor measured in the same run, and where the fused epoch's time goes.

    python benchmarks/profile_step.py [--rows 50000] [--repeats 5]

[784, 30, 10], mini-batch 10, random MNIST-shaped rows (the timing does not depend on the
values).  per_sample runs on a tenth of the rows and is scaled up.  Each figure is the best of
``--repeats`` epochs, wall clock.  The floor is the epoch's FLOPs at one core's large-GEMM
rate through the BLAS the fused engine calls (SciPy's), limited to one thread.  An epoch of
this net is 2 · (784·30·2 + 30·10·3) · 50,000 ≈ 4.8 GFLOP: two GEMMs for the first layer (no
delta is needed for the input), three for the second.

The breakdown (matnet.bench.fused_breakdown) takes the fused epoch apart by removing one part
at a time: the shuffled rows' trips to memory, the sigmoid, and what is left besides the
GEMMs, which are timed alone at the step's shapes.  benchmarks/run_benchmarks.py writes the
same breakdown into BENCHMARKS.md.

OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, when set, can make OpenBLAS pick slower kernels, and
the thread variables change the rates, so the script prints any that are set.
"""
import argparse
import os
import platform

import _common  # noqa: F401  (makes the source checkout importable)
import numpy as np
import scipy

import matnet
from matnet import _backend, bench

SIZES = [784, 30, 10]
BATCH = 10
BLAS_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_CORETYPE",
            "OPENBLAS_L2_SIZE")


def epoch_seconds(backend, engine, X, y, dtype, repeats):
    _backend.select(backend)
    net = matnet.Network(SIZES, seed=0, dtype=dtype)
    history = net.fit(X, y, epochs=repeats, batch_size=BATCH, eta=3.0, engine=engine, seed=1)
    assert history.engine == engine, history.engine
    return min(history.epoch_seconds)


def _blas_name(module):
    try:
        return module.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"]
    except Exception:   # older releases print their configuration instead
        return "?"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    n, few = args.rows, args.rows // 10
    X32, y = bench.mnist_like(n, SIZES[0], SIZES[-1])
    backends = _backend.available()

    print(f"python {platform.python_version()}, numpy {np.__version__} ({_blas_name(np)}), "
          f"scipy {scipy.__version__} ({_blas_name(scipy)}), matnet {matnet.__version__}, "
          f"{os.cpu_count()} CPUs ({platform.machine()})")
    print(" ".join(f"{var}={os.environ[var]}" for var in BLAS_ENV if var in os.environ) or
          "no BLAS environment variables set")
    print(f"\n{SIZES}, mini-batch {BATCH}, {n} rows: seconds per epoch, best of {args.repeats}; "
          f"fused on the {backends[0]} backend\n")
    print("| dtype | per_sample | batched, numpy | batched, cython | fused | floor (1 core) "
          "| fused vs per_sample | fused vs batched, numpy | fused / floor |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    rates, parts = {}, {}
    for dtype in (np.float64, np.float32):
        X = X32.astype(dtype)
        rates[dtype] = rate = bench.gemm_rate(dtype, threads=1, n=2000, repeats=3)
        floor = bench.epoch_flops(SIZES, n) / rate
        per_sample = epoch_seconds("numpy", "per_sample", X[:few], y[:few], dtype, 1) * n / few
        batched_numpy = epoch_seconds("numpy", "batched", X, y, dtype, args.repeats)
        batched_cython = (epoch_seconds("cython", "batched", X, y, dtype, args.repeats)
                          if "cython" in backends else float("nan"))
        fused = epoch_seconds(backends[0], "fused", X, y, dtype, args.repeats)
        print(f"| {np.dtype(dtype).name} | {per_sample:.3f} | {batched_numpy:.3f} | {batched_cython:.3f} "
              f"| {fused:.3f} | {floor:.3f} ({rate / 1e9:.0f} GFLOP/s) | {per_sample / fused:.1f}× "
              f"| {batched_numpy / fused:.2f}× | {fused / floor:.2f} |")
        if "cython" in backends:
            parts[dtype] = bench.fused_breakdown(SIZES, BATCH, X, y)
    print("\nlarge-GEMM rate with the BLAS's own thread count: "
          + ", ".join(f"{np.dtype(d).name} {bench.gemm_rate(d, threads=None, n=2000, repeats=3) / 1e9:.0f} GFLOP/s"
                      for d in rates))
    if parts:
        print("\nwhere the fused epoch's time goes, µs per step (matnet.bench.fused_breakdown):\n")
        print("| dtype | epoch | GEMMs alone | shuffled rows from memory | sigmoid | the rest | floor |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for dtype, p in parts.items():
            us = lambda seconds: f"{seconds / p['steps'] * 1e6:.1f}"  # noqa: E731
            floor = bench.epoch_flops(SIZES, n) / rates[dtype]
            print(f"| {np.dtype(dtype).name} | {us(p['epoch'])} | {us(p['gemm'])} | {us(p['epoch'] - p['in_cache'])} "
                  f"| {us(p['in_cache'] - p['identity'])} | {us(p['identity'] - p['gemm'])} | {us(floor)} |")


if __name__ == "__main__":
    main()
