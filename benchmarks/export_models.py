#!/usr/bin/python3
# Exports the benchmark models (BERT-base encoder, GPT-2-small decoder; plain torch modules,
# seeded random weights) to ONNX opset 17 with a dynamic sequence axis, plus seeded inputs.
"""Writes benchmarks/models/{bert_base,gpt2_small}.onnx (git-ignored) and, with --inputs,
.npy inputs for given sequence lengths.

Run with Debian's python3 (torch 1.13, onnx 1.12):
    /usr/bin/python3 benchmarks/export_models.py [--out DIR] [--models bert_base,gpt2_small]
    /usr/bin/python3 benchmarks/export_models.py --inputs 128,256 [--out DIR]
    /usr/bin/python3 benchmarks/export_models.py --flops 128

The architectures follow the published configurations (BERT-base: 12 post-LN layers, d=768,
12 heads, FFN 3072, vocab 30522, erf GELU; GPT-2-small: 12 pre-LN layers, d=768, 12 heads,
tanh GELU, causal mask from a tril buffer, 50257-word tied LM head). Weights are random
(std 0.02, as the originals are initialised) since only speed and agreement between runtimes
are measured, not accuracy.
"""

import argparse
import math
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
D, HEADS, LAYERS, FFN = 768, 12, 12, 3072
BERT_VOCAB, GPT2_VOCAB = 30522, 50257
BERT_MAX_POS, GPT2_MAX_POS = 512, 1024
MODELS = ("bert_base", "gpt2_small")


def build_modules():
    """Defines the torch modules (torch is imported lazily: --flops needs only numpy)."""
    import torch
    import torch.nn as nn

    class BertLayer(nn.Module):
        def __init__(self):
            super().__init__()
            self.query = nn.Linear(D, D)
            self.key = nn.Linear(D, D)
            self.value = nn.Linear(D, D)
            self.attn_out = nn.Linear(D, D)
            self.attn_ln = nn.LayerNorm(D, eps=1e-12)
            self.inter = nn.Linear(D, FFN)
            self.gelu = nn.GELU()  # erf form
            self.out = nn.Linear(FFN, D)
            self.out_ln = nn.LayerNorm(D, eps=1e-12)

        def heads_first(self, x):
            b, s, _ = x.shape
            return x.view(b, s, HEADS, D // HEADS).permute(0, 2, 1, 3)

        def forward(self, x, ext_mask):
            b, s, _ = x.shape
            q = self.heads_first(self.query(x))
            k = self.heads_first(self.key(x))
            v = self.heads_first(self.value(x))
            scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(D // HEADS)
            probs = torch.softmax(scores + ext_mask, dim=-1)
            ctx = torch.matmul(probs, v).permute(0, 2, 1, 3).reshape(b, s, D)
            x = self.attn_ln(self.attn_out(ctx) + x)
            return self.out_ln(self.out(self.gelu(self.inter(x))) + x)

    class BertBase(nn.Module):
        def __init__(self):
            super().__init__()
            self.word = nn.Embedding(BERT_VOCAB, D)
            self.pos = nn.Embedding(BERT_MAX_POS, D)
            self.token_type = nn.Embedding(2, D)
            self.emb_ln = nn.LayerNorm(D, eps=1e-12)
            self.layers = nn.ModuleList([BertLayer() for _ in range(LAYERS)])

        def forward(self, input_ids, attention_mask):
            s = input_ids.shape[1]
            pos = torch.arange(s, dtype=torch.long).unsqueeze(0)
            types = torch.zeros_like(input_ids)
            x = self.emb_ln(self.word(input_ids) + self.pos(pos) + self.token_type(types))
            ext = attention_mask[:, None, None, :].to(torch.float32)
            ext = (1.0 - ext) * -10000.0
            for layer in self.layers:
                x = layer(x, ext)
            return x

    class GPT2Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn = nn.Linear(D, 3 * D)
            self.c_proj = nn.Linear(D, D)
            tril = torch.tril(torch.ones(GPT2_MAX_POS, GPT2_MAX_POS, dtype=torch.uint8))
            self.register_buffer("bias", tril.view(1, 1, GPT2_MAX_POS, GPT2_MAX_POS))

        def split(self, x):
            b, s, _ = x.shape
            return x.view(b, s, HEADS, D // HEADS).permute(0, 2, 1, 3)

        def forward(self, x):
            b, s, _ = x.shape
            q, k, v = self.c_attn(x).split(D, dim=2)
            q, k, v = self.split(q), self.split(k), self.split(v)
            w = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(D // HEADS)
            causal = self.bias[:, :, :s, :s]
            w = w.masked_fill(causal == 0, float("-inf"))
            w = torch.softmax(w, dim=-1)
            o = torch.matmul(w, v).permute(0, 2, 1, 3).contiguous().view(b, s, D)
            return self.c_proj(o)

    class GPT2Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = nn.LayerNorm(D)
            self.attn = GPT2Attention()
            self.ln_2 = nn.LayerNorm(D)
            self.mlp = nn.Sequential(
                nn.Linear(D, FFN), nn.GELU(approximate="tanh"), nn.Linear(FFN, D)
            )

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class GPT2Small(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(GPT2_VOCAB, D)
            self.wpe = nn.Embedding(GPT2_MAX_POS, D)
            self.h = nn.ModuleList([GPT2Block() for _ in range(LAYERS)])
            self.ln_f = nn.LayerNorm(D)

        def forward(self, input_ids):
            s = input_ids.shape[1]
            pos = torch.arange(s, dtype=torch.long).unsqueeze(0)
            x = self.wte(input_ids) + self.wpe(pos)
            for block in self.h:
                x = block(x)
            x = self.ln_f(x)
            return torch.matmul(x, self.wte.weight.t())  # tied LM head

    return {"bert_base": BertBase, "gpt2_small": GPT2Small}


def init_weights(model, seed):
    """Deterministic N(0, 0.02) weights and biases; LayerNorms start at scale 1, shift 0."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.02)
        for m in model.modules():
            if isinstance(m, torch.nn.LayerNorm):
                m.weight.fill_(1.0)
                m.bias.zero_()


def input_names(model):
    return ["input_ids", "attention_mask"] if model == "bert_base" else ["input_ids"]


def output_name(model):
    return "last_hidden_state" if model == "bert_base" else "logits"


def make_inputs(model, seq, seed=1234):
    """Seeded inputs [1, seq] int64: random token ids; an all-ones attention mask."""
    rng = np.random.default_rng(seed + seq)
    vocab = BERT_VOCAB if model == "bert_base" else GPT2_VOCAB
    inputs = {"input_ids": rng.integers(0, vocab, size=(1, seq), dtype=np.int64)}
    if model == "bert_base":
        inputs["attention_mask"] = np.ones((1, seq), dtype=np.int64)
    return inputs


def flops(model, seq):
    """FP32 FLOPs of one forward pass: 2*M*K*N per matmul, 4*S^2*d per layer for
    attention (Q.K^T and P.V over all heads); elementwise work is not counted."""
    s = seq
    per_layer = 2 * s * D * (3 * D)  # Q, K, V projections
    per_layer += 2 * s * D * D  # attention output projection
    per_layer += 2 * (2 * s * D * FFN)  # FFN up and down
    per_layer += 4 * s * s * D  # Q.K^T and P.V, all heads
    total = LAYERS * per_layer
    if model == "gpt2_small":
        total += 2 * s * D * GPT2_VOCAB  # tied LM head
    return total


def export(model_name, out_dir, trace_seq=16):
    import torch

    torch.manual_seed(0)
    model = build_modules()[model_name]()
    init_weights(model, seed=MODELS.index(model_name) + 1)
    model.eval()
    example = make_inputs(model_name, trace_seq)
    args = tuple(torch.from_numpy(example[n]) for n in input_names(model_name))
    path = os.path.join(out_dir, model_name + ".onnx")
    dyn = {n: {1: "seq"} for n in input_names(model_name)}
    dyn[output_name(model_name)] = {1: "seq"}
    with torch.no_grad():
        torch.onnx.export(
            model,
            args,
            path,
            input_names=input_names(model_name),
            output_names=[output_name(model_name)],
            dynamic_axes=dyn,
            opset_version=17,
            do_constant_folding=True,
        )
    size = os.path.getsize(path)
    print(f"wrote {path} ({size / 1e6:.0f} MB)")
    if size > 2_000_000_000:
        sys.exit("error: model over 2 GB; export with external data")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(HERE, "models"))
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--inputs", help="comma-separated sequence lengths: write only inputs")
    ap.add_argument("--flops", type=int, help="print each model's FLOPs at this length")
    args = ap.parse_args()
    models = [m for m in args.models.split(",") if m]
    for m in models:
        if m not in MODELS:
            sys.exit(f"error: unknown model '{m}' (known: {', '.join(MODELS)})")
    os.makedirs(args.out, exist_ok=True)
    if args.flops:
        for m in models:
            print(f"{m} {flops(m, args.flops)}")
        return
    if args.inputs:
        for m in models:
            for seq in (int(x) for x in args.inputs.split(",")):
                d = os.path.join(args.out, "inputs", f"{m}_s{seq}")
                os.makedirs(d, exist_ok=True)
                for name, value in make_inputs(m, seq).items():
                    np.save(os.path.join(d, name + ".npy"), value)
                print(f"wrote {d}/")
        return
    for m in models:
        export(m, args.out)


if __name__ == "__main__":
    main()
