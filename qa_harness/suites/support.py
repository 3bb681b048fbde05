"""Which checks of a gate policy a suite can support, before any run: `suites validate --policy P`.

The policy's selectors are expanded against the suite's own condition tags (per driving frame: the
measured frame tags of its conditions sidecar over the clip tags, exactly the `cond:` columns its
frame records will carry) with the gate's selector code, and each check's clips are counted: the
reconstruction pairs with at least one frame in the condition (the gated metrics compare with ground
truth, which cross pairs lack). A check is supported when it has at least the rule's `min_clips`; a
wildcard also lists its tags' vocabulary values that no clip has (0 clips: not supported).
A selector naming a condition outside the suite's vocabulary is an error (`vocabulary.check_policy`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from qa_harness.gate.policy import Policy
from qa_harness.records import COND_PREFIX, Suite
from qa_harness.runs.selectors import condition_values
from qa_harness.suites.vocabulary import Vocabulary, check_policy, unseen_values


@dataclass(frozen=True, slots=True)
class Support:
    """One rule on one concrete condition: the suite's clips there and the clips the rule needs."""

    rule: str
    condition: str
    clips: int
    needs: int

    @property
    def supported(self) -> bool:
        return self.clips >= self.needs


def condition_frames(suite: Suite) -> pd.DataFrame:
    """One row per reconstruction pair and driving frame: `pair_id` and a `cond:<tag>` column per tag."""
    rows = [
        {"pair_id": pair.id, **{COND_PREFIX + k: v for k, v in pair.frame_conditions(f).items()}}
        for pair in suite.pairs
        if pair.protocol == "reconstruction"
        for f in range(suite.frames_of(pair))
    ]
    return pd.DataFrame(rows, columns=["pair_id"]) if not rows else pd.DataFrame(rows)


def policy_support(suite: Suite, policy: Policy, vocabulary: Vocabulary) -> list[Support]:
    """Every rule x concrete condition of `policy` on `suite`, with its clip count; raises ConfigError
    when a selector names a condition or value the suite's vocabulary does not have."""
    frames = condition_frames(suite)
    vocabulary = vocabulary.extended(condition_values(frames), "the suite's tags")
    check_policy(policy.path, policy.rules, vocabulary)
    out = []
    for rule in policy.rules:
        seen: set[str] = set()
        for spec in rule.conditions:
            expanded = spec.expand(frames)
            if not expanded:  # `lighting=*` on a suite without lighting tags
                out.append(Support(rule.name, spec.text, 0, rule.min_clips))
            for unseen in (f"{t}={v}" for t, v in unseen_values(spec, expanded, vocabulary.values)):
                if unseen not in seen:
                    seen.add(unseen)
                    out.append(Support(rule.name, unseen, 0, rule.min_clips))
            for selector in expanded:
                if str(selector) in seen:
                    continue
                seen.add(str(selector))
                clips = frames.loc[selector.mask(frames), "pair_id"].nunique()
                out.append(Support(rule.name, str(selector), int(clips), rule.min_clips))
    return out


def render_support(rows: list[Support]) -> str:
    """A plain-text table, then a one-line summary naming the unsupported conditions."""
    width = max([len(r.rule) for r in rows] + [4])
    cond_width = max([len(r.condition) for r in rows] + [9])
    lines = [f"{'rule':<{width}}  {'condition':<{cond_width}}  clips  needs  status"]
    for r in rows:
        status = "ok" if r.supported else f"NOT SUPPORTED: {r.clips} clip(s), needs {r.needs}"
        lines.append(f"{r.rule:<{width}}  {r.condition:<{cond_width}}  {r.clips:>5}  {r.needs:>5}  {status}")
    missing = sorted({r.condition for r in rows if not r.supported})
    supported = sum(r.supported for r in rows)
    lines.append(
        f"{supported} of {len(rows)} checks supported" + (f"; not supported: {', '.join(missing)}" if missing else "")
    )
    return "\n".join(lines)
