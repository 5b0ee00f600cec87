"""Absurd numbers on the command line are one-line errors, never a ZeroDivisionError (issue 26)."""
import pytest

from assets.cli import main


@pytest.mark.parametrize("args, message", [
    (["--nodes", "0", "--gpus-per-node", "8"], "--nodes must be a whole number from 1 to 1000000, got 0"),
    (["--nodes", "1", "--gpus-per-node", "0"], "--gpus-per-node must be a whole number from 1"),
    (["--nodes", "10000000000", "--gpus-per-node", "8"], "--nodes must be a whole number from 1 to 1000000"),
    (["--nodes", "1", "--gpus-per-node", "8", "--gpu-memory-gb", "0"], "--gpu-memory-gb must be a positive number"),
])
def test_plan_refuses_absurd_cluster_sizes(capsys, args, message):
    assert main(["plan", "llama2-70b", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
