"""Typical wrong answers to hw03, one or more per question (see hw01's wrong_answers.py)."""

WRONG_ANSWERS = [
    {
        "question": "q1",
        "name": "the reset gate applied after the product where the notes' form is asked",
        "code": '''
def gru_step(X_t, H_prev, params):
    p = params
    R = torch.sigmoid(X_t @ p["W_xr"] + H_prev @ p["W_hr"] + p["b_r"])
    Z = torch.sigmoid(X_t @ p["W_xz"] + H_prev @ p["W_hz"] + p["b_z"])
    H_tilde = torch.tanh(X_t @ p["W_xh"] + R * (H_prev @ p["W_hh"]) + p["b_h"])
    return Z * H_prev + (1 - Z) * H_tilde
''',
    },
    {
        "question": "q1",
        "name": "the update gate's roles swapped (Z on the candidate)",
        "code": '''
def gru_step(X_t, H_prev, params):
    missing = [k for k in ("W_xz", "W_hz", "b_z", "W_xr", "W_hr", "b_r", "W_xh", "W_hh", "b_h") if k not in params]
    if missing:
        raise ValueError(f"params lacks {missing}")
    p = params
    R = torch.sigmoid(X_t @ p["W_xr"] + H_prev @ p["W_hr"] + p["b_r"])
    Z = torch.sigmoid(X_t @ p["W_xz"] + H_prev @ p["W_hz"] + p["b_z"])
    H_tilde = torch.tanh(X_t @ p["W_xh"] + (R * H_prev) @ p["W_hh"] + p["b_h"])
    return (1 - Z) * H_prev + Z * H_tilde
''',
    },
    {
        "question": "q2",
        "name": "the notes' form (reset before the product) where nn.GRU's is asked",
        "code": '''
def gru_step_reset_after(X_t, H_prev, params):
    p = params
    R = torch.sigmoid(X_t @ p["W_xr"] + H_prev @ p["W_hr"] + p["b_r"])
    Z = torch.sigmoid(X_t @ p["W_xz"] + H_prev @ p["W_hz"] + p["b_z"])
    H_tilde = torch.tanh(X_t @ p["W_xh"] + p["b_h"] + (R * H_prev) @ p["W_hh"] + p["b_hn"])
    return Z * H_prev + (1 - Z) * H_tilde
''',
    },
    {
        "question": "q3",
        "name": "H_t = O_t * C_t, without the tanh of the memory",
        "code": '''
def lstm_step(X_t, state, params):
    missing = [k for k in ("W_xi", "W_hi", "b_i", "W_xf", "W_hf", "b_f", "W_xo", "W_ho", "b_o",
                           "W_xc", "W_hc", "b_c") if k not in params]
    if missing:
        raise ValueError(f"params lacks {missing}")
    H, C = state
    p = params
    I = torch.sigmoid(X_t @ p["W_xi"] + H @ p["W_hi"] + p["b_i"])
    F = torch.sigmoid(X_t @ p["W_xf"] + H @ p["W_hf"] + p["b_f"])
    O = torch.sigmoid(X_t @ p["W_xo"] + H @ p["W_ho"] + p["b_o"])
    C = F * C + I * torch.tanh(X_t @ p["W_xc"] + H @ p["W_hc"] + p["b_c"])
    return O * C, C
''',
    },
    {
        "question": "q4",
        "name": "'it has twice as many parameters'",
        "code": 'q4_answer = "a"',
    },
    # -- each passed the hidden tests before issue 16 (full marks); the hidden tests now catch them
    {
        "question": "q1",
        "name": "the hand-written list of keys to check lacks b_h: a params without it raises KeyError",
        "code": '''
def gru_step(X_t, H_prev, params):
    missing = [k for k in ("W_xz", "W_hz", "b_z", "W_xr", "W_hr", "b_r", "W_xh", "W_hh") if k not in params]
    if missing:
        raise ValueError(f"params lacks {missing}")
    p = params
    R = torch.sigmoid(X_t @ p["W_xr"] + H_prev @ p["W_hr"] + p["b_r"])
    Z = torch.sigmoid(X_t @ p["W_xz"] + H_prev @ p["W_hz"] + p["b_z"])
    H_tilde = torch.tanh(X_t @ p["W_xh"] + (R * H_prev) @ p["W_hh"] + p["b_h"])
    return Z * H_prev + (1 - Z) * H_tilde
''',
    },
    {
        "question": "q2",
        "name": "question 1's list of keys copied: a params without b_hn raises KeyError",
        "code": '''
def gru_step_reset_after(X_t, H_prev, params):
    missing = [k for k in ("W_xz", "W_hz", "b_z", "W_xr", "W_hr", "b_r", "W_xh", "W_hh", "b_h") if k not in params]
    if missing:
        raise ValueError(f"params lacks {missing}")
    p = params
    R = torch.sigmoid(X_t @ p["W_xr"] + H_prev @ p["W_hr"] + p["b_r"])
    Z = torch.sigmoid(X_t @ p["W_xz"] + H_prev @ p["W_hz"] + p["b_z"])
    H_tilde = torch.tanh(X_t @ p["W_xh"] + p["b_h"] + R * (H_prev @ p["W_hh"] + p["b_hn"]))
    return Z * H_prev + (1 - Z) * H_tilde
''',
    },
    {
        "question": "q3",
        "name": "the memory updated in place (C *= F): the caller's C_prev changes",
        "code": '''
def lstm_step(X_t, state, params):
    missing = [k for k in ("W_xi", "W_hi", "b_i", "W_xf", "W_hf", "b_f", "W_xo", "W_ho", "b_o",
                           "W_xc", "W_hc", "b_c") if k not in params]
    if missing:
        raise ValueError(f"params lacks {missing}")
    H, C = state
    p = params
    I = torch.sigmoid(X_t @ p["W_xi"] + H @ p["W_hi"] + p["b_i"])
    F = torch.sigmoid(X_t @ p["W_xf"] + H @ p["W_hf"] + p["b_f"])
    O = torch.sigmoid(X_t @ p["W_xo"] + H @ p["W_ho"] + p["b_o"])
    C_tilde = torch.tanh(X_t @ p["W_xc"] + H @ p["W_hc"] + p["b_c"])
    C *= F
    C += I * C_tilde
    return O * torch.tanh(C), C
''',
    },
]
