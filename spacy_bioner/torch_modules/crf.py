"""A linear-chain CRF output head with BIO-constrained decoding and
per-entity confidences from forward-backward marginals. Pure PyTorch.

Training uses pytorch-crf's parameters and log-likelihood. For small tag
sets (one to three labels) the same log-likelihood is computed here without
a Python step per token (`path_scores`, `log_partition`); pytorch-crf's
recursion costs a dozen tiny autograd ops per token, which is a tenth of a
training step on one core. Decoding and marginals are done here, vectorized
over the batch, because pytorch-crf decodes with a Python loop per sequence,
has no transition constraints and no marginals.
"""
from typing import List, NamedTuple, Sequence, Tuple

import torch
from torch import Tensor, nn
from torchcrf import CRF

# Largest tag set whose log-likelihood uses the parallel prefix product of
# `log_partition`: its work grows as K^3 per token against K^2 for the
# step-by-step recursion, so beyond 3 labels (K = 7) pytorch-crf's loop is
# faster (forward + backward, one thread of a shared core, 16 x 60 tokens:
# K=3 3-5x faster, K=7 1.3x faster, K=9 2x slower).
SCAN_MAX_TAGS = 7

# Added to forbidden transitions. Finite (not -inf) so that logsumexp over a
# row where everything is forbidden stays finite instead of becoming NaN.
FORBIDDEN = -10000.0


class Entity(NamedTuple):
    """A decoded entity: token offsets within its sequence (end exclusive),
    the index of its label in the head's label list, and its probability."""

    start: int
    end: int
    label: int
    confidence: float


def bio_tags(labels: Sequence[str]) -> List[str]:
    """The tag inventory of a head: "O", then "B-X", "I-X" for each label.

    labels (Sequence[str]): The entity labels, in a fixed order.
    RETURNS (List[str]): Tag names; tag 1 + 2*k is B of label k, 2 + 2*k is I.
    """
    tags = ["O"]
    for label in labels:
        tags.extend((f"B-{label}", f"I-{label}"))
    return tags


def bio_constraints(n_labels: int) -> Tuple[Tensor, Tensor]:
    """Which starts and transitions yield valid BIO sequences.

    n_labels (int): Number of entity labels.
    RETURNS (Tuple[Tensor, Tensor]): Boolean `allowed_start` (K,) and
        `allowed_transitions` (K, K) with K = 1 + 2 * n_labels; entry [i, j]
        says whether tag j may follow tag i. I-X may only follow B-X or I-X.
    """
    n_tags = 1 + 2 * n_labels
    allowed = torch.ones(n_tags, n_tags, dtype=torch.bool)
    start = torch.ones(n_tags, dtype=torch.bool)
    for k in range(n_labels):
        inside = 2 + 2 * k
        allowed[:, inside] = False
        allowed[inside - 1, inside] = True
        allowed[inside, inside] = True
        start[inside] = False
    return start, allowed


class CRFHead(nn.Module):
    """Output layer + CRF for one label set (one corpus in multi-task
    learning). Emission scores come from a linear layer over encoder states.
    """

    def __init__(self, input_size: int, labels: Sequence[str]) -> None:
        super().__init__()
        self.labels = list(labels)
        self.tags = bio_tags(self.labels)
        self.output = nn.Linear(input_size, len(self.tags))
        self.crf = CRF(len(self.tags), batch_first=True)
        start, allowed = bio_constraints(len(self.labels))
        self.register_buffer("allowed_start", start, persistent=False)
        self.register_buffer("allowed_transitions", allowed, persistent=False)

    def emissions(self, states: Tensor) -> Tensor:
        return self.output(states)

    def loss(self, states: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        """Summed negative log-likelihood of the gold tag sequences.

        states (Tensor): Encoder output (B, T, H).
        tags (Tensor): Gold tag ids (B, T); padding positions are ignored.
        mask (Tensor): Boolean (B, T), True on real tokens; mask[:, 0] all True.
        RETURNS (Tensor): Scalar loss, summed over sequences.
        """
        return self.nll(self.emissions(states), tags, mask)

    def nll(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        """`loss` from emission scores (B, T, K) computed already (in float32:
        the forward recursion sums many exponentials, and a path score is a
        difference of large sums, both beyond bfloat16's 8-bit mantissa)."""
        if len(self.tags) > SCAN_MAX_TAGS:
            return -self.crf(emissions, tags, mask=mask, reduction="sum")
        crf = self.crf
        params = (crf.start_transitions, crf.transitions, crf.end_transitions)
        return (log_partition(emissions, mask, *params) - path_scores(emissions, tags, mask, *params)).sum()

    def constrained_scores(self) -> Tuple[Tensor, Tensor, Tensor]:
        """Start, transition and end scores with invalid BIO moves forbidden."""
        crf = self.crf
        start = crf.start_transitions.masked_fill(~self.allowed_start, FORBIDDEN)
        trans = crf.transitions.masked_fill(~self.allowed_transitions, FORBIDDEN)
        return start, trans, crf.end_transitions

    def decode(self, states: Tensor, mask: Tensor) -> Tuple[Tensor, List[List[Entity]]]:
        """Viterbi paths and entities with confidences.

        states (Tensor): Encoder output (B, T, H).
        mask (Tensor): Boolean (B, T), True on real tokens.
        RETURNS (Tuple[Tensor, List[List[Entity]]]): Tag ids (B, T) and, per
            sequence, the entities of its best path.
        """
        return self.decode_emissions(self.emissions(states), mask)

    def decode_emissions(self, emissions: Tensor, mask: Tensor) -> Tuple[Tensor, List[List[Entity]]]:
        """`decode` from emission scores (B, T, K): memory O(B * T * K), so a
        long segment costs a few floats per token beyond its encoder states."""
        start, trans, end = self.constrained_scores()
        paths = viterbi(emissions, mask, start, trans, end)
        spans = bio_spans(paths, mask.sum(1))
        entities: List[List[Entity]] = [[] for _ in range(paths.shape[0])]
        if not spans:
            return paths, entities
        # Marginals only for the rows that have an entity (most sentences
        # have none), cut to the longest of them: each row's forward and
        # backward scores depend on that row alone.
        rows = sorted({b for b, _, _, _ in spans})
        position = {b: i for i, b in enumerate(rows)}
        index = torch.tensor(rows, dtype=torch.long, device=emissions.device)
        sub_mask = mask.index_select(0, index)
        length = int(sub_mask.sum(1).max())
        sub_emissions = emissions.index_select(0, index)[:, :length]
        sub_mask = sub_mask[:, :length]
        sub_spans = [(position[b], s, e, label) for b, s, e, label in spans]
        alpha, beta, log_z = forward_backward(sub_emissions, sub_mask, start, trans, end)
        log_probs = span_log_probs(sub_spans, sub_emissions, sub_mask, alpha, beta, log_z, trans, end)
        for (b, s, e, label), conf in zip(spans, log_probs.exp().tolist()):
            entities[b].append(Entity(s, e, label, min(conf, 1.0)))
        return paths, entities


def path_scores(emissions: Tensor, tags: Tensor, mask: Tensor, start: Tensor, trans: Tensor, end: Tensor) -> Tensor:
    """Unnormalized score of each row's tag sequence, without a loop.

    emissions (Tensor): (B, T, K). tags (Tensor): (B, T) tag ids. mask
    (Tensor): (B, T) bool, a prefix of True per row. start, end (Tensor):
    (K,). trans (Tensor): (K, K).
    RETURNS (Tensor): (B,) scores.
    """
    weights = mask.to(emissions.dtype)
    emitted = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)
    moves = trans[tags[:, :-1], tags[:, 1:]]
    last = tags.gather(1, (mask.sum(1) - 1).clamp(min=0).unsqueeze(1)).squeeze(1)
    return start[tags[:, 0]] + (emitted * weights).sum(1) + (moves * weights[:, 1:]).sum(1) + end[last]


def log_partition(emissions: Tensor, mask: Tensor, start: Tensor, trans: Tensor, end: Tensor) -> Tensor:
    """Log partition function of each row as a parallel prefix product.

    Step t >= 1 of the forward recursion is a product, in the log semiring,
    with the matrix M_t[i, j] = trans[i, j] + emissions[t, j] (the identity
    on padding). The T - 1 matrices are multiplied pairwise in log2(T)
    rounds, each round one batched op over all pairs, so the autograd graph
    has O(log T) nodes instead of O(T).

    RETURNS (Tensor): (B,) log Z.
    """
    batch, _, n_tags = emissions.shape
    identity = torch.full((n_tags, n_tags), float("-inf"), dtype=emissions.dtype, device=emissions.device)
    identity.fill_diagonal_(0.0)
    steps = torch.where(mask[:, 1:, None, None], trans + emissions[:, 1:].unsqueeze(2), identity)
    while steps.shape[1] > 1:
        if steps.shape[1] % 2:
            steps = torch.cat([steps, identity.expand(batch, 1, n_tags, n_tags)], 1)
        # Pairs (0, 1), (2, 3), ...: earlier steps stay on the left.
        steps = torch.logsumexp(steps[:, 0::2].unsqueeze(-1) + steps[:, 1::2].unsqueeze(-3), dim=-2)
    alpha = start + emissions[:, 0]
    if steps.shape[1]:
        alpha = torch.logsumexp(alpha.unsqueeze(2) + steps[:, 0], dim=1)
    return torch.logsumexp(alpha + end, dim=1)


def viterbi(emissions: Tensor, mask: Tensor, start: Tensor, trans: Tensor, end: Tensor) -> Tensor:
    """Best tag sequence per batch row, vectorized over the batch.

    emissions (Tensor): (B, T, K) scores. mask (Tensor): (B, T) bool, a prefix
    of True per row. start, end (Tensor): (K,). trans (Tensor): (K, K).
    RETURNS (Tensor): (B, T) tag ids; 0 on padding positions.
    """
    batch, length, n_tags = emissions.shape
    score = start + emissions[:, 0]
    # Preallocated rather than a list of per-step tensors: a Python object
    # per step costs hundreds of bytes, which a 100,000-token segment feels.
    history = torch.zeros(max(0, length - 1), batch, n_tags, dtype=torch.long, device=emissions.device)
    for t in range(1, length):
        # (B, K_prev, 1) + (K_prev, K) -> best previous tag for every tag.
        best, prev = (score.unsqueeze(2) + trans).max(dim=1)
        step = mask[:, t].unsqueeze(1)
        score = torch.where(step, best + emissions[:, t], score)
        history[t - 1] = prev
    lengths = mask.sum(1)
    last = (score + end).argmax(dim=1)
    paths = torch.zeros(batch, length, dtype=torch.long, device=emissions.device)
    paths[torch.arange(batch), (lengths - 1).clamp(min=0)] = last
    tag = last
    for t in range(length - 1, 0, -1):
        # Rows shorter than t+1 have not started their backtrace yet.
        active = t < lengths
        prev = history[t - 1].gather(1, tag.unsqueeze(1)).squeeze(1)
        tag = torch.where(active, prev, tag)
        at_end = t - 1 == lengths - 1
        tag = torch.where(at_end, last, tag)
        paths[:, t - 1] = torch.where(active | at_end, tag, paths[:, t - 1])
    return paths * mask


def forward_backward(
    emissions: Tensor, mask: Tensor, start: Tensor, trans: Tensor, end: Tensor
) -> Tuple[Tensor, Tensor, Tensor]:
    """Log forward and backward scores and the log partition function.

    RETURNS (Tuple[Tensor, Tensor, Tensor]): alpha (B, T, K), beta (B, T, K)
        and log_z (B,), so that the marginal log-probability of tag k at t is
        alpha[:, t, k] + beta[:, t, k] - log_z.
    """
    batch, length, _ = emissions.shape
    # Written in place, one step at a time (see `viterbi`).
    alpha = torch.empty_like(emissions)
    alpha[:, 0] = start + emissions[:, 0]
    for t in range(1, length):
        nxt = torch.logsumexp(alpha[:, t - 1].unsqueeze(2) + trans, dim=1) + emissions[:, t]
        alpha[:, t] = torch.where(mask[:, t].unsqueeze(1), nxt, alpha[:, t - 1])
    end_scores = end.expand(batch, -1)
    beta = torch.empty_like(emissions)
    beta[:, length - 1] = end_scores
    for t in range(length - 2, -1, -1):
        following = beta[:, t + 1] + emissions[:, t + 1]
        nxt = torch.logsumexp(trans + following.unsqueeze(1), dim=2)
        # Where t + 1 is padding, t is the last real token.
        beta[:, t] = torch.where(mask[:, t + 1].unsqueeze(1), nxt, end_scores)
    log_z = torch.logsumexp(alpha[:, -1] + end, dim=1)
    return alpha, beta, log_z


def bio_spans(paths: Tensor, lengths: Tensor) -> List[Tuple[int, int, int, int]]:
    """Entities of decoded BIO paths as (row, start, end, label) tuples."""
    spans = []
    for row, (path, n) in enumerate(zip(paths.tolist(), lengths.tolist())):
        begin = -1
        for i, tag in enumerate(path[:n] + [0]):
            if begin >= 0 and (tag == 0 or tag % 2 == 1 or (tag - 2) // 2 != label):
                spans.append((row, begin, i, label))
                begin = -1
            if tag and tag % 2 == 1:
                begin, label = i, (tag - 1) // 2
    return spans


def span_log_probs(
    spans: List[Tuple[int, int, int, int]],
    emissions: Tensor,
    mask: Tensor,
    alpha: Tensor,
    beta: Tensor,
    log_z: Tensor,
    trans: Tensor,
    end: Tensor,
) -> Tensor:
    """Exact log-probability, under the CRF, that each span is an entity:
    tags B-X I-X ... I-X on the span and no I-X right after it.

    RETURNS (Tensor): (n_spans,) log-probabilities.
    """
    if not spans:
        return emissions.new_zeros(0)
    idx = torch.tensor(spans, dtype=torch.long, device=emissions.device)
    row, first, stop, label = idx.unbind(1)
    last = stop - 1
    b_tag, i_tag = 1 + 2 * label, 2 + 2 * label
    # Score of entering the span with B-X at `first` (includes everything before).
    score = alpha[row, first, b_tag]
    # Score of the inside tokens: emissions of I-X plus B->I and I->I moves.
    # Prefix sums of every label's I-emissions along each row, (B, T, L):
    # linear in the sequence length, however many spans there are (indexing
    # emissions[row] per span would build a spans x T x K tensor).
    # Summed in float64: a difference of two float32 prefix sums over a long
    # segment would lose the digits that the probability depends on.
    cum = emissions[:, :, 2::2].double().cumsum(1)
    n_inside = (last - first).float()
    inside = (cum[row, last, label] - cum[row, first, label]).to(emissions.dtype)
    inside = inside + (n_inside > 0) * (trans[b_tag, i_tag] + (n_inside - 1).clamp(min=0) * trans[i_tag, i_tag])
    score = score + inside
    last_tag = torch.where(n_inside > 0, i_tag, b_tag)
    # Leaving the span: the sequence ends, or any tag but I-X follows.
    lengths = mask.sum(1)[row]
    at_end = stop >= lengths
    nxt = stop.clamp(max=emissions.shape[1] - 1)
    following = trans[last_tag] + emissions[row, nxt] + beta[row, nxt]
    following = following.scatter(1, i_tag.unsqueeze(1), FORBIDDEN)
    leave = torch.where(at_end, end[last_tag], torch.logsumexp(following, dim=1))
    return score + leave - log_z[row]
