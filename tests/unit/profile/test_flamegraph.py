"""perflab.profile.flamegraph: the merged tree and its pruning against brute force on the stacks,
the embedded data, escaping, orientation and colors. The drawing itself is checked in a real
browser by tests/integration/test_flamegraph_browser.py."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
from collections import Counter
from typing import Any

import pytest

from perflab.profile.flamegraph import (
    build_tree,
    frame_color,
    function_key,
    render_flamegraph,
    split_frame,
    visible_nodes,
)

Stacks = dict[tuple[str, ...], int]
DATA = re.compile(r'<script type="application/json" id="fg-data">(.*?)</script>', re.S)


def realistic(seed: int = 0, distinct: int = 400) -> Stacks:
    """py-spy-like stacks: a few hot paths, a long tail, lines that vary, a native leaf."""
    rng = random.Random(seed)
    stacks: Stacks = {}
    root = ("<module> (app.py:80)", "main (app.py:70)")
    while len(stacks) < distinct:
        kind = rng.random()
        if kind < 0.2:
            stack = (*root, "compute (app.py:30)", f"hot_loop (app.py:{rng.choice([12, 13])})")
        elif kind < 0.6:
            stack = (*root, "handle (server.py:22)", f"parse (parser.py:{rng.randint(10, 40)})")
            stack += (f"helper_{rng.randint(0, 60)} (lib/util.py:{rng.randint(1, 9)})",) * (
                rng.random() < 0.7
            )
        elif kind < 0.8:
            stack = (*root, "flush (io.py:3)", "write", "__libc_write")
        else:
            stack = (*root, f"rare_{rng.randint(0, 2000)} (misc.py:1)")
        stacks[stack] = stacks.get(stack, 0) + rng.randint(1, 40)
    return stacks


def page_json(html: str) -> dict[str, Any]:
    found = DATA.search(html)
    assert found, "no embedded data"
    return json.loads(found.group(1))  # type: ignore[no-any-return]


def prefix_totals(stacks: Stacks) -> Counter[tuple[str, ...]]:
    totals: Counter[tuple[str, ...]] = Counter()
    for stack, count in stacks.items():
        for depth in range(len(stack) + 1):
            totals[stack[:depth]] += count
    return totals


@pytest.mark.parametrize(
    ("frame", "split", "key"),
    [
        ("hot_loop (app.py:12)", ("hot_loop", "app.py:12"), "hot_loop (app.py)"),
        ("<module> (<string>:8)", ("<module>", "<string>:8"), "<module> (<string>)"),
        ("__libc_write", ("__libc_write", ""), "__libc_write"),
        ("PyObject_Call (libpython3.11.so)", ("PyObject_Call", "libpython3.11.so"), None),
        ("f (x) (a.py:3)", ("f (x)", "a.py:3"), "f (x) (a.py)"),
        ("run (C:\\src\\a.py:7)", ("run", "C:\\src\\a.py:7"), "run (C:\\src\\a.py)"),
    ],
)
def test_frames_split_into_function_and_location(
    frame: str, split: tuple[str, str], key: str | None
) -> None:
    """A key drops only a numeric line; a location without one (a native library) stays."""
    assert split_frame(frame) == split
    assert function_key(frame) == (key or frame)


def test_tree_totals_match_brute_force_on_the_stacks() -> None:
    stacks = realistic()
    tree = build_tree(stacks)
    expected = prefix_totals(stacks)
    paths: dict[int, tuple[str, ...]] = {0: ()}
    for node in range(len(tree.frames)):
        for frame, child in tree.children[node].items():
            paths[child] = (*paths[node], frame)
    assert len(paths) == len(expected)
    for node, path in paths.items():
        assert tree.total[node] == expected[path], path
        assert tree.self_[node] == stacks.get(path, 0)
        children = sum(tree.total[c] for c in tree.children[node].values())
        assert tree.total[node] == tree.self_[node] + children
    assert tree.samples == sum(stacks.values())


def test_recursion_counts_a_sample_once_per_frame() -> None:
    tree = build_tree({("a", "b", "a", "b", "a"): 3, ("a", "c"): 2, ("b",): 1})
    assert tree.containing == {"a": 5, "b": 4, "c": 2}
    assert tree.ending == {"a": 3, "c": 2, "b": 1}


def test_zero_counts_are_skipped_and_negative_ones_refused() -> None:
    assert build_tree({("a",): 0, ("b",): 2}).frames == ["all", "b"]
    with pytest.raises(ValueError, match="negative"):
        build_tree({("a",): -1})


def test_pruning_drops_narrow_frames_but_keeps_every_total_right() -> None:
    stacks = realistic(distinct=3000)
    tree = build_tree(stacks)
    min_share = 0.01
    limit = min_share * tree.samples
    order = visible_nodes(tree, min_share)
    kept = {node for node, _ in order}
    assert 1 < len(kept) < len(tree.frames)
    assert all(tree.total[node] >= limit for node in kept if node)
    html = render_flamegraph(stacks, title="t", min_share=min_share)
    data = page_json(html)
    expected = prefix_totals(stacks)
    # Rebuild each embedded node's path from the preorder depths: its total is the true one.
    path: list[str] = []
    for ref, depth, value in zip(data["n"], data["d"], data["v"], strict=True):
        del path[max(depth - 1, 0) :]
        if depth:
            name, location = data["names"][ref]
            path.append(f"{name} ({location})" if location else name)
        assert value == expected[tuple(path)]
    assert data["v"][0] == tree.samples
    # Samples hidden by pruning: the stacks that pass through some frame below the limit.
    hidden = sum(
        count
        for stack, count in stacks.items()
        if any(expected[stack[:d]] < limit for d in range(1, len(stack) + 1))
    )
    assert data["hidden"] == hidden > 0
    assert f"{hidden:,} samples" in html


def test_pruned_frames_still_carry_their_exact_sample_counts_for_search() -> None:
    stacks = realistic(distinct=3000)
    data = page_json(render_flamegraph(stacks, title="t", min_share=0.01))
    drawn = set(data["n"])
    names = [f"{n} ({loc})" if loc else n for n, loc in data["names"]]
    undrawn = [k for k in range(1, len(names)) if k not in drawn]
    assert undrawn, "expected frames that only live in pruned subtrees"
    for k in [*undrawn[:50], *sorted(drawn)[1:20]]:
        assert data["t"][k] == sum(c for s, c in stacks.items() if names[k] in s)


def test_deep_stacks_do_not_hit_the_recursion_limit() -> None:
    deep = tuple(f"f{i % 7} (r.py:{i})" for i in range(5000))
    order = visible_nodes(build_tree({deep: 5, deep[:10]: 1}))
    assert len(order) == 5001 and order[-1][1] == 5000


def test_frames_and_titles_cannot_break_out_of_the_page() -> None:
    evil = "</script><script>alert(1)</script> (x.py:1)"
    odd = "f\u2028g <!-- & > (y.py:2)"
    html = render_flamegraph(
        {("main (a.py:1)", evil): 5, ("main (a.py:1)", odd): 3},
        title="<b>t</b> & </script>",
        meta={"cmd": "<img src=x onerror=alert(1)>"},
    )
    assert "<script>alert" not in html and "<img src" not in html and "<b>t" not in html
    assert "&lt;b&gt;t&lt;/b&gt; &amp; &lt;/script&gt;" in html
    assert html.count("</script>") == 2  # the data's and the code's
    assert "\u2028" not in DATA.search(html).group(1)  # type: ignore[union-attr]
    names = {name for name, _ in page_json(html)["names"]}
    assert {"</script><script>alert(1)</script>", "f\u2028g <!-- & >"} <= names


def test_the_page_is_self_contained() -> None:
    html = render_flamegraph(realistic(), title="offline")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<link" not in html and "@import" not in html and "url(" not in html
    assert 'data-rendered="0"' in html and 'data-failed="0"' in html


def test_orientation() -> None:
    stacks = realistic()
    assert 'data-orientation="flame"' in render_flamegraph(stacks, title="t")
    assert 'data-orientation="icicle"' in render_flamegraph(stacks, title="t", orientation="icicle")
    with pytest.raises(ValueError, match="orientation"):
        render_flamegraph(stacks, title="t", orientation="sideways")  # type: ignore[arg-type]


def test_colors_are_warm_and_stable_by_function() -> None:
    assert frame_color("hot_loop") == "#fc931d"  # pinned: a palette change shows up here
    for name in ("main", "parse", "<module>", "hot_loop", "ünïcode", ""):
        red, green, blue = (int(frame_color(name)[i : i + 2], 16) for i in (1, 3, 5))
        assert red >= 205 and green <= 230 and blue <= 55
    assert len({frame_color(f"f{i}") for i in range(50)}) > 40
    data = page_json(render_flamegraph(realistic(), title="t"))
    by_function: dict[str, set[str]] = {}
    for ref, color in zip(data["n"][1:], data["c"][1:], strict=True):
        by_function.setdefault(data["names"][ref][0], set()).add(data["palette"][color])
    assert len(by_function["hot_loop"]) == 1  # both lines of it, one color
    assert by_function["hot_loop"] == {frame_color("hot_loop")}


def test_colors_do_not_depend_on_the_interpreters_hash_seed() -> None:
    code = "from perflab.profile.flamegraph import frame_color; print(frame_color('hot_loop'))"
    for seed in ("1", "2"):
        out = subprocess.run(
            [sys.executable, "-c", code],
            env={"PYTHONHASHSEED": seed, "PATH": ""},
            capture_output=True,
            text=True,
            check=True,
        )
        assert out.stdout.strip() == frame_color("hot_loop")


def test_merge_lines_makes_one_frame_per_function() -> None:
    stacks = {("main (a.py:1)", "hot (a.py:5)"): 2, ("main (a.py:2)", "hot (a.py:6)"): 3}
    data = page_json(render_flamegraph(stacks, title="t", merge_lines=True))
    assert [data["names"][k] for k in data["n"]] == [["all", ""], ["main", "a.py"], ["hot", "a.py"]]
    assert data["v"] == [5, 5, 5]
    assert len(page_json(render_flamegraph(stacks, title="t"))["n"]) == 5


def test_fifty_thousand_stacks_embed_a_bounded_tree() -> None:
    """50,000 distinct stacks of up to 30 frames: the page holds only frames of >= 0.1 %."""
    rng = random.Random(3)
    functions = [f"fn_{i} (pkg/m{i % 40}.py:{i % 97})" for i in range(3000)]
    stacks: Stacks = {}
    while len(stacks) < 50_000:
        depth = rng.randint(3, 30)
        stack = (
            "<module> (app.py:1)",
            *(functions[int(rng.paretovariate(0.8)) % 3000] for _ in range(depth)),
        )
        stacks[stack] = stacks.get(stack, 0) + rng.randint(1, 9)
    html = render_flamegraph(stacks, title="big")
    data = page_json(html)
    assert len(data["n"]) < 1000 * 31 and len(html) < 3_000_000
    assert data["v"][0] == sum(stacks.values())
    assert all(v >= 0.001 * data["v"][0] for v in data["v"])
