"""Optional dependencies: imported where first needed, with an error that names the extra."""
import importlib

# Where a package's import name differs from the name pip installs it by.
_DISTRIBUTIONS = {"sklearn": "scikit-learn"}


def require(module_name, extra):
    """Import ``module_name``, or raise ImportError saying which matnet extra installs it.

    ``extra`` is both the extra's name and the matnet module that needs it ("onnx" for
    matnet.onnx), so the message reads "matnet.onnx needs the optional dependency onnx:
    pip install 'matnet[onnx]'".
    """
    try:
        return importlib.import_module(module_name)
    except ImportError as exc:
        top = module_name.partition(".")[0]
        raise ImportError(
            f"matnet.{extra} needs the optional dependency {_DISTRIBUTIONS.get(top, top)}: "
            f"pip install 'matnet[{extra}]'"
        ) from exc
