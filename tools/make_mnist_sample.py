"""Build ``matnet/data/mnist_sample.npz``, the MNIST subset embedded in the package.

Usage::

    python tools/make_mnist_sample.py /path/to/mnist.pkl.gz [--output matnet/data/mnist_sample.npz]

The input is the book's ``mnist.pkl.gz`` (sha256 f11bb9e4...e1416), read with
``matnet.datasets.load_mnist``, which verifies and validates it.  The subset:

- train: rows 0..7,999 of the book's training split.  That split is already in random
  order, so its first rows are a fair sample (every digit is 8.8 % to 11.3 % of them).
- validation: rows 0..999 of the book's validation split, likewise.
- test: rows 0..1,499 and 5,000..6,499 of the test split.  MNIST's test set is not shuffled
  across its two halves: the first 5,000 images come from NIST's cleaner writers (Census
  Bureau employees), the last 5,000 from its harder ones (students).  Equal parts of each
  keep the sample's test accuracy honest.  3,000 is as many as fit under the 2,000,000-byte
  limit with room to spare.

Pixels are stored as uint8 k for the book's float32 k/256, which is exact: every pixel in
the book's file is a multiple of 1/256 up to 255/256, and the script checks that decoding
its bytes with the loader's own decoder gives the book's values bit for bit.  Labels are
uint8.  ``source`` holds a JSON record of where the subset came from.

The output is byte-for-byte reproducible: the script writes the ``.npz`` itself (a zip of
``.npy`` files, what ``np.savez_compressed`` writes) because ``np.savez_compressed`` stamps
each member with the current time, which would change the file's bytes on every run.
"""
import argparse
import hashlib
import importlib.util
import io
import json
import sys
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
MAX_BYTES = 2_000_000
# Half-open [start, stop) row ranges of each split of the book's file.
RANGES = {
    "train": [(0, 8_000)],
    "validation": [(0, 1_000)],
    "test": [(0, 1_500), (5_000, 6_500)],
}
# The earliest time a zip header can record: a fixed stamp keeps the output reproducible.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def load_datasets_module():
    """Import matnet/datasets.py by path, so the package's other modules need not import."""
    spec = importlib.util.spec_from_file_location("matnet_datasets", REPO / "matnet" / "datasets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def encode_pixels(X, datasets, where):
    """Float32 pixels (n, 784) k/256 -> uint8 k, refusing any pixel the bytes cannot hold exactly."""
    pixels = np.clip(np.rint(X * 256), 0, 255).astype(np.uint8)
    if not np.array_equal(datasets._decode_pixels(pixels), X):
        raise ValueError(f"{where}: pixels are not all multiples of 1/256 in [0, 255/256]; "
                         "storing them as uint8 would change them")
    return pixels


def write_npz(path, arrays):
    """What np.savez_compressed writes, with fixed member timestamps and maximum compression."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asarray(array), allow_pickle=False)
            member = zipfile.ZipInfo(f"{name}.npy", date_time=ZIP_EPOCH)
            member.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(member, buffer.getvalue(), compresslevel=9)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="the book's mnist.pkl.gz")
    parser.add_argument("--output", type=Path, default=REPO / "matnet" / "data" / "mnist_sample.npz")
    args = parser.parse_args(argv)

    datasets = load_datasets_module()
    splits = datasets.load_mnist(args.source)
    arrays = {}
    for name, (X, y) in zip(("train", "validation", "test"), splits):
        rows = np.concatenate([np.arange(start, stop) for start, stop in RANGES[name]])
        arrays[f"{name}_images"] = encode_pixels(X[rows], datasets, f"{args.source}: {name}")
        arrays[f"{name}_labels"] = y[rows].astype(np.uint8)
    source = {
        "file": args.source.name,
        "sha256": hashlib.sha256(args.source.read_bytes()).hexdigest(),
        "bytes": args.source.stat().st_size,
        "rows": RANGES,
        "pixels": "uint8 k stands for the source's float32 pixel k/256 (exact)",
        "made_by": "tools/make_mnist_sample.py",
    }
    arrays["source"] = np.array(json.dumps(source, sort_keys=True))

    args.output.parent.mkdir(parents=True, exist_ok=True)
    write_npz(args.output, arrays)
    size = args.output.stat().st_size
    if size > MAX_BYTES:
        args.output.unlink()
        raise SystemExit(f"{args.output}: {size} bytes, over the {MAX_BYTES}-byte limit; "
                         "shrink RANGES and run again")
    digest = hashlib.sha256(args.output.read_bytes()).hexdigest()
    counts = ", ".join(f"{name} {len(arrays[f'{name}_labels'])}" for name in RANGES)
    print(f"wrote {args.output}: {counts}; {size} bytes; sha256 {digest}")


if __name__ == "__main__":
    sys.exit(main())
