"""Outcome rewards with a format bonus: 1 if correct, 0.1 if well-formed but wrong, 0 otherwise.

MT-GRPO (arXiv 2602.05547, §6; the official code's ``reward_score/{countdown,zebra,arc}.py``)
scores a response by its final answer: the content of the last ``\\boxed{...}`` **on the last
line** (earlier lines are ignored, so formatting failures are common early in training). The
answer is compared case-insensitively with the reference (Zebra, ARC), or, for Countdown, must be
an arithmetic expression over ``+ - * / ( )`` that uses each given number exactly once and
evaluates to the target within 1e-5.

:func:`token_answer_reward` (defined with the toy tasks in :mod:`common.data.toy_reasoning`,
re-exported here) is the same scheme for token-id completions: well-formed means "exactly
``answer_len`` digit tokens, then EOS".

Departure from the official code: the Countdown expression is evaluated by walking its Python
syntax tree (numbers and the four operators only) instead of ``eval`` on a whitelisted string;
on the whitelisted strings the two agree, and nothing else is executed.
"""

from __future__ import annotations

import ast
import operator
import re

from common.data.toy_reasoning import token_answer_reward

__all__ = ["CORRECT", "FORMAT_ONLY", "outcome_reward", "last_boxed", "exact_match_reward",
           "countdown_reward", "token_answer_reward"]

CORRECT, FORMAT_ONLY = 1.0, 0.1


def outcome_reward(correct: bool, well_formed: bool, *, correct_reward: float = CORRECT,
                   format_reward: float = FORMAT_ONLY) -> float:
    """``correct_reward`` if correct, ``format_reward`` if only well-formed, else 0."""
    if correct:
        return correct_reward
    return format_reward if well_formed else 0.0


def last_boxed(text: str) -> str | None:
    """The content of the last ``\\boxed{...}`` on the last non-empty line (braces balanced)."""
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    if not lines:
        return None
    line = lines[-1]
    start = line.rfind("\\boxed{")
    if start < 0:
        return None
    i, depth = start + len("\\boxed{"), 1
    for j in range(i, len(line)):
        if line[j] == "{":
            depth += 1
        elif line[j] == "}":
            depth -= 1
            if depth == 0:
                return line[i:j].strip()
    return None


def exact_match_reward(text: str, answer: str) -> float:
    """Zebra / ARC: the boxed answer equals ``answer`` up to case and surrounding spaces."""
    got = last_boxed(text)
    if got is None:
        return 0.0
    return outcome_reward(got.strip().lower() == str(answer).strip().lower(), True)


_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv}
_EXPR_RE = re.compile(r"^[\d+\-*/().\s]+$")


def _evaluate(node) -> float:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return float(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        return _BINOPS[type(node.op)](_evaluate(node.left), _evaluate(node.right))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = _evaluate(node.operand)
        return -v if isinstance(node.op, ast.USub) else v
    raise ValueError("not an arithmetic expression")


def countdown_reward(text: str, numbers, target: float) -> float:
    """Countdown: the boxed expression uses every number of ``numbers`` exactly once and
    evaluates to ``target`` (within 1e-5)."""
    expr = last_boxed(text)
    if expr is None:
        return 0.0
    expr = expr.split("=")[0]  # "3 + 4 = 7" is accepted as its left side
    if not _EXPR_RE.match(expr):
        return FORMAT_ONLY
    used = sorted(int(n) for n in re.findall(r"\d+", expr))
    if used != sorted(int(n) for n in numbers):
        return FORMAT_ONLY
    try:
        value = _evaluate(ast.parse(expr.strip(), mode="eval"))
    except (SyntaxError, ValueError, ZeroDivisionError, RecursionError):
        return FORMAT_ONLY
    return outcome_reward(abs(value - float(target)) < 1e-5, True)
