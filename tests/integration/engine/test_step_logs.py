from rayline.engine.worker import MAX_LOG_CHARS, _tail


def test_ray_progress_lines_are_left_out_of_step_logs():
    text = 'reading\n{"__ray_tqdm_magic_token__": "x", "pos": 0}\ndone\n'
    assert _tail(text) == "reading\ndone\n"


def test_long_logs_keep_their_tail():
    text = "a" * 10 + "b" * MAX_LOG_CHARS
    kept = _tail(text)
    assert kept.endswith("b" * MAX_LOG_CHARS) and "10 earlier characters cut" in kept
