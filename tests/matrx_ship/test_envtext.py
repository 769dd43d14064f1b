"""The one grammar of variable names and .env text."""

import pytest
from pydantic import ValidationError

from matrx_ship import envtext
from matrx_ship.errors import InvalidInput
from matrx_ship.models import ServiceSpec

DOTENV = '# comment\n\nexport D="with space"\nE=\'single\'\nF=plain # trailing\nG = "a\\nb"\n'


def test_names_are_letters_digits_and_underscores_up_to_128() -> None:
    assert [envtext.valid_key(k) for k in ("A", "_x1", "a" * 128)] == [True, True, True]
    assert [envtext.valid_key(k) for k in ("", "1A", "BAD-KEY", "a" * 129, "A B")] == [False] * 5


def test_parse_reads_quotes_export_and_comments() -> None:
    assert envtext.parse(DOTENV) == {"D": "with space", "E": "single", "F": "plain", "G": "a\nb"}
    assert envtext.parse("") == {}


def test_a_bad_line_is_named_without_its_value() -> None:
    with pytest.raises(InvalidInput) as info:
        envtext.parse("A=1\nBAD-KEY=s3cr3t\n")
    assert info.value.code == "bad_dotenv" and "Line 2" in info.value.message
    assert "s3cr3t" not in info.value.message


def test_keys_lists_what_parse_would_set_and_passes_over_bad_lines() -> None:
    assert envtext.keys("# c\nexport A=1\nB = 2\nnot a line\nA=3\n") == ["A", "B"]
    assert envtext.keys(DOTENV) == sorted(envtext.parse(DOTENV))


@pytest.mark.parametrize("value", ["plain", 'say "hi"', "a\nb", "a\\nb", "C:\\path\\", "", "#x"])
def test_render_reads_back_to_the_same_values(value: str) -> None:
    env = {"B": value, "A": "1"}
    text = envtext.render(env)
    assert text.splitlines()[0] == 'A="1"'  # sorted, one line a variable
    assert envtext.parse(text) == env


def test_render_of_nothing_is_empty() -> None:
    assert envtext.render({}) == ""


def test_the_domain_model_uses_the_same_names() -> None:
    spec = {"name": "web", "image": "busybox:1", "env": {"a" * 128: "1"}}
    assert ServiceSpec.model_validate(spec).env == {"a" * 128: "1"}
    with pytest.raises(ValidationError, match="not a valid environment variable name"):
        ServiceSpec.model_validate({**spec, "env": {"a" * 129: "1"}})
