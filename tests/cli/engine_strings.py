#!/usr/bin/env python3
# Prints the engine_llama.sh test strings (a JSON array of 200+ strings: several scripts
# and languages, emoji, whitespace runs, digits, code).
import json
base = ["hello world", "Hello World!", "the energy of a token", "  leading spaces", "trailing   ",
        "tab\tseparated\tvalues", "new\nline", "\n\n\nmany newlines", "mixed \t\n whitespace",
        "12345", "3.14159", "1,000,000", "year 2024 and 1999", "0x1F 0b1010", "a1b2c3",
        "int main(void) { return 0; }", "for (i = 0; i < n; i++) x[i] += 1;", "def f(x):\n    return x*2",
        "if (a && b || !c) {}", "<html><body>hi</body></html>", "{\"key\": [1, 2, 3]}",
        "Der schnelle Fuchs springt über den faulen Hund.", "Le renard brun rapide saute.", "¿Qué tal? ¡Bien!",
        "быстрая коричневая лиса", "快速的棕色狐狸跳过了懒狗", "素早い茶色の狐", "빠른 갈색 여우", "مرحبا بالعالم",
        "שלום עולם", "नमस्ते दुनिया", "Γειά σου Κόσμε", "ไก่จิกเด็กตายบนปากโอ่ง",
        "emoji 😀😃😄 🎉", "👍🏽 family 👨‍👩‍👧", "🇩🇪🇫🇷", "I'm you're we've they'll he'd it's",
        "DON'T WON'T", "e-mail: a.b@c.de", "https://example.org/path?q=1&r=2", "C:\\path\\to\\file",
        "$100 + 5% = ?", "a  b   c    d", "x" * 40, "ab" * 15, "...!!!???", "-- // ## ** ~~", "ß ä ö ü é è",
        "<|im_start|>user\nhi<|im_end|>", "caf\u00e9 vs cafe\u0301", "\u00a0nbsp\u2003em"]
out = list(base)
words = ["token", "watt", "energy", "model", "Fuchs", "лиса", "狐狸", "42", "😀", "x_y", "  ", "\n", "(", "'s"]
i = 0
while len(out) < 220:
    out.append(" ".join(words[(i * k) % len(words)] for k in range(1, 2 + i % 6)) + ("" if i % 3 else " 7%d" % i))
    i += 1
print(json.dumps(out))
