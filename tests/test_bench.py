"""matnet.bench and `matnet bench`: tiny sizes, the table's format, one-line failures.

Speed itself is never asserted here (DESIGN.md §7): only that the measurements run, scale a
subset honestly and are reported in the documented form.
"""
import numpy as np
import pytest
from test_cli import assert_one_line_error, run_cli

from matnet import _backend, bench

SIZES = (20, 8, 3)


@pytest.fixture
def data():
    X, y = bench.mnist_like(120, SIZES[0], SIZES[-1])
    return X.astype(np.float64), y


def test_mnist_like_is_shaped_like_mnist():
    X, y = bench.mnist_like(50)
    assert X.shape == (50, 784) and X.dtype == np.float32 and 0 <= X.min() and X.max() <= 1
    assert y.shape == (50,) and set(y) <= set(range(10))


def test_epoch_flops_of_the_book_network():
    # forward and ∇W for both layers, Δ for the second only: 2 · (784·30·2 + 30·10·3) per row
    assert bench.epoch_flops([784, 30, 10], 1) == 2 * (784 * 30 * 2 + 30 * 10 * 3)
    assert bench.epoch_flops([784, 30, 10], 50_000) == 4_794_000_000


def test_a_slow_epoch_is_timed_on_whole_mini_batches_and_scaled():
    X, y = bench.mnist_like(600, SIZES[0], SIZES[-1])
    result = bench.time_epoch("per_sample", SIZES, 7, X.astype(np.float64), y, budget=1e-9)
    assert result.n_samples == 600 and result.rows_timed < 600
    assert result.rows_timed % 7 == 0 and result.repeats == 1
    assert result.seconds > 0 and result.dtype == "float64" and result.sizes == SIZES


def test_a_fast_epoch_runs_on_every_row(data):
    X, y = data
    result = bench.time_epoch("batched-numpy", SIZES, 10, X.astype(np.float32), y, budget=60)
    assert (result.rows_timed, result.repeats, result.dtype) == (120, 3, "float32")


@pytest.mark.parametrize("system, module", [("pytorch", "torch"), ("sklearn", "sklearn")])
def test_other_libraries_time_the_same_training(data, system, module):
    pytest.importorskip(module)
    X, y = data
    result = bench.time_epoch(system, SIZES, 10, X, y, budget=60)
    assert result.system == system and result.rows_timed == 120 and result.seconds > 0


def test_the_table_and_its_notes():
    results = [
        bench.Result("per_sample", (4, 3, 2), 10, "float64", 2.0, 1000, 500, 1),
        bench.Result("fused", (4, 3, 2), 10, "float64", 0.1, 1000, 1000, 3),
        bench.Result("fused", (4, 3, 2), 1, "float64", 0.25, 1000, 1000, 3),
        bench.floor((4, 3, 2), 1000, "float64", 1e9),
    ]
    table, notes = bench.markdown_table(results).split("\n\n")
    floor = bench.epoch_flops((4, 3, 2), 1000) / 1e9
    assert table.splitlines() == [
        "| network | batch | dtype | per_sample | fused | floor | fused ÷ floor | rows timed |",
        "|---|---|---|--:|--:|--:|--:|--:|",
        f"| [4, 3, 2] | 1 | float64 | – | 0.250 s | {floor:.3f} s | {0.25 / floor:.2f} | 1,000 |",
        f"| [4, 3, 2] | 10 | float64 | 2.000 s | 0.100 s (20.0×) | {floor:.3f} s | {0.1 / floor:.2f} "
        "| per_sample 500; others 1,000 |",
    ]
    assert notes.startswith("- Seconds per epoch of 1,000 rows")
    assert "the speedup over per_sample" in notes and "float64 1 GFLOP/s" in notes
    assert "sklearn" not in notes


def test_unavailable_systems_say_why(monkeypatch):
    assert "unknown system" in bench.unavailable("tensorflow")
    monkeypatch.setattr(_backend, "available", lambda: ("numpy",))
    assert "compiled extension" in bench.unavailable("fused")
    assert bench.default_systems() == ["per_sample", "batched-numpy"]
    with pytest.raises(ValueError, match="fused: needs the compiled extension"):
        bench.run(["fused"], [SIZES], [1], ["float64"], n_samples=10)


def test_step_kernel_seconds_times_every_elementwise_kernel(backend):
    kernels = _backend.kernels
    seconds = bench.step_kernel_seconds(kernels, "float32", sizes=SIZES, batch_size=5, repeats=20)
    assert list(seconds) == ["inplace_add_bias_activate", "output_delta", "inplace_mul_activation_prime",
                             "sum_rows", "sgd_update"]
    assert all(s >= 0 for s in seconds.values()) and sum(seconds.values()) > 0


@pytest.mark.skipif("cython" not in _backend.available(), reason="compares the compiled kernels with their twins")
def test_compare_step_kernels_times_both_backends():
    best = bench.compare_step_kernels("float64", rounds=2, sizes=SIZES, batch_size=5, repeats=10)
    assert set(best) == {"cython", "numpy"} and best["cython"].keys() == best["numpy"].keys()


@pytest.mark.skipif("cython" not in _backend.available(), reason="the fused epoch needs the compiled extension")
def test_fused_breakdown_takes_the_epoch_apart(data):
    X, y = data
    parts = bench.fused_breakdown(list(SIZES), 10, X, y, cached_rows=32, rounds=2)
    assert set(parts) == {"epoch", "in_cache", "identity", "gemm", "steps"}
    assert parts["steps"] == 12 and all(parts[k] > 0 for k in ("epoch", "in_cache", "identity", "gemm"))


# --- the command -----------------------------------------------------------------------------------

def test_cli_bench_prints_the_table(capsys):
    status, out, err = run_cli(capsys, "bench", "--sizes", "20,8,3", "12,4,2", "--batch-sizes", "1,5",
                               "--dtypes", "float64", "--samples", "60", "--systems", "per_sample,batched-numpy",
                               "--budget", "0.01")
    assert status == 0, err
    assert out.startswith("matnet bench: 60 random MNIST-shaped rows per epoch, eta 3")
    table = [line for line in out.splitlines() if line.startswith("| ")]
    assert table[0] == "| network | batch | dtype | per_sample | batched-numpy | floor | rows timed |"
    assert [line.split(" | ")[:3] for line in table[1:]] == [
        ["| [12, 4, 2]", "1", "float64"], ["| [12, 4, 2]", "5", "float64"],
        ["| [20, 8, 3]", "1", "float64"], ["| [20, 8, 3]", "5", "float64"]]
    # Not a terminal: the progress bar is plain lines on stderr.
    assert err.splitlines()[-1] == "measuring: 100% (10 / 10)"   # 2 networks × (2 batch sizes × 2 systems + floor)


@pytest.mark.parametrize("threads", ["1", "2"])
def test_cli_bench_threads(capsys, threads):
    status, out, _ = run_cli(capsys, "bench", "--sizes", "12,4,2", "--batch-sizes", "4", "--dtypes", "float32",
                             "--samples", "20", "--systems", "fused" if "cython" in _backend.available()
                             else "batched-numpy", "--threads", threads, "--budget", "0.01")
    assert status == 0
    assert f"limited to {threads} thread{'s' if threads == '2' else ''} for the measurements" in out


def test_cli_bench_skips_what_cannot_run_with_a_note(capsys, monkeypatch):
    monkeypatch.setattr(_backend, "available", lambda: ("numpy",))
    monkeypatch.setattr(bench, "SYSTEMS", bench.SYSTEMS[:4])   # no other libraries to time either
    status, out, err = run_cli(capsys, "bench", "--sizes", "12,4,2", "--batch-sizes", "4", "--dtypes", "float32",
                               "--samples", "20", "--budget", "0.01")
    assert status == 0
    assert "skipping batched-cython: it needs the compiled extension" in err
    assert "| per_sample | batched-numpy |" in out and "fused |" not in out


@pytest.mark.parametrize("argv, status, fragment", [
    (["--sizes", "20"], 2, "argument --sizes: expected two or more"),
    (["--batch-sizes", "10,0"], 2, "argument --batch-sizes: expected a positive integer, got 0"),
    (["--batch-sizes", "10,,2"], 2, "argument --batch-sizes: expected comma-separated positive integers"),
    (["--dtypes", "float16"], 2, "argument --dtypes: expected one of float64, float32, got 'float16'"),
    (["--systems", "fused,tensorflow"], 2, "argument --systems: expected one of per_sample"),
    (["--samples", "0"], 2, "argument --samples: expected a positive integer"),
    (["--budget", "-1"], 2, "argument --budget: expected a number > 0"),
    (["--threads", "0"], 2, "argument --threads: expected a positive integer"),
    (["--data", "imagenet"], 2, "argument --data: invalid choice"),
    (["--data", "mnist"], 1, "MNIST is not in the cache"),
])
def test_cli_bench_bad_arguments_are_one_line(capsys, tmp_path, monkeypatch, argv, status, fragment):
    monkeypatch.setenv("MATNET_DATA", str(tmp_path))
    result, _, err = run_cli(capsys, "bench", *argv)
    assert_one_line_error(result, err, status, fragment)


def test_cli_bench_refuses_a_system_that_cannot_run(capsys, monkeypatch):
    monkeypatch.setattr(_backend, "available", lambda: ("numpy",))
    result, _, err = run_cli(capsys, "bench", "--systems", "fused", "--samples", "10")
    assert_one_line_error(result, err, 1, "--systems: fused needs the compiled extension")
