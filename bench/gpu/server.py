#!/usr/bin/env python3
"""server.py - an OpenAI-compatible test inference server for validating ipw on a GPU.

A transformer decoder of realistic size with random weights (default about 1.2 B
parameters in bf16: d_model 2048, 20 layers, 16 heads, SwiGLU 5632, vocab 32000),
a preallocated KV cache with one slot per sequence, and continuous batching: a
scheduler thread admits new requests (prefill, first token) and then runs one
decode step for every active sequence at once. max_tokens is honoured exactly
(no end-of-sequence), so output length is under the caller's control; usage comes
in the final chunk. Tokenisation is deterministic and needs no download: each
whitespace-separated word maps to an id by CRC-32.

Endpoints: POST /v1/chat/completions (SSE streaming, or one JSON reply with
"stream": false), GET /v1/models, GET /health, GET /x/stats (decode steps, the
largest batch decoded). Needs only torch and aiohttp.

  python3 bench/gpu/server.py --port 8011                       # GPU, 1.2 B
  python3 bench/gpu/server.py --device cpu --layers 2 --d-model 64 --heads 4 --vocab 512
"""
import argparse
import asyncio
import json
import math
import queue
import threading
import time
import zlib

import torch
import torch.nn.functional as F
from aiohttp import web


# ---- model -----------------------------------------------------------------------------------

class Model:
    """Pre-norm decoder: RMSNorm, multi-head attention with a slot KV cache, SwiGLU MLP."""

    def __init__(self, a, device, dtype):
        g = torch.Generator(device=device).manual_seed(a.seed)
        d, f, v = a.d_model, a.ffn or int(2.75 * a.d_model), a.vocab
        self.d, self.h, self.hd, self.L, self.v = d, a.heads, d // a.heads, a.layers, v
        self.max_batch, self.max_seq = a.max_batch, a.max_seq
        self.device, self.dtype = device, dtype

        def w(*shape, std=0.02):
            # random weights drawn on the device itself (fast), then cast
            t = torch.empty(*shape, dtype=torch.float32, device=device)
            t.normal_(0.0, std, generator=g)
            return t.to(dtype=dtype)

        self.emb = w(v, d)
        self.pos = w(a.max_seq, d, std=0.01)
        self.layers = []
        for _ in range(a.layers):
            self.layers.append({
                "n1": torch.ones(d, device=device, dtype=dtype),
                "qkv": w(d, 3 * d), "o": w(d, d, std=0.02 / math.sqrt(2 * a.layers)),
                "n2": torch.ones(d, device=device, dtype=dtype),
                "gu": w(d, 2 * f), "down": w(f, d, std=0.02 / math.sqrt(2 * a.layers)),
            })
        self.nf = torch.ones(d, device=device, dtype=dtype)
        self.head = w(d, v)
        shape = (a.layers, a.max_batch, self.h, a.max_seq, self.hd)
        self.k = torch.zeros(shape, device=device, dtype=dtype)
        self.v_ = torch.zeros(shape, device=device, dtype=dtype)
        self.params = sum(t.numel() for t in [self.emb, self.pos, self.nf, self.head]) + \
            sum(t.numel() for l in self.layers for t in l.values())

    @staticmethod
    def rms(x, wt):
        return x * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + 1e-6).to(x.dtype) * wt

    def mlp(self, l, x):
        gu = self.rms(x, l["n2"]) @ l["gu"]
        gte, up = gu.chunk(2, dim=-1)
        return (F.silu(gte) * up) @ l["down"]

    @torch.inference_mode()
    def prefill(self, slot, ids):
        """Runs a prompt (list of ids) into cache slot `slot`; returns the first output token id."""
        n = len(ids)
        x = self.emb[torch.tensor(ids, device=self.device)] + self.pos[:n]
        x = x.unsqueeze(0)  # 1, n, d
        for i, l in enumerate(self.layers):
            q, k, v = (self.rms(x, l["n1"]) @ l["qkv"]).split(self.d, dim=-1)
            q, k, v = (t.view(1, n, self.h, self.hd).transpose(1, 2) for t in (q, k, v))
            self.k[i, slot, :, :n] = k[0]
            self.v_[i, slot, :, :n] = v[0]
            att = attention(q, k, v, causal=True)
            x = x + att.transpose(1, 2).reshape(1, n, self.d) @ l["o"]
            x = x + self.mlp(l, x)
        logits = self.rms(x[:, -1], self.nf) @ self.head
        return int(logits.argmax(-1).item())

    @torch.inference_mode()
    def decode(self, slots, toks, pos):
        """One step for every active sequence: slots/toks/pos are lists; returns the next ids."""
        b = len(slots)
        s_idx = torch.tensor(slots, device=self.device)
        p = torch.tensor(pos, device=self.device)
        x = (self.emb[torch.tensor(toks, device=self.device)] + self.pos[p]).unsqueeze(1)  # b, 1, d
        span = int(max(pos)) + 1
        mask = (torch.arange(span, device=self.device)[None, :] <= p[:, None])[:, None, None, :]  # b,1,1,span
        bi = torch.arange(b, device=self.device)
        for i, l in enumerate(self.layers):
            q, k, v = (self.rms(x, l["n1"]) @ l["qkv"]).split(self.d, dim=-1)
            q, k, v = (t.view(b, 1, self.h, self.hd).transpose(1, 2) for t in (q, k, v))
            kc, vc = self.k[i], self.v_[i]
            kc[s_idx, :, p] = k[bi, :, 0]
            vc[s_idx, :, p] = v[bi, :, 0]
            att = attention(q, kc[s_idx, :, :span], vc[s_idx, :, :span], mask=mask)
            x = x + att.transpose(1, 2).reshape(b, 1, self.d) @ l["o"]
            x = x + self.mlp(l, x)
        logits = self.rms(x[:, 0], self.nf) @ self.head
        return logits.argmax(-1).tolist()


def attention(q, k, v, mask=None, causal=False):
    """Scaled dot-product attention; torch's fused kernel where it has one (torch >= 2.0)."""
    if hasattr(F, "scaled_dot_product_attention"):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)
    s = (q @ k.transpose(-1, -2)).float() / math.sqrt(q.shape[-1])
    if causal:
        n = q.shape[-2]
        s = s.masked_fill(torch.ones(n, n, dtype=torch.bool, device=q.device).triu(1), float("-inf"))
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    return (s.softmax(-1).to(v.dtype)) @ v


def tokenize(text, vocab):
    """Deterministic ids: CRC-32 of each word, above the first 16 ids (kept as specials)."""
    return [16 + zlib.crc32(w.encode()) % (vocab - 16) for w in text.split()] or [1]


def token_text(tid):
    return "w%d " % tid


# ---- scheduler ---------------------------------------------------------------------------------

class Seq:
    def __init__(self, ids, max_tokens, loop, out):
        self.ids, self.max_tokens, self.loop, self.out = ids, max_tokens, loop, out
        self.slot, self.pos, self.last, self.n_out = -1, 0, 0, 0
        self.cancelled = False

    def emit(self, item):
        self.loop.call_soon_threadsafe(self.out.put_nowait, item)


class Scheduler(threading.Thread):
    """Admits waiting sequences into free slots (prefill), then decodes all active ones per step."""

    def __init__(self, model):
        super().__init__(daemon=True)
        self.m = model
        self.waiting = queue.Queue()
        self.active = []
        self.free = list(range(model.max_batch))  # lowest slot first
        self.steps = 0
        self.max_batch_seen = 0

    def submit(self, seq):
        self.waiting.put(seq)

    def finish(self, s, reason):
        s.emit(("end", reason))
        self.free.append(s.slot)
        self.free.sort()

    def admit(self, s):
        """Prefills s into a free slot and emits its first token."""
        keep = max(1, self.m.max_seq - s.max_tokens - 1)
        ids = s.ids[-keep:]
        s.slot = self.free.pop(0)
        try:
            s.last = self.m.prefill(s.slot, ids)
        except Exception as e:  # report it and go on with the others
            s.emit(("error", "prefill failed: %s" % e))
            self.free.append(s.slot)
            return
        s.pos, s.n_out = len(ids), 1
        s.emit(("tok", s.last))
        if s.n_out >= s.max_tokens:
            self.finish(s, "length")
        else:
            self.active.append(s)

    def run(self):
        pending = []
        while True:
            if not self.active and not pending:
                pending.append(self.waiting.get())  # idle: block for work
            while True:
                try:
                    pending.append(self.waiting.get_nowait())
                except queue.Empty:
                    break
            while self.free and pending:
                s = pending.pop(0)
                if not s.cancelled:
                    self.admit(s)
            live = []
            for s in self.active:
                if s.cancelled:
                    self.free.append(s.slot)  # the client went away
                else:
                    live.append(s)
            self.active = live
            if not self.active:
                continue
            try:
                nxt = self.m.decode([s.slot for s in self.active], [s.last for s in self.active],
                                    [s.pos for s in self.active])
            except Exception as e:
                for s in self.active:
                    s.emit(("error", "decode failed: %s" % e))
                    self.free.append(s.slot)
                self.active = []
                continue
            self.steps += 1
            self.max_batch_seen = max(self.max_batch_seen, len(self.active))
            keep = []
            for s, t in zip(self.active, nxt):
                s.last, s.pos, s.n_out = t, s.pos + 1, s.n_out + 1
                s.emit(("tok", t))
                if s.n_out >= s.max_tokens or s.pos >= self.m.max_seq - 1:
                    self.finish(s, "length")
                else:
                    keep.append(s)
            self.active = keep


# ---- HTTP ---------------------------------------------------------------------------------------

def chunk(model_name, delta, finish=None, usage=None, choices=True):
    o = {"id": "chatcmpl-ipwtest", "object": "chat.completion.chunk", "created": int(time.time()),
         "model": model_name}
    o["choices"] = [{"index": 0, "delta": delta, "finish_reason": finish}] if choices else []
    if usage is not None:
        o["usage"] = usage
    return ("data: " + json.dumps(o) + "\n\n").encode()


def make_app(a, sched):
    name = a.model_name

    async def models(_req):
        return web.json_response({"object": "list", "data": [{"id": name, "object": "model", "created": 0,
                                                              "owned_by": "ipw-test"}]})

    async def health(_req):
        return web.json_response({"status": "ok"})

    async def stats(_req):
        return web.json_response({"decode_steps": sched.steps, "max_batch_seen": sched.max_batch_seen,
                                  "active": len(sched.active), "parameters": sched.m.params})

    async def chat(req):
        try:
            body = await req.json()
        except Exception:
            return web.json_response({"error": {"message": "body is not JSON"}}, status=400)
        msgs = body.get("messages") or []
        text = " ".join(str(m.get("content", "")) for m in msgs if isinstance(m, dict))
        ids = tokenize(text, sched.m.v)
        mt = body.get("max_tokens") or body.get("max_completion_tokens") or a.default_max_tokens
        try:
            mt = max(1, min(int(mt), sched.m.max_seq - 2))
        except (TypeError, ValueError):
            return web.json_response({"error": {"message": "max_tokens must be an integer"}}, status=400)
        loop = asyncio.get_running_loop()
        out = asyncio.Queue()
        s = Seq(ids, mt, loop, out)
        sched.submit(s)
        usage = lambda n: {"prompt_tokens": len(ids), "completion_tokens": n, "total_tokens": len(ids) + n}
        if not body.get("stream"):
            parts, reason = [], "length"
            while True:
                kind, v = await out.get()
                if kind == "tok":
                    parts.append(token_text(v))
                elif kind == "end":
                    reason = v
                    break
                else:
                    return web.json_response({"error": {"message": v}}, status=500)
            return web.json_response({"id": "chatcmpl-ipwtest", "object": "chat.completion", "model": name,
                                      "choices": [{"index": 0, "finish_reason": reason,
                                                   "message": {"role": "assistant", "content": "".join(parts)}}],
                                      "usage": usage(len(parts))})
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await resp.prepare(req)
        n = 0
        try:
            await resp.write(chunk(name, {"role": "assistant", "content": ""}))
            while True:
                kind, v = await out.get()
                if kind == "tok":
                    n += 1
                    await resp.write(chunk(name, {"content": token_text(v)}))
                elif kind == "end":
                    await resp.write(chunk(name, {}, finish=v))
                    if (body.get("stream_options") or {}).get("include_usage", True):
                        await resp.write(chunk(name, None, usage=usage(n), choices=False))
                    break
                else:
                    await resp.write(("data: " + json.dumps({"error": {"message": v}}) + "\n\n").encode())
                    break
            await resp.write(b"data: [DONE]\n\n")
        except (ConnectionResetError, asyncio.CancelledError):
            s.cancelled = True
            raise
        return resp

    app = web.Application()
    app.router.add_get("/v1/models", models)
    app.router.add_get("/health", health)
    app.router.add_get("/x/stats", stats)
    app.router.add_post("/v1/chat/completions", chat)
    return app


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8011)
    p.add_argument("--device", default="cuda")
    p.add_argument("--dtype", default=None, help="bf16 (default on cuda), fp16 or fp32 (default on cpu)")
    p.add_argument("--layers", type=int, default=20)
    p.add_argument("--d-model", type=int, default=2048)
    p.add_argument("--heads", type=int, default=16)
    p.add_argument("--ffn", type=int, default=5632)
    p.add_argument("--vocab", type=int, default=32000)
    p.add_argument("--max-batch", type=int, default=64)
    p.add_argument("--max-seq", type=int, default=2048)
    p.add_argument("--default-max-tokens", type=int, default=256)
    p.add_argument("--model-name", default="ipw-test-1b")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    if a.d_model % a.heads:
        p.error("--d-model must be a multiple of --heads")
    if a.ffn and a.d_model < 512:
        a.ffn = 4 * a.d_model  # tiny test configurations
    dt = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[
        a.dtype or ("bf16" if a.device.startswith("cuda") else "fp32")]
    t0 = time.time()
    model = Model(a, torch.device(a.device), dt)
    sched = Scheduler(model)
    # warm the kernels once so the first request does not pay for it
    model.prefill(0, [1, 2, 3])
    model.decode([0], [1], [3])
    if a.device.startswith("cuda"):
        torch.cuda.synchronize()
    sched.start()
    print("server.py: %s, %.2f B parameters (%s, %s), KV cache %d x %d, ready in %.1f s on http://%s:%d"
          % (a.model_name, model.params / 1e9, a.device, str(dt).replace("torch.", ""), a.max_batch, a.max_seq,
             time.time() - t0, a.host, a.port), flush=True)
    web.run_app(make_app(a, sched), host=a.host, port=a.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
