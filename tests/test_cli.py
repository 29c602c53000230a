"""The matnet command: the demo end to end, and clean failures."""
from conftest import run_python

from matnet import cli


def test_demo_reports_accuracy_speedup_and_agreement(capsys):
    assert cli.main(["demo", "--epochs", "1"]) == 0
    out = capsys.readouterr().out
    assert "per_sample" in out and "batched" in out and "x\n" in out
    assert "max relative difference" in out


def test_module_entry_point_and_bad_arguments():
    result = run_python("-m", "matnet", "demo", "--epochs", "zero")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "--epochs" in result.stderr
    help_text = run_python("-m", "matnet", "demo", "--help")
    assert help_text.returncode == 0 and "embedded MNIST sample" in help_text.stdout
