#!/usr/bin/env python3
"""check-dataset.py - validates an ipw dataset in the native JSONL format.

Checks every line (valid UTF-8 JSON object, required keys, known task,
unique id, mcq choices and answer letter, numeric answer is a number),
prints counts per task and subject and the mcq answer-letter distribution.
Errors go to stderr as "FILE:LINE: problem"; the exit status is 1 when
there is any error, 2 on bad usage. Python 3 standard library only.

Usage: scripts/check-dataset.py [--strict] [--quiet] FILE...
  --strict  also enforce the rules of the built-in set: canonical key order,
            no unknown keys, non-empty subject, no blank lines, distinct
            choices, upper-case answer letters, no surrounding whitespace.
  --quiet   print errors only, no counts.
"""

import json
import math
import sys
from collections import Counter, OrderedDict

TASKS = ("mcq", "numeric", "exact", "regex", "judge_reference", "judge_pairwise")
# Canonical key order of the native format; strict mode checks it.
KEY_ORDER = ("id", "task", "subject", "problem", "choices", "answer",
             "reference_response", "metadata")
REQUIRED = ("id", "task", "problem", "answer")
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
MAX_CHOICES = len(LETTERS)


class LineError(Exception):
    """A problem with one line; the message says what is wrong."""


def reject_constant(name):
    raise LineError("non-standard JSON constant %s (write a number or a string)" % name)


def pairs_no_duplicates(pairs):
    seen = OrderedDict()
    for key, value in pairs:
        if key in seen:
            raise LineError("key \"%s\" appears twice in one object" % key)
        seen[key] = value
    return seen


def need_string(obj, key, allow_empty=False):
    v = obj[key]
    if not isinstance(v, str):
        raise LineError("\"%s\" must be a string, not %s" % (key, type(v).__name__))
    if not allow_empty and not v.strip():
        raise LineError("\"%s\" is empty" % key)
    return v


def check_numeric(answer):
    try:
        v = float(answer.strip())
    except ValueError:
        raise LineError("numeric answer \"%s\" is not a number (write e.g. 42, -3.5 or 0.125)"
                        % answer)
    if not math.isfinite(v):
        raise LineError("numeric answer \"%s\" is not a finite number" % answer)


def check_mcq(obj, strict):
    if "choices" not in obj:
        raise LineError("mcq item has no \"choices\" list")
    ch = obj["choices"]
    if not isinstance(ch, list):
        raise LineError("\"choices\" must be a list of strings")
    if not 2 <= len(ch) <= MAX_CHOICES:
        raise LineError("mcq item has %d choice(s); need 2 to %d" % (len(ch), MAX_CHOICES))
    for i, c in enumerate(ch):
        if not isinstance(c, str) or not c.strip():
            raise LineError("choice %s must be a non-empty string" % LETTERS[i])
    if strict:
        norm = [c.strip().lower() for c in ch]
        dup = [c for c, n in Counter(norm).items() if n > 1]
        if dup:
            raise LineError("choice \"%s\" appears more than once" % dup[0])
    ans = obj["answer"].strip()
    valid = LETTERS[:len(ch)]
    if len(ans) != 1 or ans.upper() not in valid:
        raise LineError("mcq answer \"%s\" is not a letter from A to %s"
                        % (obj["answer"], valid[-1]))
    if strict and ans != ans.upper():
        raise LineError("mcq answer \"%s\" should be upper-case" % obj["answer"])
    return len(ch), ans.upper()


def check_line(obj, strict):
    """Validates one parsed line. Returns (task, subject, mcq info or None)."""
    if not isinstance(obj, dict):
        raise LineError("line is not a JSON object")
    if "task" not in obj and "dataset_metadata" in obj:
        raise LineError("this is the harness schema (no \"task\"); this checker "
                        "validates the native format")
    for key in REQUIRED:
        if key not in obj:
            raise LineError("missing required key \"%s\"" % key)
    for key in ("id", "task", "problem", "answer"):
        need_string(obj, key)
    if "subject" in obj:
        need_string(obj, "subject", allow_empty=not strict)
    elif strict:
        raise LineError("missing key \"subject\"")
    task = obj["task"]
    if task not in TASKS:
        raise LineError("unknown task \"%s\" (known: %s)" % (task, ", ".join(TASKS)))
    if strict:
        unknown = [k for k in obj if k not in KEY_ORDER]
        if unknown:
            raise LineError("unknown key \"%s\"" % unknown[0])
        pos = [KEY_ORDER.index(k) for k in obj]
        if pos != sorted(pos):
            raise LineError("keys are not in the order %s" % ", ".join(KEY_ORDER))
        for key in ("id", "task", "subject", "problem", "answer"):
            if key in obj and obj[key] != obj[key].strip():
                raise LineError("\"%s\" has leading or trailing whitespace" % key)
    if task != "mcq" and "choices" in obj:
        raise LineError("\"choices\" given for task %s (only mcq items have choices)" % task)
    if "reference_response" in obj:
        need_string(obj, "reference_response")
    if "metadata" in obj and not isinstance(obj["metadata"], (dict, str)):
        raise LineError("\"metadata\" must be a JSON object or a string holding JSON")
    if isinstance(obj.get("metadata"), str):
        try:
            json.loads(obj["metadata"])
        except ValueError as e:
            raise LineError("\"metadata\" string is not valid JSON: %s" % e)

    mcq = None
    if task == "mcq":
        mcq = check_mcq(obj, strict)
    elif task == "numeric":
        check_numeric(obj["answer"])
    elif task == "judge_pairwise":
        if "reference_response" not in obj:
            raise LineError("judge_pairwise item has no \"reference_response\"")
    elif task == "exact" and strict and "\n" in obj["answer"]:
        raise LineError("exact answer spans several lines")
    return task, obj.get("subject", ""), mcq


def check_file(path, strict, quiet):
    """Checks one file; prints its errors and statistics. Returns the error count."""
    errors = 0

    def err(line, msg):
        nonlocal errors
        errors += 1
        where = "%s:%d" % (path, line) if line else path
        sys.stderr.write("%s: %s\n" % (where, msg))

    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        err(0, "cannot read: %s" % e.strerror)
        return errors

    tasks = Counter()
    subjects = Counter()
    task_subject = Counter()
    letters = {}  # number of choices -> Counter of answer letters
    ids = {}
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    elif lines and strict:
        err(len(lines), "file does not end with a newline")
    for n, raw in enumerate(lines, 1):
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if not raw.strip():
            if strict:
                err(n, "blank line (remove it)")
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            err(n, "not valid UTF-8 (byte %d)" % e.start)
            continue
        try:
            obj = json.loads(text, object_pairs_hook=pairs_no_duplicates,
                             parse_constant=reject_constant)
        except LineError as e:
            err(n, str(e))
            continue
        except ValueError as e:
            err(n, "invalid JSON: %s" % e)
            continue
        # Duplicate ids are reported even when the first line had other errors.
        item_id = obj.get("id") if isinstance(obj, dict) else None
        if isinstance(item_id, str) and item_id in ids:
            err(n, "duplicate id \"%s\" (first on line %d)" % (item_id, ids[item_id]))
            continue
        if isinstance(item_id, str):
            ids[item_id] = n
        try:
            task, subject, mcq = check_line(obj, strict)
        except LineError as e:
            err(n, str(e))
            continue
        tasks[task] += 1
        subjects[subject or "(none)"] += 1
        task_subject[(task, subject or "(none)")] += 1
        if mcq:
            letters.setdefault(mcq[0], Counter())[mcq[1]] += 1

    n_items = sum(tasks.values())
    if not n_items and not errors:
        err(0, "no items")
    if quiet:
        return errors

    print("%s: %d items, %d errors" % (path, n_items, errors))
    print("tasks:")
    for t in TASKS:
        if tasks[t]:
            print("  %-16s %4d" % (t, tasks[t]))
    print("subjects:")
    for s, c in sorted(subjects.items(), key=lambda kv: (-kv[1], kv[0])):
        per = ", ".join("%s %d" % (t, task_subject[(t, s)]) for t in TASKS
                        if task_subject[(t, s)])
        print("  %-22s %4d  (%s)" % (s, c, per))
    if letters:
        print("mcq answer letters:")
        for k in sorted(letters):
            dist = " ".join("%s:%d" % (L, letters[k][L]) for L in LETTERS[:k])
            print("  %2d options (%3d items): %s" % (k, sum(letters[k].values()), dist))
    return errors


def main(argv):
    strict = quiet = False
    files = []
    for a in argv[1:]:
        if a == "--strict":
            strict = True
        elif a == "--quiet":
            quiet = True
        elif a in ("-h", "--help"):
            print(__doc__.strip())
            return 0
        elif a.startswith("-"):
            sys.stderr.write("check-dataset: unknown option %s (see --help)\n" % a)
            return 2
        else:
            files.append(a)
    if not files:
        sys.stderr.write("usage: check-dataset.py [--strict] [--quiet] FILE...\n")
        return 2
    total = 0
    for path in files:
        total += check_file(path, strict, quiet)
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
