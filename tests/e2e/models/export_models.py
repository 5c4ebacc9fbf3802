#!/usr/bin/python3
# Exports the small transformer models behind kiln's e2e tests to ONNX (opsets 14 and 17),
# with seeded inputs and the torch outputs kiln must reproduce. Run with Debian's python3
# (torch 1.13, onnx 1.12): /usr/bin/python3 tests/e2e/models/export_models.py
"""Writes <name>_op<opset>/{model.onnx, inputs/*.npy, outputs/*.npy, manifest.json}.

Every model is plain torch with seeded random weights; the outputs are what torch computes
for the saved inputs. Test inputs deliberately use other batch/sequence sizes than the
export trace wherever the export has symbolic dims, so baked-in shapes would show up.
The files are committed: CI needs no torch. Re-running the script reproduces them.
"""

import argparse
import json
import math
import os
import shutil
import sys

import numpy as np
import onnx
from check_exports import check
import torch
import torch.nn as nn
import torch.nn.functional as F

VOCAB = 100
OPSETS = (14, 17)
HERE = os.path.dirname(os.path.abspath(__file__))


# ----------------------------------------------------------------------------------------
# (a) GPT-2 style decoder: pre-LN, causal mask from a `tril` buffer, tanh GELU, tied head.
# ----------------------------------------------------------------------------------------
class GPT2Attention(nn.Module):
    def __init__(self, d, heads, max_pos):
        super().__init__()
        self.heads = heads
        self.c_attn = nn.Linear(d, 3 * d)
        self.c_proj = nn.Linear(d, d)
        tril = torch.tril(torch.ones(max_pos, max_pos, dtype=torch.uint8))
        self.register_buffer("bias", tril.view(1, 1, max_pos, max_pos))

    def split(self, x):
        b, s, d = x.shape
        return x.view(b, s, self.heads, d // self.heads).permute(0, 2, 1, 3)

    def forward(self, x):
        b, s, d = x.shape
        q, k, v = self.c_attn(x).split(d, dim=2)
        q, k, v = self.split(q), self.split(k), self.split(v)
        w = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d // self.heads)
        causal = self.bias[:, :, :s, :s]
        w = w.masked_fill(causal == 0, float("-inf"))
        w = torch.softmax(w, dim=-1)
        o = torch.matmul(w, v).permute(0, 2, 1, 3).contiguous().view(b, s, d)
        return self.c_proj(o)


class GPT2Block(nn.Module):
    def __init__(self, d, heads, max_pos):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d)
        self.attn = GPT2Attention(d, heads, max_pos)
        self.ln_2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(
            nn.Linear(d, 4 * d), nn.GELU(approximate="tanh"), nn.Linear(4 * d, d)
        )

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT2(nn.Module):
    def __init__(self, d=64, heads=4, layers=2, max_pos=64):
        super().__init__()
        self.wte = nn.Embedding(VOCAB, d)
        self.wpe = nn.Embedding(max_pos, d)
        self.h = nn.ModuleList([GPT2Block(d, heads, max_pos) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(d)

    def forward(self, input_ids):
        s = input_ids.shape[1]
        pos = torch.arange(s, dtype=torch.long, device=input_ids.device).unsqueeze(0)
        x = self.wte(input_ids) + self.wpe(pos)
        for block in self.h:
            x = block(x)
        x = self.ln_f(x)
        return torch.matmul(x, self.wte.weight.t())  # tied unembedding


# ----------------------------------------------------------------------------------------
# (b) BERT style encoder: post-LN, additive padding mask (1-m)*-10000, erf GELU.
#     q_scale=True applies 1/sqrt(dh) to Q before Q.K^T (as some exporters fold it).
# ----------------------------------------------------------------------------------------
class BertLayer(nn.Module):
    def __init__(self, d, heads, q_scale):
        super().__init__()
        self.heads, self.q_scale = heads, q_scale
        self.query = nn.Linear(d, d)
        self.key = nn.Linear(d, d)
        self.value = nn.Linear(d, d)
        self.attn_out = nn.Linear(d, d)
        self.attn_ln = nn.LayerNorm(d, eps=1e-12)
        self.inter = nn.Linear(d, 4 * d)
        self.gelu = nn.GELU()
        self.out = nn.Linear(4 * d, d)
        self.out_ln = nn.LayerNorm(d, eps=1e-12)

    def heads_first(self, x):
        b, s, d = x.shape
        return x.view(b, s, self.heads, d // self.heads).permute(0, 2, 1, 3)

    def forward(self, x, ext_mask):
        b, s, d = x.shape
        dh = d // self.heads
        q = self.heads_first(self.query(x))
        k = self.heads_first(self.key(x))
        v = self.heads_first(self.value(x))
        if self.q_scale:
            scores = torch.matmul(q * (1.0 / math.sqrt(dh)), k.transpose(-1, -2))
        else:
            scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(dh)
        probs = torch.softmax(scores + ext_mask, dim=-1)
        ctx = torch.matmul(probs, v).permute(0, 2, 1, 3).reshape(b, s, d)
        x = self.attn_ln(self.attn_out(ctx) + x)
        return self.out_ln(self.out(self.gelu(self.inter(x))) + x)


class Bert(nn.Module):
    def __init__(self, d=64, heads=4, layers=2, max_pos=64, q_scale=False):
        super().__init__()
        self.word = nn.Embedding(VOCAB, d)
        self.pos = nn.Embedding(max_pos, d)
        self.token_type = nn.Embedding(2, d)
        self.emb_ln = nn.LayerNorm(d, eps=1e-12)
        self.layers = nn.ModuleList([BertLayer(d, heads, q_scale) for _ in range(layers)])
        self.pooler = nn.Linear(d, d)

    def forward(self, input_ids, attention_mask):
        s = input_ids.shape[1]
        pos = torch.arange(s, dtype=torch.long).unsqueeze(0)
        types = torch.zeros_like(input_ids)
        x = self.emb_ln(self.word(input_ids) + self.pos(pos) + self.token_type(types))
        ext = attention_mask[:, None, None, :].to(torch.float32)
        ext = (1.0 - ext) * -10000.0
        for layer in self.layers:
            x = layer(x, ext)
        pooled = torch.tanh(self.pooler(x[:, 0]))
        return x, pooled


# ----------------------------------------------------------------------------------------
# (c) Encoder-decoder with cross-attention, written with torch.nn.functional by hand.
# ----------------------------------------------------------------------------------------
def sinusoid_table(max_pos, d):
    pos = torch.arange(max_pos, dtype=torch.float32)[:, None]
    i = torch.arange(0, d, 2, dtype=torch.float32)[None, :]
    angle = pos / torch.pow(10000.0, i / d)
    table = torch.zeros(max_pos, d)
    table[:, 0::2] = torch.sin(angle)
    table[:, 1::2] = torch.cos(angle)
    return table


def mha(p, prefix, x, mem, heads, mask):
    """Multi-head attention of x (queries) over mem (keys/values); mask is additive."""
    b, sq, d = x.shape
    sk = mem.shape[1]
    dh = d // heads
    q = F.linear(x, p[prefix + "wq"], p[prefix + "bq"])
    k = F.linear(mem, p[prefix + "wk"], p[prefix + "bk"])
    v = F.linear(mem, p[prefix + "wv"], p[prefix + "bv"])
    q = q.reshape(b, sq, heads, dh).transpose(1, 2)
    k = k.reshape(b, sk, heads, dh).transpose(1, 2)
    v = v.reshape(b, sk, heads, dh).transpose(1, 2)
    scores = torch.matmul(q, k.transpose(2, 3)) * (dh ** -0.5)
    if mask is not None:
        scores = scores + mask
    o = torch.matmul(F.softmax(scores, dim=-1), v).transpose(1, 2).reshape(b, sq, d)
    return F.linear(o, p[prefix + "wo"], p[prefix + "bo"])


class Seq2Seq(nn.Module):
    def __init__(self, d=48, heads=4, enc_layers=2, dec_layers=2, ffn=96, max_pos=64):
        super().__init__()
        self.d, self.heads = d, heads
        self.enc_layers, self.dec_layers = enc_layers, dec_layers
        self.p = nn.ParameterDict()

        def param(name, *shape, scale=None):
            scale = scale if scale is not None else 1.0 / math.sqrt(shape[-1])
            self.p[name] = nn.Parameter(torch.randn(*shape) * scale)

        def attn(prefix):
            for n in ("q", "k", "v", "o"):
                param(prefix + "w" + n, d, d)
                param(prefix + "b" + n, d, scale=0.02)

        def norm(prefix):
            self.p[prefix + "g"] = nn.Parameter(1.0 + 0.1 * torch.randn(d))
            self.p[prefix + "b"] = nn.Parameter(0.1 * torch.randn(d))

        def ffn_block(prefix):
            param(prefix + "w1", ffn, d)
            param(prefix + "b1", ffn, scale=0.02)
            param(prefix + "w2", d, ffn)
            param(prefix + "b2", d, scale=0.02)

        param("src_emb", VOCAB, d, scale=1.0)
        param("tgt_emb", VOCAB, d, scale=1.0)
        for i in range(enc_layers):
            attn(f"enc{i}_sa_"), norm(f"enc{i}_ln1_"), ffn_block(f"enc{i}_ff_"), norm(f"enc{i}_ln2_")
        for i in range(dec_layers):
            attn(f"dec{i}_sa_"), norm(f"dec{i}_ln1_")
            attn(f"dec{i}_ca_"), norm(f"dec{i}_ln2_")
            ffn_block(f"dec{i}_ff_"), norm(f"dec{i}_ln3_")
        param("out_w", VOCAB, d)
        self.register_buffer("pe", sinusoid_table(max_pos, d))

    def ln(self, prefix, x):
        return F.layer_norm(x, (self.d,), self.p[prefix + "g"], self.p[prefix + "b"], 1e-5)

    def ff(self, prefix, x):
        h = F.relu(F.linear(x, self.p[prefix + "w1"], self.p[prefix + "b1"]))
        return F.linear(h, self.p[prefix + "w2"], self.p[prefix + "b2"])

    def forward(self, src_ids, tgt_ids):
        p, d = self.p, self.d
        ss, st = src_ids.shape[1], tgt_ids.shape[1]
        x = F.embedding(src_ids, p["src_emb"]) * math.sqrt(d) + self.pe[:ss]
        for i in range(self.enc_layers):  # post-LN encoder, no padding
            x = self.ln(f"enc{i}_ln1_", x + mha(p, f"enc{i}_sa_", x, x, self.heads, None))
            x = self.ln(f"enc{i}_ln2_", x + self.ff(f"enc{i}_ff_", x))
        memory = x
        # causal mask built at run time from positions: 0 on/below the diagonal, -inf above.
        idx = torch.arange(st)
        causal = torch.zeros(st, st).masked_fill(idx[None, :] > idx[:, None], float("-inf"))
        y = F.embedding(tgt_ids, p["tgt_emb"]) * math.sqrt(d) + self.pe[:st]
        for i in range(self.dec_layers):
            y = self.ln(f"dec{i}_ln1_", y + mha(p, f"dec{i}_sa_", y, y, self.heads, causal))
            y = self.ln(f"dec{i}_ln2_", y + mha(p, f"dec{i}_ca_", y, memory, self.heads, None))
            y = self.ln(f"dec{i}_ln3_", y + self.ff(f"dec{i}_ff_", y))
        return F.linear(y, p["out_w"])


# ----------------------------------------------------------------------------------------
# (d) Mixture-of-experts block: pre-LN attention + MoE FFN (softmax router, top-2 of 4).
#     combine="scatter": top-k weights scattered into a dense [N,E] table (ScatterElements);
#     combine="onehot": one-hot of the chosen experts by comparison with arange (Equal/Where).
# ----------------------------------------------------------------------------------------
class MoEBlock(nn.Module):
    def __init__(self, d=32, heads=2, experts=4, top_k=2, ffn=64, combine="scatter"):
        super().__init__()
        self.d, self.heads, self.experts, self.top_k = d, heads, experts, top_k
        self.combine = combine
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.router = nn.Linear(d, experts, bias=False)
        self.w1 = nn.Parameter(torch.randn(experts, d, ffn) / math.sqrt(d))
        self.b1 = nn.Parameter(0.02 * torch.randn(experts, 1, ffn))
        self.w2 = nn.Parameter(torch.randn(experts, ffn, d) / math.sqrt(ffn))
        self.b2 = nn.Parameter(0.02 * torch.randn(experts, 1, d))

    def routing(self, h):
        """Router probabilities [N,E] and the dense combine weights [N,E] (zero off top-k)."""
        probs = torch.softmax(self.router(h), dim=-1)
        top_w, top_i = torch.topk(probs, self.top_k, dim=-1)
        top_w = top_w / top_w.sum(dim=-1, keepdim=True)
        if self.combine == "scatter":
            dense = torch.zeros_like(probs).scatter(1, top_i, top_w)
        else:
            ids = torch.arange(self.experts)
            onehot = (top_i.unsqueeze(-1) == ids).to(h.dtype)  # [N,k,E]
            dense = (onehot * top_w.unsqueeze(-1)).sum(dim=1)
        return probs, dense

    def forward(self, x):
        b, s, d = x.shape
        h = self.ln1(x)
        q, k, v = self.qkv(h).reshape(b, s, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // self.heads), dim=-1)
        x = x + self.proj((att @ v).transpose(1, 2).reshape(b, s, d))
        h = self.ln2(x).reshape(b * s, d)
        probs, dense = self.routing(h)
        # every expert on every token (dense compute), then the gated combination.
        inner = F.gelu(torch.matmul(h.unsqueeze(0), self.w1) + self.b1)  # [E,N,F]
        outs = torch.matmul(inner, self.w2) + self.b2  # [E,N,d]
        moe = (outs * dense.t().unsqueeze(-1)).sum(dim=0)
        return x + moe.reshape(b, s, d), probs.reshape(b, s, self.experts)


# ----------------------------------------------------------------------------------------
# Export
# ----------------------------------------------------------------------------------------
def ids(gen, b, s):
    return torch.randint(0, VOCAB, (b, s), generator=gen, dtype=torch.long)


def moe_gap_ok(model, x, min_gap=1e-3):
    """True when, for every token, the k-th and (k+1)-th router probabilities are far enough
    apart that float rounding cannot change which experts top-k picks."""
    with torch.no_grad():
        probs = model(x)[1].reshape(-1, model.experts)
    srt = torch.sort(probs, dim=-1, descending=True).values
    return bool((srt[:, model.top_k - 1] - srt[:, model.top_k] > min_gap).all())


def specs():
    """(name, builder) pairs; a builder returns (model, trace inputs, test inputs, input
    names, output names, dynamic axes)."""

    def gpt2():
        torch.manual_seed(1)
        m = GPT2()
        g = torch.Generator().manual_seed(11)
        return (m, (ids(g, 1, 8),), (ids(g, 2, 5),), ["input_ids"], ["logits"],
                {"input_ids": {0: "batch", 1: "seq"}, "logits": {0: "batch", 1: "seq"}})

    def bert(q_scale):
        def build():
            torch.manual_seed(2 if not q_scale else 3)
            m = Bert(q_scale=q_scale)
            g = torch.Generator().manual_seed(12)
            mask_trace = torch.ones(1, 8, dtype=torch.long)
            mask_test = torch.tensor([[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0, 0]])
            axes = {"batch": 0, "seq": 1}
            dyn = {n: {0: "batch", 1: "seq"} for n in ("input_ids", "attention_mask", "last_hidden_state")}
            dyn["pooler_output"] = {0: "batch"}
            return (m, (ids(g, 1, 8), mask_trace), (ids(g, 2, 7), mask_test),
                    ["input_ids", "attention_mask"], ["last_hidden_state", "pooler_output"], dyn)
        return build

    def seq2seq():
        torch.manual_seed(4)
        m = Seq2Seq()
        g = torch.Generator().manual_seed(13)
        dyn = {"src_ids": {0: "batch", 1: "src_seq"}, "tgt_ids": {0: "batch", 1: "tgt_seq"},
               "logits": {0: "batch", 1: "tgt_seq"}}
        return (m, (ids(g, 1, 9), ids(g, 1, 6)), (ids(g, 2, 7), ids(g, 2, 5)),
                ["src_ids", "tgt_ids"], ["logits"], dyn)

    def moe(combine, seed):
        def build():
            torch.manual_seed(seed)
            m = MoEBlock(combine=combine)
            g = torch.Generator().manual_seed(seed + 10)
            for _ in range(100):  # deterministic: first draw whose routing is unambiguous
                x = torch.randn(2, 6, 32, generator=g)
                if moe_gap_ok(m, x):
                    break
            else:
                raise RuntimeError("no unambiguous MoE test input found")
            trace = torch.randn(1, 4, 32, generator=g)
            dyn = {"hidden_states": {0: "batch", 1: "seq"}, "output": {0: "batch", 1: "seq"},
                   "router_probs": {0: "batch", 1: "seq"}}
            return (m, (trace,), (x,), ["hidden_states"], ["output", "router_probs"], dyn)
        return build

    return [
        ("gpt2", gpt2),
        ("bert", bert(False)),
        ("bert_qscale", bert(True)),
        ("seq2seq", seq2seq),
        ("moe_scatter", moe("scatter", 5)),
        ("moe_onehot", moe("onehot", 6)),
    ]


def export_one(out_root, name, build, opset):
    model, trace_in, test_in, in_names, out_names, dyn = build()
    model.eval()
    d = os.path.join(out_root, f"{name}_op{opset}")
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(os.path.join(d, "inputs"))
    os.makedirs(os.path.join(d, "outputs"))
    path = os.path.join(d, "model.onnx")
    with torch.no_grad():
        torch.onnx.export(model, trace_in, path, opset_version=opset, input_names=in_names,
                          output_names=out_names, dynamic_axes=dyn, do_constant_folding=True)
        outs = model(*test_in)
    if isinstance(outs, torch.Tensor):
        outs = (outs,)
    onnx.checker.check_model(onnx.load(path), full_check=True)  # types too
    size = os.path.getsize(path)
    if size >= 2 * 1024 * 1024:
        raise RuntimeError(f"{path} is {size} bytes, over the 2 MB budget")

    def describe(n, t):
        return {"name": n, "dtype": str(t.numpy().dtype), "shape": list(t.shape)}

    for n, t in zip(in_names, test_in):
        np.save(os.path.join(d, "inputs", n + ".npy"), t.numpy())
    for n, t in zip(out_names, outs):
        np.save(os.path.join(d, "outputs", n + ".npy"), t.numpy().astype(np.float32))
    manifest = {
        "model": name,
        "opset": opset,
        "inputs": [describe(n, t) for n, t in zip(in_names, test_in)],
        "outputs": [describe(n, t) for n, t in zip(out_names, outs)],
        "dynamic_axes": {k: {str(a): v for a, v in ax.items()} for k, ax in dyn.items()},
        "generator": "tests/e2e/models/export_models.py (torch %s, onnx %s)"
                     % (torch.__version__.split("+")[0], onnx.__version__),
    }
    with open(os.path.join(d, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"{name}_op{opset}: {size} bytes, inputs {[list(t.shape) for t in test_in]}")
    if not check(d):  # the ONNX graph itself must reproduce torch at the test shapes
        raise RuntimeError(f"{d}: exported graph disagrees with torch")


def write_perturbed(out_root):
    """The negative e2e test's expected output: gpt2_op14's logits with one element moved
    by 5x the runner's tolerance, which kiln-e2e --outputs must reject."""
    src = os.path.join(out_root, "gpt2_op14", "outputs", "logits.npy")
    logits = np.load(src)
    logits[1, 3, 42] += 5e-4 * max(1.0, float(np.abs(logits).max()))
    d = os.path.join(out_root, os.pardir, "negative", "gpt2_op14_perturbed")
    os.makedirs(d, exist_ok=True)
    np.save(os.path.join(d, "logits.npy"), logits)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=HERE, help="directory receiving the model folders")
    ap.add_argument("--only", default=None, help="export only this model name")
    args = ap.parse_args()
    torch.set_num_threads(1)  # bitwise-stable results run to run
    for name, build in specs():
        if args.only and name != args.only:
            continue
        for opset in OPSETS:
            export_one(args.out, name, build, opset)
    if not args.only or args.only == "gpt2":
        write_perturbed(args.out)


if __name__ == "__main__":
    sys.exit(main())
