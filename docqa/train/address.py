"""The address loss: teach the memory's read to pick the asked fact's key, directly.

Under the token-level delta rule with unit keys, a read returns about sum_i (q . k_i) u_i over
what was written, so a question about one of N named facts is answered by the fact whose key
best matches the read's query. Measured on every model so far (docs/TRAINING.md, December,
fourth session), the asked fact's key is almost never the best match: the facts' keys share
most of their direction, the read is an even mixture, and the value loss alone gives the
addressing too little signal to leave that plateau within a CPU session (the MQAR probe needed
~360K answered queries with one-token keys, more with names of 2-4 tokens).

This loss supervises the match itself. For each question of a named-facts document (the task
generator knows where every fact's key token and every answer's query token are: TaskDoc.keys,
TaskDoc.asks) and each memory head of the chosen layers, the cosines of the query with the
document's fact keys, times `scale`, are logits over the facts, and the loss is the cross-entropy
of the asked one, InfoNCE with the document's other facts as negatives. `sign` -1 asks for the
most negative cosine instead: a read along -k_i returns -u_i, and every trained model of this
lineage reads its facts that way round (the output projection turns the value back); asking for
+1 flips each head's read, which its output then has to relearn (docs/TRAINING.md, twelfth
session). Queries and keys are the memory's own (model.infini.InfiniAttention.projections: after the short conv, memory_qk and the
centring, before the feature map), so the loss moves exactly what eq. 7 reads with.
"""

from __future__ import annotations

import random

import torch
import torch.nn.functional as F

Target = tuple[int, list[int], list[tuple[int, int]]]  # (batch row, key positions, [(query position, fact)])


def address_targets(docs, segment_len: int = 0, negatives: int = 0,
                     rng: random.Random | None = None) -> list[Target]:
    """The rows of a batch that have something to address: at least two facts whose key token was
    found and a question about one of them. Facts whose key was not found are left out of the
    candidates (-1 in TaskDoc.keys), and so are questions about them.

    `negatives` > 0 adds that many of the document's other tokens (drawn by `rng` from the segments
    before the questions', where the memory has written them too) after the facts' keys, as
    candidates no question asks. Among the facts alone the asked key wins once the names differ
    (every lineage run logs an address accuracy near 1.0), but a read competes with every written
    key: a fact whose link is not "is" ranks behind ordinary text (docs/TRAINING.md, December,
    eighteenth session), which only text among the candidates can teach. With them, a document of
    one fact (a needle, a passkey) has something to address as well."""
    out = []
    for row, d in enumerate(docs):
        found = [i for i, p in enumerate(d.keys) if p >= 0]
        if len(found) < (1 if negatives else 2):  # with text to beat, one fact (a needle) has an address too
            continue
        index = {i: j for j, i in enumerate(found)}
        asks = [(a, index[i]) for a, i in d.asks if i in index]
        if asks:
            keys = [d.keys[i] for i in found]
            if negatives:
                taken = set(keys)
                text = [p for p in range(d.question_start // segment_len * segment_len) if p not in taken]
                keys += sorted(rng.sample(text, min(negatives, len(text))))
            out.append((row, keys, asks))
    return out


def address_cosines(q: torch.Tensor, k: torch.Tensor, target: Target) -> tuple[torch.Tensor, torch.Tensor]:
    """q, k (H, T, D) of one document (its row of the batch) -> the cosines (A, H, N) of each of its
    A questions' query with each of its N facts' keys, per head, and the facts' unit keys (H, N, D)."""
    _, keys, asks = target
    qa = F.normalize(q[:, [a for a, _ in asks]].float(), dim=-1)  # (H, A, D)
    kn = F.normalize(k[:, keys].float(), dim=-1)  # (H, N, D)
    return (qa @ kn.transpose(-1, -2)).transpose(0, 1), kn


def address_loss(qk: list[tuple[torch.Tensor, torch.Tensor]], targets: list[Target], scale: float,
                 sign: float = 1.0, kind: str = "nce") -> tuple[torch.Tensor, float]:
    """The address loss, averaged over every question, layer and head, and the share of those where
    the asked fact's key is the best match, by sign x cosine (the address accuracy; chance 1/N).

    kind "nce": the cross-entropy of the asked fact, sign x scale x cosines as logits. It asks only
    that the asked key match best, by any margin. "gram": what a linear read needs, the squared
    distance of the cosines from the one-hot (sign at the asked fact, 0 at the others), plus the
    mean squared cosine between the document's fact keys (0 when they are orthogonal, so that the
    delta rule's writes of one fact do not erase another); `scale` is unused.

    qk: per chosen layer, the memory's q and k (B', H, T, D) of the rows in `targets`, in order."""
    losses, right, count = [], 0, 0
    for q, k in qk:
        for b, target in enumerate(targets):
            cos, kn = address_cosines(q[b], k[b], target)  # (A, H, N), (H, N, D)
            A, H, N = cos.shape
            asked = torch.tensor([i for _, i in target[2]], device=cos.device)  # (A,)
            if kind == "nce":
                flat = (sign * scale * cos).reshape(A * H, N)
                losses.append(F.cross_entropy(flat, asked.repeat_interleave(H), reduction="sum"))
            else:
                onehot = sign * F.one_hot(asked, N).to(cos.dtype).unsqueeze(1)  # (A, 1, N)
                gram = kn @ kn.transpose(-1, -2)  # (H, N, N): the fact keys with one another
                off = gram[:, ~torch.eye(N, dtype=torch.bool, device=gram.device)]  # (H, N(N-1))
                losses.append(((cos - onehot) ** 2).sum() + A * off.pow(2).mean(-1).sum())
            right += int(((sign * cos).argmax(-1) == asked.unsqueeze(1)).sum())
            count += A * H
    return torch.stack(losses).sum() / count, right / count
