#!/usr/bin/env python3
# Writes a tiny random-weight llama-architecture GGUF model (about 1 MB) that
# llama-server can load and stream from, for tests/cli/llama_server.sh.
# Usage: make-tiny-gguf.py [--src LLAMA_SRC] [--seed N] OUT.gguf
#   LLAMA_SRC: a llama.cpp source tree (its gguf-py/ holds the writer); default
#   $IPW_LLAMA_SRC, else $IPW_LLAMA_CACHE/src, else /var/cache/ipw-llama/src.
# Needs numpy and yaml (Debian: python3-numpy python3-yaml). Same seed, same file.
import argparse
import os
import sys

N_EMBD = 64
N_HEAD = 4
N_HEAD_KV = 4
N_FF = 128
N_LAYER = 2
N_CTX = 512
# residual-stream dimension held constant so the output layer can rule out tokens
GUARD = 0

# a few multi-character pieces so that ordinary text tokenizes into more than bytes
WORDS = ["the", "and", "of", "to", "in", "is", "it", "that", "energy", "watt",
         "token", "model", "query", "answer", "hello", "world", "what", "how"]


def default_src():
    if os.environ.get("IPW_LLAMA_SRC"):
        return os.environ["IPW_LLAMA_SRC"]
    cache = os.environ.get("IPW_LLAMA_CACHE", "/var/cache/ipw-llama")
    return os.path.join(cache, "src")


def build_vocab(gguf):
    """SentencePiece-style vocabulary: 3 specials, 256 byte-fallback tokens, the
    printable ASCII characters, and a few words. Returns (tokens, scores, types,
    generatable) where generatable marks the tokens the model may emit."""
    T = gguf.TokenType
    tokens, scores, types = ["<unk>", "<s>", "</s>"], [0.0, 0.0, 0.0], [T.UNKNOWN, T.CONTROL, T.CONTROL]
    for b in range(256):
        tokens.append("<0x%02X>" % b)
        scores.append(0.0)
        types.append(T.BYTE)
    pieces = ["\u2581"] + [chr(c) for c in range(33, 127)]
    pieces += ["\u2581" + w for w in WORDS] + WORDS
    seen = set(tokens)
    for p in pieces:
        if p in seen:
            continue
        seen.add(p)
        tokens.append(p)
        # SentencePiece prefers merges with higher scores: longer pieces score higher
        scores.append(-1000.0 + 10.0 * len(p))
        types.append(T.NORMAL)
    generatable = [t == T.NORMAL for t in types]
    return tokens, scores, types, generatable


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out", help="where to write the GGUF file")
    ap.add_argument("--src", default=default_src(), help="llama.cpp source tree (holds gguf-py/)")
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args()

    gguf_py = os.path.join(args.src, "gguf-py")
    if not os.path.isdir(os.path.join(gguf_py, "gguf")):
        sys.exit("make-tiny-gguf: no gguf-py/ in %s; build llama-server first "
                 "(scripts/build-llama-server.sh) or pass --src" % args.src)
    sys.path.insert(0, gguf_py)
    try:
        import numpy as np
        import gguf
    except ImportError as e:
        sys.exit("make-tiny-gguf: %s; install python3-numpy and python3-yaml" % e)

    rng = np.random.default_rng(args.seed)
    tokens, scores, types, generatable = build_vocab(gguf)
    n_vocab = len(tokens)

    def rand(*shape, scale=None):
        s = scale if scale is not None else 1.0 / np.sqrt(shape[-1])
        return (rng.standard_normal(shape) * s).astype(np.float32)

    w = gguf.GGUFWriter(args.out, "llama")
    w.add_name("ipw-tiny-random")
    w.add_context_length(N_CTX)
    w.add_embedding_length(N_EMBD)
    w.add_block_count(N_LAYER)
    w.add_feed_forward_length(N_FF)
    w.add_head_count(N_HEAD)
    w.add_head_count_kv(N_HEAD_KV)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(N_EMBD // N_HEAD)
    w.add_vocab_size(n_vocab)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)

    w.add_tokenizer_model("llama")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_unk_token_id(0)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    w.add_add_space_prefix(True)
    w.add_chat_template(
        "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}assistant:{% endif %}")

    # Token embeddings carry a constant 1.0 in dimension GUARD, and no layer writes
    # to it, so after the final norm that dimension is always positive. The output
    # layer gives every token that must never be generated (specials, raw bytes)
    # a large negative weight there: the model streams printable text until the
    # token limit and never ends early with </s>.
    embd = rand(n_vocab, N_EMBD, scale=0.5)
    embd[:, GUARD] = 1.0
    w.add_tensor("token_embd.weight", embd)
    for i in range(N_LAYER):
        p = "blk.%d." % i
        w.add_tensor(p + "attn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        w.add_tensor(p + "attn_q.weight", rand(N_EMBD, N_EMBD))
        w.add_tensor(p + "attn_k.weight", rand(N_EMBD // N_HEAD * N_HEAD_KV, N_EMBD))
        w.add_tensor(p + "attn_v.weight", rand(N_EMBD // N_HEAD * N_HEAD_KV, N_EMBD))
        wo = rand(N_EMBD, N_EMBD)
        wo[GUARD, :] = 0.0
        w.add_tensor(p + "attn_output.weight", wo)
        w.add_tensor(p + "ffn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        w.add_tensor(p + "ffn_gate.weight", rand(N_FF, N_EMBD))
        w.add_tensor(p + "ffn_up.weight", rand(N_FF, N_EMBD))
        down = rand(N_EMBD, N_FF)
        down[GUARD, :] = 0.0
        w.add_tensor(p + "ffn_down.weight", down)
    w.add_tensor("output_norm.weight", np.ones(N_EMBD, dtype=np.float32))
    out = rand(n_vocab, N_EMBD, scale=1.0)
    out[:, GUARD] = [0.0 if g else -100.0 for g in generatable]
    w.add_tensor("output.weight", out)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print("make-tiny-gguf: wrote %s (%d tokens, %d layers, dim %d, seed %d, %d bytes)"
          % (args.out, n_vocab, N_LAYER, N_EMBD, args.seed, os.path.getsize(args.out)))


if __name__ == "__main__":
    main()
