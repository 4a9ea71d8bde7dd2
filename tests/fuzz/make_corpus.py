#!/usr/bin/env python3
"""Rebuilds tests/fuzz/corpus/NAME/ from the golden test data: the C string
literals of the unit tests (SSE/NDJSON streams, judge replies), the dataset
and adapter samples, the golden grading cases and the powermetrics plists.
Run from the repository root; the output is committed."""
import hashlib, json, os, re, shutil

OUT = "tests/fuzz/corpus"
LIT = re.compile(r'"((?:[^"\\\n]|\\.)*)"')


def c_strings(path):
    """Adjacent C string literals joined, unescaped, as bytes."""
    text = open(path).read()
    out, cur, last = [], [], -1
    for m in LIT.finditer(text):
        if cur and text[last:m.start()].strip() != "":
            out.append("".join(cur)); cur = []
        cur.append(m.group(1)); last = m.end()
    if cur:
        out.append("".join(cur))
    return [bytes(s, "utf-8").decode("unicode_escape").encode("latin-1", "replace") for s in out]


def put(name, blobs):
    d = os.path.join(OUT, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    seen = set()
    for b in blobs:
        if len(b) < 2 or len(b) > 4096 or b in seen:
            continue
        seen.add(b)
        open(os.path.join(d, hashlib.sha1(b).hexdigest()[:16]), "wb").write(b)
    print(name, len(seen))


def lines(*paths):
    for p in paths:
        for ln in open(p, "rb"):
            yield ln.rstrip(b"\n")


sse = [s for s in c_strings("tests/unit/test_sse.c") if b"data:" in s or b"done" in s]
put("stream", [bytes([sel]) + s for s in sse for sel in (0, 2 * 7, 2 * 127)] +
    [bytes([1]) + s for s in sse if b"data:" not in s] + [bytes([15]) + s for s in sse if b"data:" not in s])

ds_files = ["tests/data/datasets/native_valid.jsonl", "tests/data/datasets/harness_sample.jsonl",
            "tests/data/score/items.jsonl"] + \
    sorted("tests/data/adapters/" + f for f in os.listdir("tests/data/adapters"))
fmt = {"mmlu_pro": 3, "supergpqa": 4, "natural_reasoning": 5, "wildchat": 6, "harness": 2}
blobs = []
for p in ds_files:
    sel = next((v for k, v in fmt.items() if k in p), 1)
    ls = list(lines(p))
    for i in range(0, len(ls), 3):
        chunk = b"\n".join(ls[i:i + 3]) + b"\n"
        blobs += [bytes([0]) + chunk, bytes([sel]) + chunk]
put("dataset", blobs)

grade = []
for p, g in (("tests/data/golden/mcq.jsonl", 0), ("tests/data/golden/numeric.jsonl", 1)):
    for ln in lines(p):
        c = json.loads(ln)
        grade.append(bytes([g | 0x10]) + c["text"].encode() + b"\0" + str(c["reference"]).encode() +
                     b"\0opt one\0opt two\0opt three\0opt four")
for ans, ref in (("Answer: Paris", "paris"), ("\\boxed{x^2+1}", "^x\\^2\\+1$"), ("Answer: 42 apples", "^42( apples)?$"),
                 ("<think>x</think>Answer: ab", "^(a|b)+$"), ("**Answer:** Paris", "[[:alpha:]]+")):
    for g in (2, 3, 3 | 0x60, 3 | 0xe0):
        grade.append(bytes([g]) + ans.encode() + b"\0" + ref.encode())
put("grade", grade[:60])

judge = [s for s in c_strings("tests/unit/test_judge.c") if b"VERDICT" in s.upper() or b"[[" in s]
put("judge", judge)

pl = []
for f in sorted(os.listdir("tests/data/powermetrics")):
    b = open("tests/data/powermetrics/" + f, "rb").read()
    pl.append(b[:4096])
    for k in range(1, 8):
        pl.append(b[:len(b) * k // 8][:4096])
    # the per-rail dicts alone, wrapped as a small document
    for m in re.finditer(rb"<key>(processor|gpu|ane)[^<]*</key>\s*<dict>.*?</dict>", b, re.S):
        pl.append(b"<?xml version=\"1.0\"?>\n<plist version=\"1.0\">\n<dict>\n" + m.group(0) + b"\n</dict>\n</plist>\n")
put("plist", pl)

# the router's TOML subset: the unit test's documents (whole and broken) and docs/router.md's example
toml = [s for s in c_strings("tests/unit/test_router.c") if b" = " in s and b"{\"" not in s]
doc = open("docs/router.md", "rb").read()
toml += [m.group(1) for m in re.finditer(rb"```toml\n(.*?)```", doc, re.S)]
put("toml", toml)
