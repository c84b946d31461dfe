#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks cairn's layering: no source file includes a header of a layer
above its own (docs/architecture.md#layers).

    objstore/ (incl. objstore/core/)  ->  nothing
    index/                            ->  objstore/
    diff/                             ->  objstore/
    repo/                             ->  index/, diff/, objstore/
    cli/                              ->  everything

Scans every .h/.cc under the layer folders for #include lines. A project
header must be included by its layer path ("objstore/pack.h"); an include
that reaches a project file another way ("../repo/x.h", "core/status.h",
"tests/unit/test_util.h") is flagged too, since it would slip past the
per-layer include folders of the build.

Usage: check-layers.py [ROOT]   (ROOT: the source tree; default: this
script's parent folder). Prints one line per violation and exits 1 if there
is any, 0 otherwise.
"""

import os
import re
import sys

# Each layer and the layers it may include, itself first.
ALLOWED = {
    "objstore": ["objstore"],
    "index": ["index", "objstore"],
    "diff": ["diff", "objstore"],
    "repo": ["repo", "index", "diff", "objstore"],
    "cli": ["cli", "repo", "index", "diff", "objstore"],
}
LAYERS = list(ALLOWED)
SOURCE_EXTS = (".h", ".cc")

INCLUDE_RE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*([<"])([^">\n]*)[">]')
BLOCK_COMMENT_RE = re.compile(r"/\*.*?\*/", re.S)


def strip_block_comments(text):
    """Blanks /* ... */ comments, keeping line numbers."""
    return BLOCK_COMMENT_RE.sub(lambda m: "\n" * m.group(0).count("\n"), text)


def may_include(layer):
    return ", ".join(l + "/" for l in ALLOWED[layer])


def check_file(root, rel):
    """Returns the violations of source file `rel` (relative to `root`)."""
    layer = rel.split("/", 1)[0]
    out = []
    with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
        text = strip_block_comments(f.read())
    for lineno, line in enumerate(text.split("\n"), 1):
        m = INCLUDE_RE.match(line)
        if not m:
            continue
        quote, inc = m.group(1), m.group(2).strip()
        where = f"{rel}:{lineno}: includes {inc}: "
        parts = inc.split("/")
        first = parts[0]
        if first in ALLOWED:
            if ".." in parts or "." in parts:
                out.append(where + "a project header is included by its layer path, without '.' or '..'")
            elif first not in ALLOWED[layer]:
                out.append(where + f"{layer}/ may include only {may_include(layer)}")
            continue
        # Not spelled as a layer path: fine for system and library headers,
        # a violation if it reaches a file of the project.
        here = os.path.join(root, os.path.dirname(rel))
        if os.path.isabs(inc) or ".." in parts or "." in parts:
            target = os.path.abspath(os.path.join(here, inc))
            if quote == '"' or target == root or target.startswith(root + os.sep):
                out.append(where + "a project header is included by its layer path, "
                           "not by a relative or absolute path")
            continue
        candidates = [os.path.join(root, inc)]
        if quote == '"':
            candidates.append(os.path.join(here, inc))
        if any(os.path.isfile(c) for c in candidates):
            out.append(where + "a project header is included by its layer path ("
                       + ", ".join(l + "/..." for l in LAYERS) + ")")
    return out


def source_files(root):
    for layer in LAYERS:
        base = os.path.join(root, layer)
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames.sort()
            for name in sorted(filenames):
                if name.endswith(SOURCE_EXTS):
                    yield os.path.relpath(os.path.join(dirpath, name), root).replace(os.sep, "/")


def main(argv):
    if len(argv) > 2 or (len(argv) == 2 and argv[1].startswith("-")):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    root = argv[1] if len(argv) == 2 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    root = os.path.abspath(root)
    if not any(os.path.isdir(os.path.join(root, l)) for l in LAYERS):
        print(f"check-layers: {root} holds none of the layer folders {', '.join(LAYERS)}", file=sys.stderr)
        return 2
    violations = []
    count = 0
    for rel in source_files(root):
        count += 1
        violations.extend(check_file(root, rel))
    for v in violations:
        print(v)
    if violations:
        print(f"check-layers: {len(violations)} include(s) break the layering "
              "(docs/architecture.md#layers)", file=sys.stderr)
        return 1
    print(f"check-layers: {count} files, layering respected")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
