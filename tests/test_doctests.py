"""The examples in the public docstrings run and print what they show."""

import doctest

import c4.kernels
import c4.progress
import c4.rotation
import pytest


@pytest.mark.parametrize("module", [c4.kernels, c4.progress, c4.rotation])
def test_docstring_examples(module) -> None:
    result = doctest.testmod(module)
    assert result.attempted > 0
    assert result.failed == 0
