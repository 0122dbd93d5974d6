"""The code's shape stays where issue 16 put it: no app function over 60 lines, and at least 90 %
of app functions say what they return (mypy then checks each of them).

Both figures come from `bench/typing_share.py` (`python -m bench.typing_share` prints them and the
longest functions), over the apps' code: not migrations, tests, bench or loadtest.
"""

from __future__ import annotations

from pathlib import Path

from bench.typing_share import (
    MAX_LINES,
    MIN_SHARE,
    annotated_share,
    functions,
    longest,
)


def test_no_app_function_is_longer_than_60_lines():
    over = [str(f) for f in functions() if f.lines > MAX_LINES]
    assert not over, f"split these (at most {MAX_LINES} lines each): {over}"


def test_at_least_90_percent_of_app_functions_annotate_their_return():
    found = functions()
    share = annotated_share(found)
    missing = [str(f) for f in found if not f.annotated]
    assert share >= MIN_SHARE, f"{share:.1%} return-annotated; annotate some of: {missing}"


def _app(root: Path, source: str, name: str = "shop.py") -> None:
    (root / "practice").mkdir(parents=True, exist_ok=True)
    (root / "practice" / name).write_text(source)


def test_the_measure_counts_long_and_unannotated_functions(tmp_path):
    body = "".join(f"    x{i} = {i}\n" for i in range(60))  # def line + 60 = 61 lines
    _app(tmp_path, f"def long() -> None:\n{body}\n\nclass A:\n    def short(self):\n        pass\n")
    found = functions(tmp_path)
    assert [(f.name, f.lines, f.annotated) for f in found] == [
        ("long", 61, True),
        ("short", 2, False),
    ]
    assert annotated_share(found) == 0.5
    assert str(longest(found, 1)[0]) == "practice/shop.py:1 long (61 lines)"


def test_the_measure_leaves_out_migrations(tmp_path):
    _app(tmp_path, "def kept():\n    pass\n")
    (tmp_path / "practice" / "migrations").mkdir()
    (tmp_path / "practice" / "migrations" / "0001_initial.py").write_text("def f():\n    pass\n")
    assert [f.name for f in functions(tmp_path)] == ["kept"]
