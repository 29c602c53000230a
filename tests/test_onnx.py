"""ONNX export: a valid model whose onnxruntime outputs equal Network.forward, for every
activation, both dtypes and 2- to 4-layer networks."""
import json
import sys

import numpy as np
import pytest

import matnet
import matnet.onnx
from matnet import functions

# onnxruntime against Network.forward: float32 within 1e-5; float64 differs only by the
# order of the sums inside the GEMMs and by the exp implementations.
TOLERANCE = {"float32": 1e-5, "float64": 1e-12}


@pytest.fixture(scope="module")
def onnx():
    return pytest.importorskip("onnx")


@pytest.fixture(scope="module")
def onnxruntime():
    return pytest.importorskip("onnxruntime")


def _is_hidden(activation):
    return functions.ACTIVATIONS[activation].hidden_ok     # softmax: an output-layer activation only


def _output_network_options(activation):
    """Constructor options putting ``activation`` on the output layer, or None if no cost takes it."""
    for cost in functions.COSTS:
        try:
            matnet.Network([2, 2], cost=cost, output_activation=activation)
        except ValueError:
            continue
        return {"cost": cost, "output_activation": activation}
    return None


def _run(onnxruntime, path, X):
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"X": X})[0]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("activation", list(functions.ACTIVATIONS))
def test_onnxruntime_matches_forward(onnx, onnxruntime, tmp_path, activation, dtype):
    rng = np.random.default_rng(sorted(functions.ACTIVATIONS).index(activation))
    hidden = activation if _is_hidden(activation) else "sigmoid"
    output = _output_network_options(activation) or {}
    assert hidden == activation or output, f"{activation!r} fits neither a hidden nor an output layer"
    for n_layers in (2, 3, 4):   # weight layers: sizes has one entry more
        sizes = [int(n) for n in rng.integers(1, 12, n_layers + 1)]
        net = matnet.Network(sizes, activation=hidden, init="scaled", dtype=dtype,
                             seed=int(rng.integers(1 << 30)), **output)
        path = tmp_path / f"net{n_layers}.onnx"
        model = matnet.onnx.export(net, path)
        onnx.checker.check_model(onnx.load(str(path)), full_check=True)
        assert onnx.load(str(path)) == model
        for n_samples in (1, 37):    # the batch dimension is symbolic
            X = rng.standard_normal((n_samples, sizes[0])).astype(dtype)
            out = _run(onnxruntime, path, X)
            assert out.dtype == net.dtype and out.shape == (n_samples, sizes[-1])
            np.testing.assert_allclose(out, net.forward(X), rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])


def test_per_layer_activations_and_softmax_output(onnx, onnxruntime, tmp_path, rng):
    hidden = [a for a in functions.ACTIVATIONS if _is_hidden(a)]
    output = _output_network_options("softmax") or {}
    net = matnet.Network([5] + [6] * len(hidden) + [4], activation=hidden,
                         init="scaled", seed=3, **output)
    model = matnet.onnx.export(net, tmp_path / "mixed.onnx")
    X = rng.standard_normal((20, 5))
    np.testing.assert_allclose(_run(onnxruntime, tmp_path / "mixed.onnx", X), net.forward(X), rtol=1e-12, atol=1e-12)
    ops = [node.op_type for node in model.graph.node]
    expected_activation_ops = [{"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu", "softmax": "Softmax"}[a.name]
                               for a in net.activations if a.name != "identity"]
    assert [op for op in ops if op != "Gemm"] == expected_activation_ops
    assert ops.count("Gemm") == len(net.weights)


def test_model_structure(onnx, tmp_path):
    net = matnet.Network([4, 3, 2], seed=0)
    model = matnet.onnx.export(net, tmp_path / "net.onnx")
    (x,), (y,) = model.graph.input, model.graph.output
    assert [d.dim_param or d.dim_value for d in x.type.tensor_type.shape.dim] == ["n_samples", 4]
    assert [d.dim_param or d.dim_value for d in y.type.tensor_type.shape.dim] == ["n_samples", 2]
    gemms = [node for node in model.graph.node if node.op_type == "Gemm"]
    assert all(onnx.helper.get_attribute_value(a) == 1 for g in gemms for a in g.attribute if a.name == "transB")
    assert [op.version for op in model.opset_import] == [matnet.onnx.OPSET]
    assert model.ir_version == onnx.helper.find_min_ir_version_for(list(model.opset_import))
    config = json.loads({p.key: p.value for p in model.metadata_props}["matnet_config"])
    assert config == net.config
    weights = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    np.testing.assert_array_equal(weights["W0"], net.weights[0])
    np.testing.assert_array_equal(weights["b1"], net.biases[1].ravel())


def test_float32_network_exports_float32(onnx, tmp_path):
    model = matnet.onnx.export(matnet.Network([3, 2], dtype="float32", seed=0), tmp_path / "net.onnx")
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert all(t.data_type == onnx.TensorProto.FLOAT for t in model.graph.initializer)


def test_missing_onnx_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnx", None)   # makes "import onnx" fail
    with pytest.raises(ImportError, match=r"matnet\.onnx needs the optional dependency onnx: "
                                          r"pip install 'matnet\[onnx\]'"):
        matnet.onnx.export(matnet.Network([3, 2], seed=0), tmp_path / "net.onnx")
    assert not (tmp_path / "net.onnx").exists()
