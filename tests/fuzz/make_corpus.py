#!/usr/bin/env python3
"""Rebuilds tests/fuzz/corpus/NAME/ for NAME in stream, dataset, grade, judge,
plist and toml from the golden test data: the C string literals of the unit
tests (SSE/NDJSON streams, judge replies, TOML documents), the streams kept
in tests/fuzz/seeds/stream/, the dataset and adapter samples, the golden
grading cases, the powermetrics plists and docs/router.md's TOML example.
Run from the repository root; the output is committed. With --check nothing
is written: it exits 1, listing the differences, when the committed corpora
are not exactly what it would write (tests/cli/fuzz_corpus.sh runs it). The
other corpora (gguf, kv, meta) are not made here."""
import hashlib, json, os, re, sys

OUT = "tests/fuzz/corpus"
corpora = {}  # NAME -> {file name: bytes}, written (or checked) at the end
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
    files = corpora[name] = {}
    for b in blobs:
        if 2 <= len(b) <= 4096:
            files[hashlib.sha1(b).hexdigest()[:16]] = b


def lines(*paths):
    for p in paths:
        for ln in open(p, "rb"):
            yield ln.rstrip(b"\n")


# fuzz_stream's first byte: bit 0 picks the API (0 OpenAI SSE, 1 Ollama NDJSON), the rest the
# size of the pieces the body is fed in (byte / 2 + 1)
sse = [s for s in c_strings("tests/unit/test_sse.c") if b"data:" in s or b"done" in s]
# whole OpenAI streams with log-probabilities (fakellm's, and exponents / integers / null /
# empty content), added for the logprobs fast path; until they were kept here they were
# committed bare, their first byte 'd' read as the selector (OpenAI, 51-byte pieces, the
# first event cut to "ata: ..."): that form is kept too
seeds = [open("tests/fuzz/seeds/stream/" + f, "rb").read() for f in sorted(os.listdir("tests/fuzz/seeds/stream"))]
put("stream", [bytes([sel]) + s for s in sse for sel in (0, 2 * 7, 2 * 127)] +
    [bytes([1]) + s for s in sse if b"data:" not in s] + [bytes([15]) + s for s in sse if b"data:" not in s] +
    [bytes([sel]) + s for s in seeds for sel in (0, 2 * 7, 2 * 127)] + seeds)

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


def check():
    """The differences between the committed corpora and corpora, one line each."""
    out = []
    for name, files in corpora.items():
        d = os.path.join(OUT, name)
        have = set(os.listdir(d)) if os.path.isdir(d) else set()
        for f in sorted(have - set(files)):
            out.append("%s/%s: committed, but not made by the script" % (d, f))
        for f in sorted(set(files) - have):
            out.append("%s/%s: made by the script, but not committed" % (d, f))
        for f in sorted(have & set(files)):
            if open(os.path.join(d, f), "rb").read() != files[f]:
                out.append("%s/%s: committed bytes differ from the script's" % (d, f))
    return out


if sys.argv[1:] == ["--check"]:
    diff = check()
    for line in diff:
        print(line)
    if diff:
        print("%d differences: run python3 tests/fuzz/make_corpus.py from the repository root and commit"
              " tests/fuzz/corpus/" % len(diff))
        sys.exit(1)
    print("fuzz corpora: %s files, as make_corpus.py makes them" %
          ", ".join("%s %d" % (n, len(f)) for n, f in corpora.items()))
elif sys.argv[1:]:
    sys.exit("usage: tests/fuzz/make_corpus.py [--check] (from the repository root)")
else:
    for name, files in corpora.items():
        d = os.path.join(OUT, name)
        os.makedirs(d, exist_ok=True)
        for f in os.listdir(d):
            os.remove(os.path.join(d, f))
        for f, b in sorted(files.items()):
            open(os.path.join(d, f), "wb").write(b)
        print(name, len(files))
