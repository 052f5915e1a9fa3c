"""Deployment: a trained network as an ONNX file that other frameworks run, checked against PyTorch.

An experiment's reconstruction software (C++) does not run Python: a tagger reaches it as a file in
the ONNX format (Open Neural Network Exchange), a graph of standard operators with the weights inside,
run there by ONNX Runtime. Three checks make that safe (the deployment item B12 of the applications
text on fast simulation): the exported graph is valid (``onnx.checker``), its outputs agree with
PyTorch's within float32 rounding for any batch size, and the same inputs (random numbers generated
outside the graph from a fixed seed) give bitwise identical outputs run after run.

The export uses PyTorch's TorchScript-based exporter (``dynamo=False``), which needs nothing beyond
``onnx``; the batch axis is left dynamic.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch

__all__ = ["export_onnx", "onnx_session", "onnx_predict"]


def export_onnx(model: torch.nn.Module, example: torch.Tensor | tuple, path: str | Path,
                input_names: tuple[str, ...] = ("x",), output_names: tuple[str, ...] = ("logit",),
                opset: int = 17) -> Path:
    """Write ``model`` (on the CPU, in eval mode) to ``path`` as ONNX, traced with the ``example``
    input(s); every input and output gets a dynamic first (batch) axis. Returns the path, after
    checking the file with ``onnx.checker.check_model``. Inputs the model never reads are dropped from the
    graph (the PFN takes ``(x, p4, mask)`` but its file only ``x`` and ``mask``)."""
    import onnx

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.to("cpu").eval()
    example = example if isinstance(example, tuple) else (example,)
    axes = {name: {0: "batch"} for name in (*input_names, *output_names)}
    with warnings.catch_warnings():               # the TorchScript exporter is marked deprecated in torch ≥ 2.9
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)   # Python branches on shapes: fine for a fixed graph
        torch.onnx.export(model, example, str(path), input_names=list(input_names), output_names=list(output_names),
                          dynamic_axes=axes, opset_version=opset, dynamo=False)
    onnx.checker.check_model(onnx.load(str(path)))
    return path


def onnx_session(path: str | Path, threads: int = 1):
    """An ONNX Runtime session on the CPU with ``threads`` threads (one thread: reproducible to the bit)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = int(threads)
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def onnx_predict(session, *arrays) -> np.ndarray:
    """Run ``session`` on float32 inputs (in the order of its inputs); returns the first output."""
    names = [i.name for i in session.get_inputs()]
    if len(arrays) != len(names):
        raise ValueError(f"the model takes {len(names)} inputs ({', '.join(names)}), got {len(arrays)}")
    feeds = {n: np.ascontiguousarray(a, dtype=np.float32) if np.asarray(a).dtype.kind == "f" else np.asarray(a)
             for n, a in zip(names, arrays)}
    return session.run(None, feeds)[0]
