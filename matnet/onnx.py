"""Export a Network to ONNX, so any ONNX runtime can run it without matnet.

    import matnet.onnx
    matnet.onnx.export(net, "net.onnx")

    import onnxruntime
    session = onnxruntime.InferenceSession("net.onnx")
    outputs = session.run(None, {"X": X})[0]          # equals net.forward(X)

The graph is the forward pass of DESIGN.md §3, one layer at a time:

    Z_l = Gemm(A_{l-1}, W_l, b_l, transB=1)          A_{l-1} · W_lᵀ + b_l
    A_l = Sigmoid | Tanh | Relu | Softmax(axis=1)    (the identity adds no node)

``W_l`` is stored as the network keeps it, (n_out, n_in), hence ``transB=1``; ``b_l`` as a
vector (n_out,) that Gemm broadcasts over the rows.  The input ``X`` is (n_samples, n_inputs)
with a symbolic batch dimension, the output ``Y`` is (n_samples, n_outputs), both of the
network's dtype (float32 or float64: onnxruntime's CPU provider runs every node here in both).

Opset 13 is the oldest in which every operator used has its current meaning (Softmax
normalizes along one axis from 13 on), and the IR version written is the lowest that opset
needs, so the file loads in runtimes years old as well as new ones.
"""
import json

from . import __version__, io
from ._optional import require

OPSET = 13

# ONNX operator and attributes for each activation; None: no node (the identity).
_NODES = {
    "sigmoid": ("Sigmoid", {}),
    "tanh": ("Tanh", {}),
    "relu": ("Relu", {}),
    "softmax": ("Softmax", {"axis": 1}),
    "identity": None,
}


def export(net, path):
    """Write ``net`` to ``path`` as an ONNX model and return the ``onnx.ModelProto``.

    Parameters
    ----------
    net : matnet.Network
        A scikit-learn wrapper's network is its ``network_`` attribute.
    path : str or path-like
        Written atomically, as ``Network.save`` writes.

    The model's metadata holds the network's ``config`` as JSON under "matnet_config".
    """
    onnx = require("onnx", "onnx")
    helper = onnx.helper
    for layer, activation in enumerate(net.activations):
        if activation.name not in _NODES:
            raise ValueError(f"net: activation {activation.name!r} of layer {layer} has no ONNX "
                             f"export; supported: {', '.join(map(repr, _NODES))}")
    net._check_parameters()
    element_type = helper.np_dtype_to_tensor_dtype(net.dtype)

    nodes, initializers = [], []
    previous = "X"
    for layer, (w, b, activation) in enumerate(zip(net.weights, net.biases, net.activations)):
        initializers += [onnx.numpy_helper.from_array(w, f"W{layer}"),
                         onnx.numpy_helper.from_array(b.reshape(-1), f"b{layer}")]
        node = _NODES[activation.name]
        last = layer == len(net.weights) - 1
        gemm_out = "Y" if last and node is None else f"Z{layer}"
        nodes.append(helper.make_node("Gemm", [previous, f"W{layer}", f"b{layer}"], [gemm_out],
                                      name=f"gemm{layer}", transB=1))
        previous = gemm_out
        if node is not None:
            op, attributes = node
            out = "Y" if last else f"A{layer}"
            nodes.append(helper.make_node(op, [previous], [out], name=f"{activation.name}{layer}",
                                          **attributes))
            previous = out

    graph = helper.make_graph(
        nodes, "matnet",
        inputs=[helper.make_tensor_value_info("X", element_type, ["n_samples", net.sizes[0]])],
        outputs=[helper.make_tensor_value_info("Y", element_type, ["n_samples", net.sizes[-1]])],
        initializer=initializers,
    )
    opsets = [helper.make_opsetid("", OPSET)]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="matnet",
                              producer_version=__version__,
                              doc_string=f"matnet Network {net.sizes}: outputs equal Network.forward")
    model.ir_version = helper.find_min_ir_version_for(opsets)
    helper.set_model_props(model, {"matnet_config": json.dumps(net.config)})
    onnx.checker.check_model(model, full_check=True)
    io._write_atomically(path, lambda f: f.write(model.SerializeToString()))
    return model

