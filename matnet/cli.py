"""The ``matnet`` command (also ``python -m matnet``).

Every subcommand has ``--help``.  Bad arguments and failures end with a one-line message
on stderr and a non-zero exit status, never a traceback.
"""
import argparse
import sys
import time

import numpy as np

from . import _backend, datasets
from .network import Network


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def demo(args):
    """Train the book's [784, 30, 10] network on the embedded MNIST sample with each engine,
    from one seed, and report test accuracy and the speedup of batching."""
    (X, y), _, (X_test, y_test) = datasets.load_mnist_sample()
    sizes, batch_size, eta = [784, 30, 10], 10, 3.0
    print(f"matnet demo: {sizes} sigmoid network, quadratic cost, eta {eta}, "
          f"mini-batch {batch_size}, {args.epochs} epochs")
    print(f"data: embedded MNIST sample, {len(X):,} training / {len(X_test):,} test images; "
          f"kernels: {_backend.name}")
    print(f"{'engine':<12}{'s/epoch':>10}{'test accuracy':>16}{'speedup':>10}")
    seconds = {}
    for engine in args.engines:
        net = Network(sizes, seed=args.seed)
        started = time.perf_counter()
        history = net.fit(X, y, args.epochs, batch_size, eta, engine=engine, seed=args.seed)
        per_epoch = (time.perf_counter() - started) / args.epochs
        seconds[engine] = per_epoch
        speedup = seconds[args.engines[0]] / per_epoch
        print(f"{history.engine:<12}{per_epoch:>10.4f}{net.accuracy(X_test, y_test):>15.2%}"
              f"{speedup:>9.1f}x", flush=True)
    _report_gradient_agreement(Network(sizes, seed=args.seed), X[:batch_size], y[:batch_size], args.engines)
    return 0


def _report_gradient_agreement(net, X, y, engines):
    """Both engines' gradients on one mini-batch.  (Trained weights agree to ~1e-14 after an
    epoch, but SGD at eta 3 amplifies rounding differences about 3x an epoch, so after 30
    epochs the runs are different, equally good, networks.)"""
    def flat(engine):
        nabla_b, nabla_w = net.gradients(X, y, engine=engine)
        return np.concatenate([g.ravel() for g in nabla_b + nabla_w])

    reference = flat(engines[0])
    for engine in engines[1:]:
        other = flat(engine)
        diff = np.max(np.abs(other - reference)) / np.max(np.abs(reference))
        print(f"gradients on one mini-batch, {engine} vs {engines[0]}: max relative difference {diff:.1e}")


def build_parser():
    parser = argparse.ArgumentParser(prog="matnet", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    p = commands.add_parser("demo", help="train the book's network on the embedded data, per-sample vs batched",
                            description=demo.__doc__)
    p.add_argument("--epochs", type=_positive_int, default=30, help="training epochs per engine (default 30)")
    p.add_argument("--seed", type=int, default=0, help="seed for the initial weights and the shuffling")
    p.add_argument("--engines", nargs="+", choices=["per_sample", "batched"], default=["per_sample", "batched"],
                   help="engines to compare; the first is the baseline of the speedup column")
    p.set_defaults(run=demo)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, TypeError, OSError) as exc:
        print(f"matnet {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"matnet {args.command}: interrupted", file=sys.stderr)
        return 130
