"""The book's MNIST accuracy table, reproduced with matnet, several seeds.

    python benchmarks/book_accuracy.py [--seeds 0 1 2 3 4] [--mnist PATH] [--output BENCHMARKS.md]

Trains, on the book's split of real MNIST (50,000 training / 10,000 validation / 10,000 test
images; the book's mnist.pkl.gz, found as run_benchmarks.py finds it), the two networks whose
accuracy the book quotes, each from several seeds with engine="auto" (the fused engine):

- chapter 1 (network.py): [784, 30, 10], sigmoid, quadratic cost, N(0, 1) initialization,
  eta 3.0, mini-batch 10, 30 epochs; the book: about 95 %;
- chapter 3 (network2.py): [784, 100, 10], sigmoid, cross-entropy cost, N(0, 1/n_in)
  weights, L2 lmbda 5.0, eta 0.5, mini-batch 10, 30 epochs; the book: about 98 %.

Writes its section of BENCHMARKS.md (run_benchmarks.py's section is left as it is).  Takes
about 3 minutes on a 2-core machine.
"""
import argparse
import datetime
import os
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from _common import BENCHMARKS_MD, ROOT, find_mnist, update_section

import matnet
from matnet import bench, datasets

EPOCHS, BATCH_SIZE = 30, 10


@dataclass(frozen=True)
class Config:
    chapter: str
    sizes: tuple
    cost: str
    eta: float
    lmbda: float
    book: str          # the book's figure, as issue 4 quotes it

    @property
    def label(self):
        regularized = f", λ = {self.lmbda:g}" if self.lmbda else ""
        return f"{self.chapter}: {list(self.sizes)}, {self.cost.replace('_', '-')} cost{regularized}, η = {self.eta:g}"


CONFIGS = [
    Config("ch. 1, network.py", (784, 30, 10), "quadratic", 3.0, 0.0, "≈ 95 %"),
    Config("ch. 3, network2.py", (784, 100, 10), "cross_entropy", 0.5, 5.0, "≈ 98 %"),
]


def train(config, seed, train_split, validation, test):
    """One run: per-epoch test and validation accuracy, the engine, seconds per epoch."""
    net = matnet.Network(config.sizes, cost=config.cost, seed=seed)   # the book's default init for the cost
    test_accuracy = []
    history = net.fit(*train_split, EPOCHS, BATCH_SIZE, config.eta, lmbda=config.lmbda, engine="auto",
                      validation_data=validation, monitor=["evaluation_accuracy"],
                      callbacks=[lambda epoch, history, net: test_accuracy.append(net.accuracy(*test))])
    return {"test": test_accuracy, "validation": history.evaluation_accuracy, "engine": history.engine,
            "backend": history.backend, "seconds": float(np.mean(history.epoch_seconds))}


def _spread(values):
    values = 100 * np.asarray(values)
    sd = values.std(ddof=1) if len(values) > 1 else 0.0
    return f"{values.mean():.2f} % ± {sd:.2f} ({values.min():.2f}–{values.max():.2f})"


def report(runs, seeds, mnist, minutes):
    command = "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]])
    some = next(iter(runs.values()))[0]
    lines = [
        "## Accuracy: the book's MNIST results, reproduced",
        "",
        f"`{command}` — {datetime.date.today():%Y-%m-%d}, {minutes:.1f} minutes.",
        "",
        f"- data: the book's MNIST (`{mnist}`): trained on the 50,000 training images, validation accuracy on "
        "the 10,000 validation images, test accuracy on the 10,000 test images",
        f"- {EPOCHS} epochs, mini-batch {BATCH_SIZE}, float64, engine=\"auto\" (ran: {some['engine']}, "
        f"{some['backend']} kernels); seeds {', '.join(map(str, seeds))} (each seeds the initial weights "
        "and the shuffling)",
        f"- {bench.environment()[0]}",
        "",
        f"| network | the book | test accuracy after epoch {EPOCHS} | best epoch's test accuracy "
        f"| best validation accuracy | s / epoch |",
        "|---|--:|--:|--:|--:|--:|",
    ]
    for config, config_runs in runs.items():
        lines.append(
            f"| {config.label} | {config.book} | {_spread([r['test'][-1] for r in config_runs])} "
            f"| {_spread([max(r['test']) for r in config_runs])} "
            f"| {_spread([max(r['validation']) for r in config_runs])} "
            f"| {np.mean([r['seconds'] for r in config_runs]):.2f} |")
    lines += [
        "",
        f"Mean ± standard deviation over the {len(seeds)} seeds (lowest–highest). The book's network.py prints the "
        "test accuracy after every epoch and the book quotes about what that shows; network2.py monitors the "
        "validation set. \"Best epoch\" is the highest accuracy of any epoch, picked with hindsight, so it "
        "flatters; the figure after the last epoch does not.",
        "",
        "Per seed, test accuracy after the last epoch:",
        "",
        "| network | " + " | ".join(f"seed {s}" for s in seeds) + " |",
        "|---|" + "--:|" * len(seeds),
    ]
    for config, config_runs in runs.items():
        lines.append(f"| {config.label} | " + " | ".join(f"{100 * r['test'][-1]:.2f} %" for r in config_runs) + " |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="(default 0 1 2 3 4)")
    parser.add_argument("--mnist", help="the book's mnist.pkl.gz (default: look in matnet's data directory, "
                                        "then /work/cache)")
    parser.add_argument("--output", type=Path, default=BENCHMARKS_MD, help="the markdown file to update")
    args = parser.parse_args()
    mnist = find_mnist(args.mnist)
    if mnist is None:
        parser.exit(1, "book_accuracy.py: error: needs the book's real mnist.pkl.gz (the accuracy of random data "
                       "means nothing): run `matnet data mnist`, or pass --mnist PATH\n")
    started = time.perf_counter()
    (X, y), (X_val, y_val), (X_test, y_test) = datasets.load_mnist(mnist)
    # float64 once, here, rather than in every fit and every evaluation
    train_split, validation, test = ((np.asarray(a, np.float64), b) for a, b in
                                     ((X, y), (X_val, y_val), (X_test, y_test)))
    runs = {}
    for config in CONFIGS:
        runs[config] = []
        for seed in args.seeds:
            run = train(config, seed, train_split, validation, test)
            runs[config].append(run)
            print(f"{config.label}, seed {seed}: test {run['test'][-1]:.4f} (best {max(run['test']):.4f}), "
                  f"validation best {max(run['validation']):.4f}, {run['seconds']:.2f} s/epoch ({run['engine']})",
                  flush=True)
    minutes = (time.perf_counter() - started) / 60
    update_section("accuracy", report(runs, args.seeds, mnist, minutes), args.output)
    print(f"{minutes:.1f} min; wrote {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
