"""A named project's key and controller from the environment; a bad one is one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from retention.errors import RetentionError
from retention.pinecone.projects import (
    env_name,
    project_controller,
    project_key,
    read_key_file,
    split_index,
)


def test_index_names_split_into_project_and_index() -> None:
    assert split_index("idx") == (None, "idx")
    assert split_index("eu-west:idx") == ("eu-west", "idx")
    assert env_name("eu-west") == "EU_WEST"


def test_the_key_comes_from_the_variable_or_its_file(tmp_path: Path) -> None:
    assert project_key("eu", {"PINECONE_API_KEY_EU": "k-1"}) == "k-1"
    key = tmp_path / "key"
    key.write_text("k-2\r\n")
    assert project_key("eu", {"PINECONE_API_KEY_EU_FILE": str(key)}) == "k-2"


def test_the_default_key_is_never_used_for_a_named_project() -> None:
    with pytest.raises(RetentionError, match="PINECONE_API_KEY_EU is not set"):
        project_key("eu", {"PINECONE_API_KEY": "default"})


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"x" * 5000, "not a regular file of at most"), (b"\xff\xfe", "not ASCII text")],
)
def test_a_key_file_that_holds_no_key_is_one_line(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    path = tmp_path / "key"
    path.write_bytes(content)
    with pytest.raises(RetentionError, match=reason):
        read_key_file(str(path), "PINECONE_API_KEY_EU_FILE")
    with pytest.raises(RetentionError, match="not a regular file"):
        read_key_file(str(tmp_path), "PINECONE_API_KEY_EU_FILE")
    with pytest.raises(RetentionError, match="cannot read"):
        read_key_file(str(tmp_path / "missing"), "PINECONE_API_KEY_EU_FILE")


def test_a_key_with_a_line_break_inside_is_refused_without_showing_it() -> None:
    with pytest.raises(RetentionError) as refused:
        project_key("eu", {"PINECONE_API_KEY_EU": "secret\nkey"})
    assert "secret" not in str(refused.value) and "PINECONE_API_KEY_EU" in str(refused.value)


def test_the_controller_defaults_to_the_default_one() -> None:
    default = "https://api.pinecone.io"
    assert project_controller("eu", {}, default) == default
    other = {"PINECONE_CONTROLLER_HOST_EU": "http://127.0.0.1:5081"}
    assert project_controller("eu", other, default) == "http://127.0.0.1:5081"
    with pytest.raises(RetentionError, match="PINECONE_CONTROLLER_HOST_EU"):
        project_controller("eu", {"PINECONE_CONTROLLER_HOST_EU": "127.0.0.1:5081"}, default)
