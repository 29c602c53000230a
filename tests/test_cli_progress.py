"""The command line's progress bar: redrawn in place on a terminal, plain lines in a log."""
import io

from matnet._progress import ProgressBar, format_bytes


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_log_gets_a_line_per_quarter():
    stream = io.StringIO()
    with ProgressBar(10, "training", stream=stream) as bar:
        for done in range(11):
            bar.update(done)
    assert stream.getvalue().splitlines() == [
        "training:  30% (3 / 10)", "training:  50% (5 / 10)", "training:  80% (8 / 10)", "training: 100% (10 / 10)"]


def test_a_log_of_unknown_length_stays_quiet():
    stream = io.StringIO()
    with ProgressBar(None, "downloading", stream=stream) as bar:
        bar.update(5)
    assert stream.getvalue() == ""


def test_a_terminal_line_is_redrawn_and_erased():
    stream = _Terminal()
    with ProgressBar(4, "epochs", stream=stream) as bar:
        bar.update(1)
        assert stream.getvalue() == "\repochs [######..................]  25% (1 / 4)"
        bar.update(4)
    drawn = stream.getvalue().split("\r")
    assert drawn[2] == "epochs [########################] 100% (4 / 4)"
    assert drawn[3:] == [" " * len(drawn[2]), ""]   # erased, so the output around it stays clean
    assert "\n" not in stream.getvalue()


def test_a_terminal_shows_a_count_when_the_total_is_unknown():
    stream = _Terminal()
    ProgressBar(None, "downloading", stream=stream, format_count=format_bytes).update(2_500_000)
    assert stream.getvalue() == "\rdownloading 2.5 MB"


def test_format_bytes():
    assert [format_bytes(n) for n in (0, 999, 1_500, 17_051_982, 3_200_000_000)] == [
        "0 B", "999 B", "1.5 kB", "17.1 MB", "3.2 GB"]
