"""A small progress bar with no dependencies, for the command line and the training loop.

On a terminal it redraws one line in place and erases it when done, so the output around
it stays clean; elsewhere (a log, a pipe, CI) it writes a plain line at each quarter of
the way, because carriage returns turn a log into one unreadable line.
"""
import sys

_WIDTH = 24
_LOG_STEPS = 4


class ProgressBar:
    """Show how far a task of ``total`` steps has come.

    Parameters
    ----------
    total : int or None
        The number of steps (bytes, epochs, ...); None when it is not known in advance.
    label : str
        What is in progress, shown first on the line.
    stream : file, optional
        Where to write; default ``sys.stderr``, so the bar never mixes into results on stdout.
    format_count : callable, optional
        Turns a count into text (``format_bytes`` for downloads); default ``str``.

    Use it as a context manager, calling ``update(done)`` with the steps done so far.
    """

    def __init__(self, total, label, stream=None, format_count=str):
        self.total = total or None
        self.label = label
        self.stream = sys.stderr if stream is None else stream
        self.format_count = format_count
        self.interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        self._done = 0
        self._logged_steps = 0
        self._drawn = 0

    def update(self, done):
        """Record that ``done`` steps (a running total, not an increment) are complete."""
        self._done = done
        if self.interactive:
            self._draw()
        elif self.total is not None:
            step = min(_LOG_STEPS, done * _LOG_STEPS // self.total)
            if step > self._logged_steps:
                self._logged_steps = step
                self.stream.write(f"{self.label}: {self._counts()}\n")
                self.stream.flush()

    def close(self):
        if self._drawn:
            self.stream.write("\r" + " " * self._drawn + "\r")
            self.stream.flush()
            self._drawn = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def _counts(self):
        if self.total is None:
            return self.format_count(self._done)
        percent = 100 * self._done // self.total
        return f"{percent:3d}% ({self.format_count(self._done)} / {self.format_count(self.total)})"

    def _draw(self):
        if self.total is None:
            line = f"{self.label} {self._counts()}"
        else:
            filled = min(_WIDTH, _WIDTH * self._done // self.total)
            line = f"{self.label} [{'#' * filled}{'.' * (_WIDTH - filled)}] {self._counts()}"
        # Pad over the remains of a longer previous line.
        self.stream.write("\r" + line.ljust(self._drawn))
        self.stream.flush()
        self._drawn = max(self._drawn, len(line))


def format_bytes(n):
    """A byte count for people: ``'17.1 MB'`` (decimal units, as pip shows them)."""
    for unit in ("B", "kB", "MB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"
