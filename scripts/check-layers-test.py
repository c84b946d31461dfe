#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Self-test of scripts/check-layers.py: runs it on small temporary trees,
one clean and several with one violation each, so the check is known to be
able to fail. Usage: check-layers-test.py (stdlib only)."""

import os
import subprocess
import sys
import tempfile
import unittest

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "check-layers.py")


def write(root, rel, text):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def clean_tree(root):
    """A tiny tree that uses every allowed arrow once."""
    write(root, "objstore/core/status.h", "#pragma once\n#include <string>\n")
    write(root, "objstore/pack.h", '#pragma once\n#include "objstore/core/status.h"\n')
    write(root, "objstore/pack.cc", "".join(f"// line {i}\n" for i in range(1, 12))
          + '#include "objstore/pack.h"\n')
    write(root, "index/index.h", '#pragma once\n#include "objstore/pack.h"\n#include <lmdb.h>\n')
    write(root, "diff/tree_diff.h", '#pragma once\n#include "objstore/core/status.h"\n')
    write(root, "repo/repository.h", '#pragma once\n#include "index/index.h"\n#include "diff/tree_diff.h"\n')
    write(root, "cli/app.cc", '#include "repo/repository.h"\n#include "diff/tree_diff.h"\n'
          '#include "index/index.h"\n#include "objstore/pack.h"\n#include "cli/app.h"\n')
    write(root, "cli/app.h", "#pragma once\n")
    # Not scanned: tests may include everything.
    write(root, "tests/unit/test_util.h", "#pragma once\n")
    write(root, "tests/unit/x_test.cc", '#include "cli/app.h"\n#include "test_util.h"\n')


class CheckLayersTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="cairn-layers-")
        self.root = self.tmp.name
        clean_tree(self.root)

    def tearDown(self):
        self.tmp.cleanup()

    def run_check(self):
        p = subprocess.run([sys.executable, SCRIPT, self.root], capture_output=True, text=True)
        return p.returncode, p.stdout.splitlines()

    def assert_one_violation(self, expected):
        rc, lines = self.run_check()
        self.assertEqual(rc, 1, lines)
        self.assertEqual(lines, [expected])

    def test_clean_tree_passes(self):
        rc, lines = self.run_check()
        self.assertEqual(rc, 0, lines)
        self.assertEqual(lines, ["check-layers: 8 files, layering respected"])

    def test_objstore_including_repo_fails(self):
        write(self.root, "objstore/pack.cc", "".join(f"// line {i}\n" for i in range(1, 12))
              + '#include "repo/repository.h"\n')
        self.assert_one_violation(
            "objstore/pack.cc:12: includes repo/repository.h: objstore/ may include only objstore/")

    def test_core_is_part_of_objstore(self):
        write(self.root, "objstore/core/io.h", '#pragma once\n#include "index/index.h"\n')
        self.assert_one_violation(
            "objstore/core/io.h:2: includes index/index.h: objstore/ may include only objstore/")

    def test_index_may_not_include_diff(self):
        write(self.root, "index/index.cc", '#include "index/index.h"\n#include "diff/tree_diff.h"\n')
        self.assert_one_violation(
            "index/index.cc:2: includes diff/tree_diff.h: index/ may include only index/, objstore/")

    def test_diff_may_not_include_index_or_repo(self):
        write(self.root, "diff/tree_diff.cc", '#include "repo/repository.h"\n')
        self.assert_one_violation(
            "diff/tree_diff.cc:1: includes repo/repository.h: diff/ may include only diff/, objstore/")

    def test_repo_may_not_include_cli(self):
        write(self.root, "repo/backup.cc", '#  include <cli/app.h>\n')
        self.assert_one_violation(
            "repo/backup.cc:1: includes cli/app.h: repo/ may include only repo/, index/, diff/, objstore/")

    def test_relative_path_escaping_the_scheme_fails(self):
        write(self.root, "objstore/tree.cc", '#include "objstore/pack.h"\n#include "../repo/repository.h"\n')
        self.assert_one_violation(
            "objstore/tree.cc:2: includes ../repo/repository.h: a project header is included by its"
            " layer path, not by a relative or absolute path")

    def test_dotdot_inside_layer_path_fails(self):
        write(self.root, "index/index.cc", '#include "objstore/../repo/repository.h"\n')
        self.assert_one_violation(
            "index/index.cc:1: includes objstore/../repo/repository.h: a project header is included"
            " by its layer path, without '.' or '..'")

    def test_same_folder_spelling_fails(self):
        write(self.root, "objstore/tree.cc", '#include "core/status.h"\n')
        self.assert_one_violation(
            "objstore/tree.cc:1: includes core/status.h: a project header is included by its layer"
            " path (objstore/..., index/..., diff/..., repo/..., cli/...)")

    def test_tests_headers_are_not_for_layers(self):
        write(self.root, "repo/check.cc", '#include "tests/unit/test_util.h"\n')
        rc, lines = self.run_check()
        self.assertEqual(rc, 1)
        self.assertEqual(len(lines), 1)
        self.assertTrue(lines[0].startswith("repo/check.cc:1: includes tests/unit/test_util.h: "), lines)

    def test_commented_out_include_is_ignored(self):
        write(self.root, "objstore/tree.cc", '/* old:\n#include "repo/repository.h"\n*/\n'
              '// #include "cli/app.h"\n#include <vector>\n')
        rc, lines = self.run_check()
        self.assertEqual(rc, 0, lines)

    def test_every_violation_is_reported(self):
        write(self.root, "objstore/a.cc", '#include "index/index.h"\n#include "cli/app.h"\n')
        write(self.root, "diff/b.h", '#include "index/index.h"\n')
        rc, lines = self.run_check()
        self.assertEqual(rc, 1)
        self.assertEqual(lines, [
            "objstore/a.cc:1: includes index/index.h: objstore/ may include only objstore/",
            "objstore/a.cc:2: includes cli/app.h: objstore/ may include only objstore/",
            "diff/b.h:1: includes index/index.h: diff/ may include only diff/, objstore/",
        ])

    def test_not_a_source_tree_is_an_error(self):
        empty = tempfile.TemporaryDirectory(prefix="cairn-layers-empty-")
        try:
            p = subprocess.run([sys.executable, SCRIPT, empty.name], capture_output=True, text=True)
            self.assertEqual(p.returncode, 2)
        finally:
            empty.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
