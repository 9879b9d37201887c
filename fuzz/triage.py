#!/usr/bin/env python3
"""Classifies the reports in a libFuzzer fork-mode log of fuzz_runfile (see fuzz/run.sh).

A report is known (a bug of the uninstrumented HDF5 library, not of fcnlab) when it is an ASan/UBSan
error or a timeout whose first stack frame outside the sanitizer runtime, libc and libFuzzer lies in
libhdf5 (leaks and out-of-memory included: allocated by libhdf5). Everything else fails: a frame of
fcnlab first, an uncaught exception ("terminate called"), a report without a stack. Exit 0 when every report is known; prints a summary line either way.
"""
import re
import sys

SKIP = re.compile(r"__interceptor_|__asan|__sanitizer|__ubsan|libclang_rt|libc\.so|libstdc\+\+|sysdeps/|"
                  r"fuzzer::|raise|abort|pthread_kill|__cxa_|std::terminate|AlarmCallback|StaticAlarmCallback|"
                  r" in (malloc|calloc|realloc|free|strlen|memcpy|memmove|memset|operator new|operator delete)\b")
START = re.compile(r"==\d+==\s*ERROR:|runtime error:|terminate called|ERROR: libFuzzer")

text = open(sys.argv[1], errors="replace").read().splitlines()
known, bad = 0, []
i = 0
while i < len(text):
    line = text[i]
    if not START.search(line):
        i += 1
        continue
    kind = line.strip()
    frames = []
    j = i + 1
    while j < len(text) and len(frames) < 40 and not START.search(text[j]):
        if re.match(r"\s*#\d+ ", text[j]):
            frames.append(text[j])
        j += 1
    first = next((f for f in frames if not SKIP.search(f)), "")
    fatal = "terminate called" in kind or not first
    if not fatal and "libhdf5" in first:
        known += 1
    else:
        bad.append((kind, first.strip()))
    i = j
for kind, first in bad:
    print(f"fuzz_runfile: fcnlab-side report: {kind}\n    first frame: {first or '(none)'}", file=sys.stderr)
print(f"fuzz_runfile: {known} reports inside libhdf5 (known HDF5 1.10 bugs, inputs kept in build-fuzz/artifacts/), "
      f"{len(bad)} in fcnlab")
sys.exit(1 if bad else 0)
