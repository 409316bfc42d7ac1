from laneway.engines.sim.faults import FaultPlan


def test_error_rate_zero_never_fails_and_one_always_fails():
    assert not any(FaultPlan(error_rate=0.0).should_fail() for _ in range(100))
    assert all(FaultPlan(error_rate=1.0).should_fail() for _ in range(100))


def test_error_draws_repeat_with_the_same_seed():
    a, b = FaultPlan(error_rate=0.5, seed=7), FaultPlan(error_rate=0.5, seed=7)
    assert [a.should_fail() for _ in range(50)] == [b.should_fail() for _ in range(50)]


def test_crash_after_n_answers():
    plan = FaultPlan(crash_after=2)
    assert plan.record_answered() is False
    assert plan.record_answered() is True


def test_no_crash_without_the_flag():
    plan = FaultPlan()
    assert not any(plan.record_answered() for _ in range(10))


def test_slow_start_window():
    plan = FaultPlan(slow_start=2.0)
    assert plan.starting(0.5)
    assert not plan.starting(2.0)
    assert not FaultPlan().starting(0.0)


def test_wrong_answers_change_the_words_for_the_same_prompt():
    from laneway.engines.sim.tokens import output_tokens

    healthy, wrong = FaultPlan(), FaultPlan(wrong_answers=True)
    assert output_tokens(healthy.answer_key("k"), 8) == output_tokens(FaultPlan().answer_key("k"), 8)
    assert output_tokens(wrong.answer_key("k"), 8) != output_tokens(healthy.answer_key("k"), 8)
