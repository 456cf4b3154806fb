"""``theta train`` with no arguments prints the chapter's own output, byte for byte."""


CHAPTER_OUTPUT = """\
step    0  loss  33.0000  w 1.4000  b 0.5000
step  200  loss   0.0000  w 2.0002  b 0.9994
step  999  loss   0.0000  w 2.0000  b 1.0000
learned: 2.0 1.0
prediction: 21.0
"""


def test_train_without_arguments_prints_the_chapter_output(theta_cli):
    result = theta_cli("train")
    assert result.returncode == 0, result.stderr
    assert result.stdout == CHAPTER_OUTPUT


def test_help_exits_zero_and_shows_an_example(theta_cli):
    result = theta_cli("--help")
    assert result.returncode == 0
    assert "theta train" in result.stdout


def test_no_command_is_a_usage_error(theta_cli):
    result = theta_cli()
    assert result.returncode == 2
    assert "usage:" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_command_is_a_usage_error_naming_it(theta_cli):
    result = theta_cli("fly")
    assert result.returncode == 2
    assert "fly" in result.stderr
    assert "Traceback" not in result.stderr
