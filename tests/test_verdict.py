"""The verdict's reasons say what to try where they can."""

from sciml.verdict import judge


def test_a_data_misfit_with_learned_parameters_names_them_and_suggests_other_guesses():
    indicators = {"data": {"data:u": 0.6}, "learned_parameters": {"k": 2.51}}
    (reason,) = judge(indicators)
    assert reason.startswith("data:u (RMS misfit / data std) is 6.00e-01")
    assert "k = 2.51" in reason and "other initial guesses" in reason
    # fitted data, or no learned parameter: nothing is added
    assert judge({"data": {"data:u": 0.01}, "learned_parameters": {"k": 5.0}}) == []
    assert "initial guesses" not in judge({"data": {"data:u": 0.6}})[0]
