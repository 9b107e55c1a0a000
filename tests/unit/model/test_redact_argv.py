"""Command lines stored with a profile or a run never carry the secrets typed into them."""

from __future__ import annotations

import pytest

from perflab.model.redact import REDACTED, redact_argv


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["app.py", "--password", "hunter2", "--port", "80"],
         ["app.py", "--password", REDACTED, "--port", "80"]),
        (["app.py", "--api-token=abc123"], ["app.py", f"--api-token={REDACTED}"]),
        (["env", "DB_PASSWORD=pw", "PATH=/bin"], ["env", f"DB_PASSWORD={REDACTED}", "PATH=/bin"]),
        (["psql", "postgresql://app:s3cret@db/app"], ["psql", f"postgresql://app:{REDACTED}@db/app"]),
        (["serve", "-k", "key.pem", "./a=b"], ["serve", "-k", "key.pem", "./a=b"]),
    ],
)  # fmt: skip
def test_redact_argv(argv: list[str], expected: list[str]) -> None:
    assert redact_argv(argv) == expected


def test_a_secret_flag_at_the_end_hides_nothing_else() -> None:
    assert redact_argv(["app", "--secret"]) == ["app", "--secret"]
