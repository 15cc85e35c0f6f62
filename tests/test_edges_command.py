"""`sciml edges RUN`: suggestions, fixed edges and continued training on a finished KAN run."""

import argparse
import json

import pytest

import sciml
from sciml import edges_command
from sciml.models.kan import load_kan


def _args(*argv):
    parser = argparse.ArgumentParser()
    edges_command.add_arguments(parser)
    return parser.parse_args(list(argv))


@pytest.mark.slow  # a solve, two reloads of the run and a short training: a few minutes on a busy CPU
def test_edges_suggest_fix_and_train_on_a_finished_run(tmp_path, root, capsys):
    run = tmp_path / "run"
    sciml.solve(sciml.load_problem(root / "problems" / "poisson2d.py"), model="kan", steps=30, lbfgs_steps=0,
                out=run, model_options={"hidden": (2,), "grid": 5}, points={"interior": 100}, progress=False)
    status = edges_command.run(_args(str(run), "--suggest", "--top", "2", "--fix", "0,0,0=sin",
                                     "--fix", "1,1,0=x**2", "--train", "5", "--samples", "300"))
    assert status == 0
    out = capsys.readouterr().out
    assert "edge 0,1,0" in out and "u network =" in out
    record = json.loads((run / "edges" / "edges.json").read_text())
    assert [e[:3] for e in record["fixed_edges"]] == [[0, 0, 0], [1, 1, 0]]
    assert {tuple(s["edge"]) for s in record["suggestions"]} == {(0, 0, 1), (0, 1, 0), (0, 1, 1), (1, 0, 0)}
    assert "sin(" in record["formula"][0] and record["rel_l2_after"] is not None
    model = load_kan(run / "edges" / "kan.msgpack")
    assert model.layers[0].symbolic.edges[0][:2] == (0, 0)
    assert (run / "edges" / "metrics.json").is_file()
    # iterate: start from the saved model and unfix an edge
    assert edges_command.run(_args(str(run), "--from-model", str(run / "edges" / "kan.msgpack"),
                                   "--unfix", "1,1,0", "--out", str(tmp_path / "again"))) == 0
    assert load_kan(tmp_path / "again" / "kan.msgpack").layers[1].symbolic is None


def test_edges_reports_bad_edge_specifications():
    with pytest.raises(ValueError, match="LAYER,IN,OUT=FUNCTION"):
        edges_command.parse_fix("0,1,0")
    with pytest.raises(ValueError, match="LAYER,IN,OUT"):
        edges_command.parse_edge("0,1")
    assert edges_command.parse_fix("1,0,2=x**2") == ((1, 0, 2), "x**2")
