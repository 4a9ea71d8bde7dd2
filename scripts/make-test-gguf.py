#!/usr/bin/env python3
# Writes a small random-weight GGUF of a chosen architecture, weight type and
# tokenizer for the engine's agreement check against llama.cpp
# (tests/cli/engine_llama.sh) and bench/engine_bench.sh.
# Usage: make-test-gguf.py [--arch llama|qwen2|qwen3] [--type f32|f16|bf16|q8_0|q4_0]
#          [--tok spm|bpe] [--pre llama3|qwen2|gpt2|default] [--dim N] [--layers N] [--ff N]
#          [--heads N] [--kv-heads N] [--tied] [--seed N] [--src LLAMA_SRC] OUT.gguf
# Needs numpy and yaml (Debian: python3-numpy python3-yaml). Same arguments, same file.
import argparse
import os
import sys

CORPUS = ("the quick brown fox jumps over the lazy dog. energy per token, watts and joules; "
          "hello world! what is the answer? how many tokens does the model need? "
          "int main(void) { return 0; } for (i = 0; i < 10; i++) x += i; 1234567890 "
          "Le renard brun saute. Der schnelle Fuchs springt über den faulen Hund. "
          "быстрая лиса прыгает. 快速的狐狸跳过懒狗。 素早い狐が飛ぶ。 ")


def default_src():
    if os.environ.get("IPW_LLAMA_SRC"):
        return os.environ["IPW_LLAMA_SRC"]
    return os.path.join(os.environ.get("IPW_LLAMA_CACHE", "/var/cache/ipw-llama"), "src")


def byte_map():
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def spm_vocab(T):
    words = ["the", "and", "of", "to", "in", "is", "it", "that", "energy", "watt", "token", "model",
             "hello", "world", "what", "how", "er", "en", "an", "on", "re", "at", "st", "ing"]
    tokens, scores, types = ["<unk>", "<s>", "</s>"], [0.0, 0.0, 0.0], [T.UNKNOWN, T.CONTROL, T.CONTROL]
    for b in range(256):
        tokens.append("<0x%02X>" % b)
        scores.append(0.0)
        types.append(T.BYTE)
    pieces = ["\u2581"] + [chr(c) for c in range(33, 127)] + list("äöüßéèàçñ")
    pieces += ["\u2581" + w for w in words] + words + ["\u2581\u2581", "\u2581\u2581\u2581\u2581"]
    seen = set(tokens)
    for i, p in enumerate(pieces):
        if p in seen:
            continue
        seen.add(p)
        tokens.append(p)
        scores.append(-1000.0 + 10.0 * len(p) - 0.001 * i)
        types.append(T.NORMAL)
    return tokens, scores, types, None


def bpe_vocab(T, n_merges=300):
    bm = byte_map()
    tokens = [bm[b] for b in range(256)]
    words = [[bm[b] for b in w.encode()] for w in CORPUS.replace(".", " .").split(" ") if w]
    words = [[bm[0x20]] + w for w in words]
    merges = []
    vocab = set(tokens)
    for _ in range(n_merges):
        counts = {}
        for w in words:
            for a, b in zip(w, w[1:]):
                counts[(a, b)] = counts.get((a, b), 0) + 1
        if not counts:
            break
        (a, b), c = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
        if c < 2:
            break
        merges.append(a + " " + b)
        if a + b not in vocab:
            vocab.add(a + b)
            tokens.append(a + b)
        nw = []
        for w in words:
            o, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and w[i] == a and w[i + 1] == b:
                    o.append(a + b)
                    i += 2
                else:
                    o.append(w[i])
                    i += 1
            nw.append(o)
        words = nw
    types = [T.NORMAL] * len(tokens)
    for s in ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]:
        tokens.append(s)
        types.append(T.CONTROL)
    return tokens, None, types, merges


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--arch", default="llama", choices=["llama", "qwen2", "qwen3"])
    ap.add_argument("--type", default="f32", choices=["f32", "f16", "bf16", "q8_0", "q4_0"])
    ap.add_argument("--tok", default=None, choices=["spm", "bpe"])
    ap.add_argument("--pre", default=None)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--ff", type=int, default=128)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--tied", action="store_true")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--src", default=default_src())
    a = ap.parse_args()
    sys.path.insert(0, os.path.join(a.src, "gguf-py"))
    try:
        import numpy as np
        import gguf
    except ImportError as e:
        sys.exit("make-test-gguf: %s; install python3-numpy and python3-yaml, build llama-server" % e)
    T = gguf.TokenType
    tok = a.tok or ("spm" if a.arch == "llama" else "bpe")
    tokens, scores, types, merges = spm_vocab(T) if tok == "spm" else bpe_vocab(T)
    n_vocab = len(tokens)
    rng = np.random.default_rng(a.seed)
    hd = a.dim // a.heads
    qt = {"f32": None, "f16": gguf.GGMLQuantizationType.F16, "bf16": gguf.GGMLQuantizationType.BF16,
          "q8_0": gguf.GGMLQuantizationType.Q8_0, "q4_0": gguf.GGMLQuantizationType.Q4_0}[a.type]

    def rand(*shape, scale=None):
        s = scale if scale is not None else 1.0 / np.sqrt(shape[-1])
        return (rng.standard_normal(shape) * s).astype(np.float32)

    w = gguf.GGUFWriter(a.out, a.arch)

    def mat(name, x):
        if qt is None:
            w.add_tensor(name, x)
        elif qt == gguf.GGMLQuantizationType.F16:
            w.add_tensor(name, x.astype(np.float16))
        else:
            w.add_tensor(name, gguf.quants.quantize(x, qt), raw_dtype=qt)

    w.add_name("ipw-test-%s-%s" % (a.arch, a.type))
    w.add_context_length(a.ctx)
    w.add_embedding_length(a.dim)
    w.add_block_count(a.layers)
    w.add_feed_forward_length(a.ff)
    w.add_head_count(a.heads)
    w.add_head_count_kv(a.kv_heads)
    w.add_layer_norm_rms_eps(1e-6 if a.arch != "llama" else 1e-5)
    w.add_rope_freq_base(10000.0 if a.arch == "llama" else 1000000.0)
    if a.arch == "qwen3":
        w.add_key_length(hd)
        w.add_value_length(hd)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    if tok == "spm":
        w.add_tokenizer_model("llama")
        w.add_tokenizer_pre("default")
        w.add_token_list(tokens)
        w.add_token_scores(scores)
        w.add_token_types(types)
        w.add_unk_token_id(0)
        w.add_bos_token_id(1)
        w.add_eos_token_id(2)
        w.add_add_bos_token(True)
        w.add_add_space_prefix(True)
        w.add_chat_template("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
                            "{% if add_generation_prompt %}assistant:{% endif %}")
    else:
        w.add_tokenizer_model("gpt2")
        w.add_tokenizer_pre(a.pre or ("qwen2" if a.arch != "llama" else "llama-bpe"))
        w.add_token_list(tokens)
        w.add_token_types(types)
        w.add_token_merges(merges)
        eot = tokens.index("<|im_end|>")
        w.add_bos_token_id(tokens.index("<|endoftext|>"))
        w.add_eos_token_id(eot)
        w.add_add_bos_token(False)
        w.add_chat_template("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
                            "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    # normal tokens only may be generated: a guard dimension (constant 1 in the embeddings, never
    # written by a layer) gives specials and bytes a large negative logit
    gen = [t == T.NORMAL for t in types]
    # tied output: small embeddings, larger layer outputs, so a token does not just predict itself
    # small embeddings, larger layer outputs and sharp attention, so the next token depends on
    # the context and not only on the last token (which would settle into a loop)
    embd = rand(n_vocab, a.dim, scale=0.3)
    embd[:, 0] = 0.0 if a.tied else 1.0
    grow = 4.0
    mat("token_embd.weight", embd)
    for i in range(a.layers):
        p = "blk.%d." % i
        w.add_tensor(p + "attn_norm.weight", (1.0 + 0.1 * rng.standard_normal(a.dim)).astype(np.float32))
        mat(p + "attn_q.weight", rand(a.heads * hd, a.dim, scale=2.0 / np.sqrt(a.dim)))
        mat(p + "attn_k.weight", rand(a.kv_heads * hd, a.dim, scale=2.0 / np.sqrt(a.dim)))
        mat(p + "attn_v.weight", rand(a.kv_heads * hd, a.dim))
        if a.arch == "qwen2":
            w.add_tensor(p + "attn_q.bias", rand(a.heads * hd, scale=0.5))
            w.add_tensor(p + "attn_k.bias", rand(a.kv_heads * hd, scale=0.5))
            w.add_tensor(p + "attn_v.bias", rand(a.kv_heads * hd, scale=0.5))
        if a.arch == "qwen3":
            w.add_tensor(p + "attn_q_norm.weight", (1.0 + 0.1 * rng.standard_normal(hd)).astype(np.float32))
            w.add_tensor(p + "attn_k_norm.weight", (1.0 + 0.1 * rng.standard_normal(hd)).astype(np.float32))
        wo = rand(a.dim, a.heads * hd) * grow
        wo[0, :] = 0.0
        mat(p + "attn_output.weight", wo)
        w.add_tensor(p + "ffn_norm.weight", (1.0 + 0.1 * rng.standard_normal(a.dim)).astype(np.float32))
        mat(p + "ffn_gate.weight", rand(a.ff, a.dim))
        mat(p + "ffn_up.weight", rand(a.ff, a.dim))
        down = rand(a.dim, a.ff) * grow
        down[0, :] = 0.0
        mat(p + "ffn_down.weight", down)
    w.add_tensor("output_norm.weight", np.ones(a.dim, dtype=np.float32))
    if not a.tied:
        out = rand(n_vocab, a.dim, scale=3.0 / np.sqrt(a.dim))
        out[:, 0] = [0.0 if g else -30.0 for g in gen]
        mat("output.weight", out)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main()
