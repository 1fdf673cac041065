#!/usr/bin/env python3
"""Writes Services/Auth/Resources/common-passwords.txt: the 30,000 most common passwords, lower-cased, one per line,
most common first (a resource of flowtalk-auth, read once at start).

Origin: the "passwords" frequency list of zxcvbn 4.4.28 (PyPI package `zxcvbn`, MIT license; Dropbox's zxcvbn
project, built from Mark Burnett's 10-million-password corpus, which he released into the public domain). Run it
through scripts/generate-common-passwords.sh, which installs that exact version in a git-ignored virtual environment.
"""
import pathlib
import sys

from zxcvbn import frequency_lists

words = frequency_lists.FREQUENCY_LISTS["passwords"]
assert len(words) >= 10_000, len(words)
for word in words:
    assert word.isascii() and word == word.lower() and word.strip() == word and "\n" not in word, word

out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "Services/Auth/Resources/common-passwords.txt")
out.parent.mkdir(parents=True, exist_ok=True)
out.write_text("\n".join(words) + "\n")
print(f"{out}: {len(words)} passwords")
