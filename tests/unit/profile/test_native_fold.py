"""Folding ``perf script`` output, on a real capture (data/perf_script_mix.txt).

The capture: ``perf record -F 49 -g -e cpu-clock -- sh -c './burn; python -c "..."'`` then
``perf script --no-inline``, on this VM's kernel 6.18 and perf 6.1: a C program built with
frame pointers (``hot`` in user space, ``read`` down into the kernel) and CPython 3.11
(libpython frames, JIT-less ``[unknown]`` callers).
"""

from __future__ import annotations

import re
from pathlib import Path

from perflab.profile.folded import format_folded, parse_folded, total_samples
from perflab.profile.native import fold_perf_script

DATA = Path(__file__).parent / "data"
LIBC_MAIN = "__libc_start_call_main (libc.so.6)"


def _capture() -> str:
    return (DATA / "perf_script_mix.txt").read_text()


def test_one_stack_per_sample() -> None:
    text = _capture()
    headers = len(re.findall(r"^\S.* cpu-clock:", text, flags=re.MULTILINE))
    stacks = fold_perf_script(text)
    assert total_samples(stacks) == headers == 22


def test_user_frames_root_first_offsets_stripped_library_basename() -> None:
    stacks = fold_perf_script(_capture())
    assert stacks[(LIBC_MAIN, "main (burn)", "hot (burn)")] == 12  # hot+0x45, hot+0x48, ...


def test_kernel_frames_are_kept_below_the_syscall() -> None:
    stacks = fold_perf_script(_capture())
    kernel = (
        LIBC_MAIN,
        "main (burn)",
        "read (libc.so.6)",
        "entry_SYSCALL_64_after_hwframe ([kernel.kallsyms])",
        "do_syscall_64 ([kernel.kallsyms])",
        "ksys_read ([kernel.kallsyms])",
        "vfs_read ([kernel.kallsyms])",
        "read_zero ([kernel.kallsyms])",
    )
    assert stacks[kernel] == 2


def test_unknown_frames_are_kept() -> None:
    stacks = fold_perf_script(_capture())
    libpython = "libpython3.11.so.1.0"
    unknown = ("[unknown]", "[unknown]", f"_PyEval_EvalFrameDefault ({libpython})")
    assert stacks[unknown] == 2
    assert stacks[(f"PyLong_AsLongAndOverflow ({libpython})",)] == 2
    python = sum(c for s, c in stacks.items() if libpython in s[-1])
    assert python == 8


def test_include_comm_roots_each_stack_at_its_command() -> None:
    stacks = fold_perf_script(_capture(), include_comm=True)
    by_comm: dict[str, int] = {}
    for stack, count in stacks.items():
        by_comm[stack[0]] = by_comm.get(stack[0], 0) + count
    assert by_comm == {"burn": 14, "python": 8}


def test_folded_output_reads_back() -> None:
    stacks = fold_perf_script(_capture())
    assert parse_folded(format_folded(stacks)) == stacks


def test_edge_lines_perf_prints() -> None:
    # Shapes from perf's output format: a library path with "(deleted)", a C++ symbol with
    # spaces and ';', an unknown symbol in a known library, header comments, a sample
    # without a call chain, and a command name with a space.
    text = (
        "# ========\n# captured on: x\n# ========\n"
        "Web Content 4242/4243 [001] 12.5: 10101010 cpu-clock:\n"
        "\t    7f01 std::vector<int, std::allocator<int> >::push_back(int; x)+0x10 (/usr/lib/libxul.so (deleted))\n"  # noqa: E501
        "\t    7f02 [unknown] (/usr/lib/libxul.so)\n"
        "\t    7f03 [unknown] ([unknown])\n"
        "\n"
        "idle 1 12.6: 10101010 cpu-clock:\n"
        "\n"
    )
    stacks = fold_perf_script(text)
    assert stacks == {
        (
            "[unknown]",
            "[unknown] (libxul.so)",
            "std::vector<int, std::allocator<int> >::push_back(int: x) (libxul.so)",
        ): 1,
        ("idle",): 1,
    }
    with_comm = fold_perf_script(text, include_comm=True)
    assert next(iter(with_comm))[0] == "Web Content"
    assert fold_perf_script("") == {}
