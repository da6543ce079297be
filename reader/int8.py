"""Reads a reader back from its int8 ONNX (reader/model/reader-int8.onnx), so a further run can
start from the shipped model: the fp32 checkpoints of the runs that made it are gone.

`train.py export` quantises with onnxruntime's quantize_dynamic, which leaves two layouts:
  Linear weights   MatMulInteger(x_q, W_q, x_zero, W_zero), its result scaled by a Mul of
                   x_scale and W_scale: W_q int8 laid out (in, out) as MatMul reads it, one scale
                   and one zero point (always 0) per output column;
  embedding tables Gather(T_q, ids) then DequantizeLinear(., scale, zero): T_q uint8, one scale and
                   one zero point (128) for the whole table (per channel does not reach Gather).
Every other tensor (biases, LayerNorms) stays fp32 under the torch name export gave it
("m." + parameter). The quantised ones are found through the nodes that use them, whose names
torch export took from the module ("/m/layers.0/q/MatMul_quant", "/m/word/Gather").
"""
import re

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from bert import load_bge


class InitError(ValueError):
    """The ONNX is not a reader this loader can read into the model asked for."""


def onnx_layers(path: str) -> int:
    """Encoder layers of a reader ONNX, counted from its LayerNorm and bias names."""
    found = {int(m.group(1)) for t in onnx.load(path).graph.initializer if (m := re.match(r"m\.layers\.(\d+)\.", t.name))}
    if not found or found != set(range(len(found))):
        raise InitError(f"{path} holds no reader encoder layers m.layers.0 … (found {sorted(found)})")
    return len(found)


def _module(node) -> str:
    """'/m/layers.0/q/MatMul_quant' -> 'layers.0.q': the torch module the node was exported from."""
    m = re.fullmatch(r"/m/(.+)/[^/]+", node.name)
    if not m:
        raise InitError(f"node {node.name} ({node.op_type}) was not exported from the reader (no /m/ prefix)")
    return m.group(1).replace("/", ".")


def dequantized(path: str) -> dict:
    """Every parameter the ONNX holds, by its torch name: (fp32 array in torch's layout, where it
    came from, its quantisation step broadcastable to the array, 0 for fp32). Fails on an
    initializer it does not account for."""
    graph = onnx.load(path).graph
    init = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    by_name = {n.name: n for n in graph.node}
    readers = {}
    for n in graph.node:
        for i in n.input:
            readers.setdefault(i, []).append(n)
    out, used = {}, set()

    def put(param, array, source, step, names):
        if param in out:
            raise InitError(f"{param} is held twice in {path}: {out[param][1]} and {source}")
        out[param] = (array, source, step)
        used.update(names)

    for n in graph.node:
        if n.op_type == "MatMulInteger" and n.input[1] in init:
            w, zero = n.input[1], n.input[3]
            scales = by_name.get(n.name + "_scales_mul")
            scale = [i for i in scales.input if i in init] if scales else []
            if len(scale) != 1:
                raise InitError(f"{n.name}: no weight scale (expected a Mul {n.name}_scales_mul of x_scale and W_scale)")
            s = init[scale[0]]
            if s.ndim > 1 or (s.ndim == 1 and s.shape[0] not in (1, init[w].shape[1])):
                raise InitError(f"{n.name}: scale {scale[0]} {s.shape} is neither per tensor nor per output column of {w} {init[w].shape}")
            # (in, out) with one scale and zero point per output column; torch's Linear keeps (out, in).
            array = ((init[w].astype(np.float32) - init[zero].astype(np.float32)) * s).T
            step = s.reshape(-1, 1) if s.ndim else s
            put(_module(n) + ".weight", array, f"{w} {init[w].dtype} per column", step, [w, zero, scale[0]])
        elif n.op_type == "Gather" and n.input[0] in init:
            table = n.input[0]
            if init[table].dtype.kind == "f":
                raise InitError(
                    f"{path} is not quantised ({table} is {init[table].dtype}): --init-onnx reads train.py "
                    "export's int8 model; a run whose trained.pt is at hand starts from it with --init"
                )
            deq = readers.get(n.output[0], [])
            if len(deq) != 1 or deq[0].op_type != "DequantizeLinear":
                raise InitError(f"{n.name}: {table} is read without a DequantizeLinear after it")
            scale, zero = deq[0].input[1], deq[0].input[2]
            if init[scale].ndim != 0:
                raise InitError(f"{n.name}: {table}'s scale {scale} is {init[scale].shape}, not one for the table")
            array = (init[table].astype(np.float32) - init[zero].astype(np.float32)) * init[scale]
            put(_module(n) + ".weight", array, f"{table} {init[table].dtype} per table", init[scale], [table, zero, scale])
    for name, array in init.items():
        if name not in used and name.startswith("m.") and array.dtype == np.float32:
            put(name[2:], array, name, np.float32(0), [name])
    unused = sorted(set(init) - used)
    if unused:
        raise InitError(f"{path}: {len(unused)} initializers this loader does not read: {', '.join(unused[:5])}")
    return out


def within_half_step(read, fp32, step) -> float:
    """The largest difference between weights read back and the fp32 ones they were rounded from,
    in half quantisation steps: 1 at most when read right (a little room for the float rounding of
    the step itself); fp32 tensors (step 0) must be equal."""
    diff = np.abs(np.asarray(read, dtype=np.float64) - np.asarray(fp32, dtype=np.float64))
    half = np.broadcast_to(np.asarray(step, dtype=np.float64) / 2 * 1.001, diff.shape)
    if (diff[half == 0] > 0).any():
        return float("inf")
    return float(np.max(diff / np.where(half == 0, 1, half), initial=0.0))


def load_int8(path: str, base: str, layers: int) -> torch.nn.Module:
    """The reader whose int8 ONNX is `path`, in fp32, every parameter mapped explicitly.

    The word embeddings come from `base` (bge-small's fp32 ONNX) as in training, where they are
    frozen: the ONNX's uint8 copy of them is checked to be base's to within half a step and then
    left, since its step (0.011) would be rounding the training never saw."""
    found = onnx_layers(path)
    if found != layers:
        raise InitError(f"{path} has {found} encoder layers; --layers {layers} asks for another model")
    model = load_bge(base, layers)
    params = dict(model.named_parameters())
    held = dequantized(path)
    missing = sorted(set(params) - set(held))
    extra = sorted(set(held) - set(params))
    if missing or extra:
        raise InitError(f"{path} does not match the reader: no source for {missing}, no parameter for {extra}")
    for name, (array, source, _) in held.items():
        if tuple(array.shape) != tuple(params[name].shape):
            raise InitError(f"{name} is {tuple(params[name].shape)} in the reader, {tuple(array.shape)} from {source}")
    word, _, step = held["word.weight"]
    drift = within_half_step(word, model.word.weight.detach().numpy(), step)
    if drift > 1:
        raise InitError(
            f"{path}'s word table is {drift:.2f} half steps from {base}'s at most: "
            "it was not trained from this base, or its word embeddings were not frozen"
        )
    with torch.no_grad():
        for name, (array, _, _) in held.items():
            if name != "word.weight":
                params[name].copy_(torch.tensor(array))
    return model
