"""The matnet command: the demo end to end, and clean failures."""
import subprocess
import sys

from matnet import cli


def test_demo_reports_accuracy_speedup_and_agreement(capsys):
    assert cli.main(["demo", "--epochs", "1"]) == 0
    out = capsys.readouterr().out
    assert "per_sample" in out and "batched" in out and "x\n" in out
    assert "max |weight difference| after training" in out


def test_module_entry_point_and_bad_arguments():
    result = subprocess.run([sys.executable, "-m", "matnet", "demo", "--epochs", "zero"],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "--epochs" in result.stderr
    help_text = subprocess.run([sys.executable, "-m", "matnet", "demo", "--help"], capture_output=True, text=True)
    assert help_text.returncode == 0 and "embedded MNIST sample" in help_text.stdout
