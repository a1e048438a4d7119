"""How several heads' entities become one `doc.ents`.

Policy: identical spans (same tokens and label) found by several heads are one
candidate with the highest of their confidences, remembering every head that
found it. Candidates are then taken greedily by highest confidence, then
longest span, then earliest start, then head order; a candidate that overlaps
one already taken is dropped. The result is sorted by position.
"""
from typing import Dict, List, Sequence, Tuple

Entity = Tuple[int, int, str, float]
Merged = Tuple[int, int, str, float, List[str]]


def merge_entities(found: Dict[str, List[Entity]], use: Sequence[str], order: Sequence[str]) -> List[Merged]:
    """Merge the entities of the heads in `use`.

    found (Dict[str, List[Entity]]): Per head, (start, end, label, confidence).
    use (Sequence[str]): The heads whose spans may enter the result (one head:
        its spans as they are).
    order (Sequence[str]): All heads, in the component's order. Every head in
        it that found exactly a kept span (same tokens and label) is listed
        as agreeing, whether or not it is in `use`.
    RETURNS (List[Merged]): (start, end, label, confidence, heads) by position.
    """
    if len(order) == 1 and list(use) == list(order):
        # One head: its decoded spans come from one BIO path, in order and
        # disjoint, so they are the result as they are (checked, not assumed).
        head = order[0]
        spans = found.get(head, [])
        if all(a[1] <= b[0] for a, b in zip(spans, spans[1:])):
            return [(s, e, lab, c, [head]) for s, e, lab, c in spans]
    rank = {head: i for i, head in enumerate(order)}
    candidates: Dict[Tuple[int, int, str], List] = {}
    for head in use:
        for start, end, label, confidence in found.get(head, []):
            key = (start, end, label)
            if key not in candidates:
                candidates[key] = [confidence, rank[head]]
            else:
                candidates[key][0] = max(candidates[key][0], confidence)
    ordered = sorted(candidates.items(), key=lambda kv: (-kv[1][0], -(kv[0][1] - kv[0][0]), kv[0][0], kv[1][1]))
    taken = [False] * (1 + max((k[1] for k in candidates), default=0))
    kept = []
    for (start, end, label), (confidence, _) in ordered:
        if any(taken[start:end]):
            continue
        taken[start:end] = [True] * (end - start)
        kept.append((start, end, label, confidence))
    agree: Dict[Tuple[int, int, str], List[str]] = {}
    for head in order:
        for start, end, label, _ in found.get(head, []):
            agree.setdefault((start, end, label), []).append(head)
    return [(s, e, lab, c, agree.get((s, e, lab), [])) for s, e, lab, c in sorted(kept)]
