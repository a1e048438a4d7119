"""Tests of the pure PyTorch modules against brute force and packed sequences."""
import itertools

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from spacy_bioner.torch_modules.crf import (
    CRFHead,
    bio_constraints,
    bio_spans,
    SCAN_MAX_TAGS,
    forward_backward,
    log_partition,
    path_scores,
    span_log_probs,
    viterbi,
)
from spacy_bioner.torch_modules.lstm import (
    VariationalBiLSTM,
    dropout,
    reverse_index,
    reverse_time_major,
    time_major_reverse,
)


def _random_crf(n_labels=2, batch=3, length=5, seed=0):
    gen = torch.Generator().manual_seed(seed)
    k = 1 + 2 * n_labels
    emissions = torch.randn(batch, length, k, generator=gen)
    start = torch.randn(k, generator=gen)
    trans = torch.randn(k, k, generator=gen)
    end = torch.randn(k, generator=gen)
    allowed_start, allowed = bio_constraints(n_labels)
    start = start.masked_fill(~allowed_start, -10000.0)
    trans = trans.masked_fill(~allowed, -10000.0)
    lengths = torch.tensor([length, 1, max(1, length - 2)][:batch])
    mask = torch.arange(length).unsqueeze(0) < lengths.unsqueeze(1)
    return emissions, mask, start, trans, end, lengths


def _path_score(path, emit, start, trans, end):
    score = start[path[0]] + emit[0, path[0]]
    for i in range(1, len(path)):
        score = score + trans[path[i - 1], path[i]] + emit[i, path[i]]
    return score + end[path[-1]]


def _all_paths(emit, n, start, trans, end):
    k = emit.shape[1]
    return {p: _path_score(p, emit, start, trans, end) for p in itertools.product(range(k), repeat=n)}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_viterbi_and_marginals_match_brute_force(seed):
    emissions, mask, start, trans, end, lengths = _random_crf(seed=seed)
    paths = viterbi(emissions, mask, start, trans, end)
    alpha, beta, log_z = forward_backward(emissions, mask, start, trans, end)
    spans = bio_spans(paths, lengths)
    span_probs = span_log_probs(spans, emissions, mask, alpha, beta, log_z, trans, end).exp()
    for row in range(emissions.shape[0]):
        n = int(lengths[row])
        scores = _all_paths(emissions[row, :n], n, start, trans, end)
        best = max(scores, key=lambda p: scores[p])
        assert paths[row, :n].tolist() == list(best)
        assert torch.allclose(log_z[row], torch.logsumexp(torch.stack(list(scores.values())), 0), atol=1e-4)
        for (r, s, e, label), prob in zip(spans, span_probs.tolist()):
            if r != row:
                continue
            b, i = 1 + 2 * label, 2 + 2 * label
            # Probability mass of all paths that contain exactly this entity.
            total = sum(
                torch.exp(sc - log_z[row]).item()
                for p, sc in scores.items()
                if p[s] == b and all(t == i for t in p[s + 1 : e]) and (e == n or p[e] != i)
            )
            assert prob == pytest.approx(total, abs=1e-4)


def test_decoding_is_always_valid_bio():
    # Emissions that strongly favour I- tags after O: decoding must not follow them.
    head = CRFHead(4, ["A", "B"])
    states = torch.randn(8, 12, 4) * 5
    torch.nn.init.normal_(head.output.weight, std=10.0)
    mask = torch.ones(8, 12, dtype=torch.bool)
    paths, entities = head.decode(states, mask)
    for path in paths.tolist():
        for prev, tag in zip([0] + path, path):
            if tag and tag % 2 == 0:
                assert prev in (tag - 1, tag), path
    for ents in entities:
        for ent in ents:
            assert 0.0 <= ent.confidence <= 1.0


def test_reverse_index_reverses_within_length():
    idx = reverse_index(torch.tensor([3, 1, 4]), 4)
    assert idx.tolist() == [[2, 1, 0, 3], [0, 1, 2, 3], [3, 2, 1, 0]]


def test_bilstm_padding_trick_equals_packed_sequences():
    torch.manual_seed(0)
    layer = VariationalBiLSTM(6, 5).eval()
    reference = torch.nn.LSTM(6, 5, batch_first=True, bidirectional=True)
    with torch.no_grad():
        for suffix, lstm in (("", layer.forward_lstm), ("_reverse", layer.backward_lstm)):
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(reference, f"{name}_l0{suffix}").copy_(getattr(lstm, f"{name}_l0"))
    lengths = torch.tensor([7, 2, 5])
    x = torch.randn(3, 7, 6)
    ours = layer(x, lengths, reverse_index(lengths, 7))
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    theirs, _ = pad_packed_sequence(reference(packed)[0], batch_first=True)
    mask = (torch.arange(7).unsqueeze(0) < lengths.unsqueeze(1)).unsqueeze(2)
    assert torch.allclose(ours * mask, theirs * mask, atol=1e-6)


def test_variational_masks_are_constant_over_time():
    torch.manual_seed(0)
    layer = VariationalBiLSTM(4, 3, input_dropout=0.5)
    seen = {}

    def hook(module, inputs):
        seen["x"] = inputs[0].transpose(0, 1)  # the LSTMs read time-major

    layer.forward_lstm.register_forward_pre_hook(hook)
    layer.train()
    x = torch.ones(2, 6, 4)
    layer(x, torch.tensor([6, 6]), reverse_index(torch.tensor([6, 6]), 6))
    dropped = seen["x"] == 0
    # Same units dropped at every time step, different masks per sequence allowed.
    assert (dropped == dropped[:, :1]).all()
    assert dropped.any()
    layer.eval()
    layer(x, torch.tensor([6, 6]), reverse_index(torch.tensor([6, 6]), 6))
    assert not (seen["x"] == 0).any()


@pytest.mark.parametrize("rate", [0.0, 0.3, 1.0])
def test_dropout_keeps_the_expectation_and_routes_gradients_through_the_mask(rate):
    torch.manual_seed(0)
    x = torch.full((64, 32, 50), 2.0, requires_grad=True)
    y = dropout(x, rate)
    kept = y != 0
    assert abs(kept.float().mean().item() - (1.0 - rate)) < 0.01
    if rate < 1.0:
        # Kept values are scaled so that the expectation stays x.
        assert torch.allclose(y[kept], torch.tensor(2.0 / (1.0 - rate)))
    y.sum().backward()
    assert torch.equal(x.grad != 0, kept)


def _constrained_log_z(emit, start, trans, end, forced):
    """log Z over the paths whose tag at position t is in forced[t] (a set)."""
    masked = emit.clone()
    for t, allowed in forced.items():
        for k in range(emit.shape[1]):
            if k not in allowed:
                masked[t, k] = float("-inf")
    mask = torch.ones(1, emit.shape[0], dtype=torch.bool)
    return forward_backward(masked.unsqueeze(0), mask, start, trans, end)[2][0]


@pytest.mark.parametrize("seed", [3, 4])
def test_span_probs_on_long_rows_match_constrained_forward(seed):
    # Too long for brute force: the probability of a span is the mass of the
    # paths forced through B-X I-X ... I-X then not-I-X, by a separate forward pass.
    emissions, mask, start, trans, end, lengths = _random_crf(n_labels=3, batch=3, length=400, seed=seed)
    emissions = emissions * 3
    paths = viterbi(emissions, mask, start, trans, end)
    alpha, beta, log_z = forward_backward(emissions, mask, start, trans, end)
    spans = bio_spans(paths, lengths)
    assert len(spans) > 10
    probs = span_log_probs(spans, emissions, mask, alpha, beta, log_z, trans, end).exp()
    k = emissions.shape[2]
    for (row, s, e, label), prob in list(zip(spans, probs.tolist()))[:25]:
        n = int(lengths[row])
        b, i = 1 + 2 * label, 2 + 2 * label
        forced = {s: {b}, **{t: {i} for t in range(s + 1, e)}}
        if e < n:
            forced[e] = set(range(k)) - {i}
        constrained = _constrained_log_z(emissions[row, :n], start, trans, end, forced)
        assert prob == pytest.approx(torch.exp(constrained - log_z[row]).item(), rel=1e-3, abs=1e-5)


def test_span_probs_memory_is_linear_in_length():
    # Many spans over a long row: the old method built spans x T x K floats
    # (here 2000 x 20000 x 5 = 800 MB); the prefix-sum one needs T x K.
    length = 20000
    emissions = torch.zeros(1, length, 5)
    mask = torch.ones(1, length, dtype=torch.bool)
    _, _, start, trans, end, _ = _random_crf(n_labels=2)
    alpha, beta, log_z = forward_backward(emissions, mask, start, trans, end)
    spans = [(0, s, s + 3, s % 2) for s in range(0, length - 3, 10)]
    with torch.autograd.profiler.profile(profile_memory=True) as prof:
        span_log_probs(spans, emissions, mask, alpha, beta, log_z, trans, end)
    biggest = max((abs(e.cpu_memory_usage) for e in prof.function_events), default=0)
    assert biggest < 50 * length * 8


def test_char_encoder_groups_by_length_equals_one_padded_matrix():
    from spacy_bioner.torch_modules.bilstm_crf import CharEncoder

    torch.manual_seed(0)
    encoder = CharEncoder(20, 4, 3).eval()
    lengths = torch.tensor([3, 1, 3000, 7, 2, 40])
    chars = torch.randint(2, 20, (int(lengths.sum()),))
    grouped = encoder(chars, lengths)
    # Reference: every word padded to the longest one, as before.
    padded = torch.zeros(len(lengths), int(lengths.max()), dtype=torch.long)
    offsets = (lengths.cumsum(0) - lengths).tolist()
    for u, (o, n) in enumerate(zip(offsets, lengths.tolist())):
        padded[u, :n] = chars[o : o + n]
    reference = encoder._encode_padded(padded.flatten(), torch.arange(len(lengths)) * padded.shape[1], lengths)
    assert torch.allclose(grouped, reference, atol=1e-5)
    # The short words never see the 3000-wide matrix: their states equal a
    # batch without the long word.
    keep = torch.tensor([0, 1, 3, 4, 5])
    short_chars = torch.cat([chars[offsets[u] : offsets[u] + int(lengths[u])] for u in keep.tolist()])
    assert torch.allclose(encoder(short_chars, lengths[keep]), grouped[keep], atol=1e-6)


def test_reverse_rows_equals_expanded_gather():
    from spacy_bioner.torch_modules.lstm import reverse_rows

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(4, 6, 5, generator=gen, requires_grad=True)
    lengths = torch.tensor([6, 1, 3, 4])
    reverse = reverse_index(lengths, 6)
    expected = x.gather(1, reverse.unsqueeze(2).expand(-1, -1, 5))
    assert torch.equal(reverse_rows(x, reverse), expected)
    # Its own inverse, with the same gradient as the gather.
    assert torch.equal(reverse_rows(reverse_rows(x, reverse), reverse), x)
    (grad,) = torch.autograd.grad((reverse_rows(x, reverse) * torch.arange(30.0).view(1, 6, 5)).sum(), x)
    (expected_grad,) = torch.autograd.grad((expected * torch.arange(30.0).view(1, 6, 5)).sum(), x)
    assert torch.equal(grad, expected_grad)


@pytest.mark.parametrize("seed", [0, 1])
def test_log_partition_and_path_scores_match_brute_force(seed):
    emissions, mask, start, trans, end, lengths = _random_crf(seed=seed)
    tags = torch.randint(0, emissions.shape[2], mask.shape, generator=torch.Generator().manual_seed(seed))
    log_z, gold = log_partition(emissions, mask, start, trans, end), path_scores(emissions, tags, mask, start, trans, end)
    for row in range(emissions.shape[0]):
        n = int(lengths[row])
        scores = _all_paths(emissions[row, :n], n, start, trans, end)
        assert torch.allclose(log_z[row], torch.logsumexp(torch.stack(list(scores.values())), 0), atol=1e-4)
        assert torch.allclose(gold[row], scores[tuple(tags[row, :n].tolist())], atol=1e-4)


@pytest.mark.parametrize("n_labels,length", [(1, 1), (1, 2), (1, 37), (2, 64), (3, 9), (4, 20)])
def test_head_loss_equals_pytorch_crf_loss_and_gradients(n_labels, length):
    """The loop-free log-likelihood (small tag sets) is pytorch-crf's, value
    and gradients, on padded batches; larger tag sets use pytorch-crf."""
    torch.manual_seed(length)
    head = CRFHead(6, [f"L{i}" for i in range(n_labels)])
    for param in (head.crf.start_transitions, head.crf.transitions, head.crf.end_transitions):
        torch.nn.init.normal_(param)
    states = torch.randn(5, length, 6)
    lengths = torch.tensor([length, 1, max(1, length // 2), max(1, length - 1), length])
    mask = torch.arange(length).unsqueeze(0) < lengths.unsqueeze(1)
    tags = torch.randint(0, len(head.tags), (5, length)) * mask
    ours = head.loss(states, tags, mask)
    params = list(head.parameters())
    ours_grads = torch.autograd.grad(ours, params, allow_unused=True, materialize_grads=True)
    reference = -head.crf(head.emissions(states), tags, mask=mask, reduction="sum")
    reference_grads = torch.autograd.grad(reference, params, allow_unused=True, materialize_grads=True)
    assert (len(head.tags) <= SCAN_MAX_TAGS) == (n_labels <= 3)
    assert torch.allclose(ours, reference, rtol=1e-5, atol=1e-4)
    for a, b in zip(ours_grads, reference_grads):
        assert torch.isfinite(a).all()
        # float32 sums over a batch of long rows, added in another order.
        assert torch.allclose(a, b, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_row_reversal_passes_gradients_in_every_dtype(dtype):
    """Reversing rows is differentiable whatever the dtype (the bfloat16
    fast path moves rows as int32, which autograd cannot follow)."""
    lengths = torch.tensor([3, 1, 2])
    flat = time_major_reverse(reverse_index(lengths, 3))
    x = torch.randn(3, 3, 4, requires_grad=True)
    weights = torch.randn(3, 3, 4)
    (reverse_time_major(x.to(dtype), flat).float() * weights).sum().backward()
    expected = reverse_time_major(weights, flat)  # the reversal is its own inverse
    assert torch.allclose(x.grad, expected.to(dtype).float())
