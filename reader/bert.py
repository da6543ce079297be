"""A small BERT in PyTorch that loads bge-small-en-v1.5's weights from its ONNX export.

The Maven jar ships the model as ONNX only; its initializers name every tensor (the MatMul
weights by the node that uses them), so the encoder is rebuilt here layer for layer and keeps
only the first `layers` of the twelve. The reader adds two heads on top: a relevance logit on
[CLS] (does this sentence answer the question?) and start/end logits on every token (where in
the sentence the short answer is).
"""
import math

import onnx
import torch
from onnx import numpy_helper
from torch import nn

HIDDEN = 384
HEADS = 12
FFN = 1536
EPS = 1e-12


class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.q = nn.Linear(HIDDEN, HIDDEN)
        self.k = nn.Linear(HIDDEN, HIDDEN)
        self.v = nn.Linear(HIDDEN, HIDDEN)
        self.o = nn.Linear(HIDDEN, HIDDEN)
        self.ln1 = nn.LayerNorm(HIDDEN, eps=EPS)
        self.ff1 = nn.Linear(HIDDEN, FFN)
        self.ff2 = nn.Linear(FFN, HIDDEN)
        self.ln2 = nn.LayerNorm(HIDDEN, eps=EPS)
        self.drop = nn.Dropout(0.1)

    def forward(self, x, bias):
        b, t, _ = x.shape
        d = HIDDEN // HEADS

        def heads(z):
            return z.view(b, t, HEADS, d).transpose(1, 2)

        q, k, v = heads(self.q(x)), heads(self.k(x)), heads(self.v(x))
        att = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d) + bias
        att = self.drop(torch.softmax(att, dim=-1))
        ctx = torch.matmul(att, v).transpose(1, 2).reshape(b, t, HIDDEN)
        x = self.ln1(x + self.drop(self.o(ctx)))
        h = nn.functional.gelu(self.ff1(x))
        return self.ln2(x + self.drop(self.ff2(h)))


class Reader(nn.Module):
    def __init__(self, layers: int):
        super().__init__()
        self.word = nn.Embedding(30522, HIDDEN)
        self.pos = nn.Embedding(512, HIDDEN)
        self.typ = nn.Embedding(2, HIDDEN)
        self.ln = nn.LayerNorm(HIDDEN, eps=EPS)
        self.layers = nn.ModuleList([Layer() for _ in range(layers)])
        self.drop = nn.Dropout(0.1)
        # Relevance reads [CLS] and the mean of the sentence's tokens: the first model, with a head
        # on [CLS] alone, collapsed to the prior (every pair 0.28) while its span head learnt.
        self.relevance = nn.Linear(2 * HIDDEN, 1)
        self.span = nn.Linear(HIDDEN, 2)

    def encode(self, input_ids, attention_mask, token_type_ids):
        t = input_ids.shape[1]
        positions = torch.arange(t, device=input_ids.device).unsqueeze(0)
        x = self.word(input_ids) + self.pos(positions) + self.typ(token_type_ids)
        x = self.drop(self.ln(x))
        bias = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * -10000.0
        for layer in self.layers:
            x = layer(x, bias)
        return x

    def forward(self, input_ids, attention_mask, token_type_ids):
        x = self.encode(input_ids, attention_mask, token_type_ids)
        inside = ((token_type_ids == 1) & (attention_mask == 1)).to(x.dtype).unsqueeze(-1)
        mean = (x * inside).sum(1) / inside.sum(1).clamp(min=1.0)
        relevance = self.relevance(self.drop(torch.cat([x[:, 0], mean], 1))).squeeze(-1)
        span = self.span(x)
        # Tokens outside the sentence (question, padding) can never start or end the answer.
        outside = (token_type_ids == 0) | (attention_mask == 0)
        start = span[..., 0].masked_fill(outside, -10000.0)
        end = span[..., 1].masked_fill(outside, -10000.0)
        return relevance, start, end


def load_bge(path: str, layers: int) -> Reader:
    """The first `layers` encoder layers of bge-small-en-v1.5's ONNX export, heads freshly initialised."""
    model = onnx.load(path)
    init = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in model.graph.initializer}
    matmul = {}
    for node in model.graph.node:
        if node.op_type == "MatMul" and node.input[1] in init:
            matmul[node.name] = init[node.input[1]]
    r = Reader(layers)
    with torch.no_grad():
        r.word.weight.copy_(init["embeddings.word_embeddings.weight"])
        r.pos.weight.copy_(init["embeddings.position_embeddings.weight"])
        r.typ.weight.copy_(init["embeddings.token_type_embeddings.weight"])
        r.ln.weight.copy_(init["embeddings.LayerNorm.weight"])
        r.ln.bias.copy_(init["embeddings.LayerNorm.bias"])
        for i, layer in enumerate(r.layers):
            p = f"encoder.layer.{i}."
            n = f"/encoder/layer.{i}/"
            for lin, w, b in [
                (layer.q, "attention/self/query/MatMul", "attention.self.query.bias"),
                (layer.k, "attention/self/key/MatMul", "attention.self.key.bias"),
                (layer.v, "attention/self/value/MatMul", "attention.self.value.bias"),
                (layer.o, "attention/output/dense/MatMul", "attention.output.dense.bias"),
                (layer.ff1, "intermediate/dense/MatMul", "intermediate.dense.bias"),
                (layer.ff2, "output/dense/MatMul", "output.dense.bias"),
            ]:
                lin.weight.copy_(matmul[n + w].T)
                lin.bias.copy_(init[p + b])
            layer.ln1.weight.copy_(init[p + "attention.output.LayerNorm.weight"])
            layer.ln1.bias.copy_(init[p + "attention.output.LayerNorm.bias"])
            layer.ln2.weight.copy_(init[p + "output.LayerNorm.weight"])
            layer.ln2.bias.copy_(init[p + "output.LayerNorm.bias"])
    return r
