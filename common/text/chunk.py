"""Sentence chunking of long Chinese text into pieces an engine can synthesise.

Contract (all functions work on ``cleaned = clean_text(text)``, never on the
raw input, and never normalise; the caller decides about that):

* :func:`split_spans` returns ``(cleaned, spans)``; ``spans`` are increasing,
  non-overlapping ``(start, end)`` offsets into ``cleaned`` and the chunks are
  ``cleaned[start:end]``.
* Reconstruction: ``cleaned`` equals the chunks interleaved with the gaps
  ``cleaned[end_i:start_i+1]`` (plus the text before the first and after the
  last span), and every gap is whitespace or *silent*: it contains no
  alphanumeric character (``str.isalnum``). Gaps are whitespace-only except
  where a punctuation-only run could not be attached to a chunk in its line
  (a line of only ``——``, or a run that would push a chunk over
  ``max_chars``); those runs are dropped. So nothing speakable is dropped,
  nothing is duplicated and order is kept.
* Every chunk is 1..``max_chars`` characters, has no leading or trailing
  whitespace, contains no newline and at least one alphanumeric character.
* Cuts are tried in this order: newlines (always), sentence ends
  ``。｡！？；…!?;`` and a sentence-ending ASCII ``.`` (not in 3.14, U.S.A.,
  a URL or an e-mail address), each with the closing quotes/brackets that
  follow; then, inside a sentence longer than ``max_chars``, clause marks
  ``，、：,:`` (ASCII ``,``/``:`` not between digits); then spaces; then a
  hard cut anywhere that is not inside a number (digits with ``.,:``
  separators: 3.14, 1,234, 15:30) or a Latin word. A number or word longer
  than ``max_chars`` is itself cut at ``max_chars``; only then.
* Within a long sentence the clause pieces are packed greedily up to
  ``max_chars``. Sentences are not packed together, except that a chunk
  shorter than ``min_chars`` is merged with its neighbour in the same line
  when the result fits in ``max_chars``.
* Linear time: 500,000 characters take a fraction of a second.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator

from common.text.normalize import clean_text

Span = tuple[int, int]
"""A ``(start, end)`` slice of the cleaned text."""

DEFAULT_MAX_CHARS = 80
"""Default chunk size cap, in characters of the cleaned text."""

DEFAULT_MIN_CHARS = 8
"""Chunks shorter than this are merged with a neighbour when possible."""

_DIGIT = "0-9０-９"
_LETTER = "A-Za-zＡ-Ｚａ-ｚ"
_CLOSERS = "”’）》」』】〕〉)\\]}"

_SENTENCE_END_RE = re.compile(
    rf"(?:[。｡！？；…!?;]|(?<![.．][{_LETTER}])[.．](?![.．]*[{_DIGIT}{_LETTER}@/_\-]))+[{_CLOSERS}]*"
)
"""A run of sentence-ending marks plus the closing quotes/brackets after it."""

_CLAUSE_END_RE = re.compile(
    rf"(?:[，、：︰]|(?:(?<![{_DIGIT}])[,:]|[,:](?![{_DIGIT}]))(?!//))+[{_CLOSERS}]*"
)
"""A clause mark; ASCII ``,``/``:`` not between two digits (1,234 / 15:30) nor before ``//``."""

_SPACE_RE = re.compile(" +")

_ATOM_RE = re.compile(rf"[{_DIGIT}]+(?:[.,:．][{_DIGIT}]+)*|[{_LETTER}]+(?:['’][{_LETTER}]+)*")
"""A number or Latin word: never cut unless it alone exceeds ``max_chars``."""

_ALNUM_RE = re.compile(r"[^\W_]")
"""One alphanumeric character (what ``str.isalnum`` accepts): a chunk needs one."""


def split_spans(
    text: str, max_chars: int = DEFAULT_MAX_CHARS, min_chars: int = DEFAULT_MIN_CHARS
) -> tuple[str, list[Span]]:
    """Chunk ``clean_text(text)`` and return it with the chunk spans.

    Args:
        text: raw input text.
        max_chars: maximum chunk length in characters (>= 1).
        min_chars: chunks shorter than this are merged with a neighbour in the
            same line when the merge fits in ``max_chars`` (>= 0).

    Returns:
        ``(cleaned, spans)`` as described in the module docstring.

    Raises:
        TypeError: ``text`` is not a ``str``.
        ValueError: ``max_chars < 1`` or ``min_chars < 0``.
    """
    cleaned = _clean_checked(text, max_chars, min_chars)
    return cleaned, list(_iter_spans(cleaned, max_chars, min_chars))


def split_text(
    text: str, max_chars: int = DEFAULT_MAX_CHARS, min_chars: int = DEFAULT_MIN_CHARS
) -> list[str]:
    """Chunk ``clean_text(text)`` into a list of strings (see :func:`split_spans`).

    Args:
        text: raw input text.
        max_chars: maximum chunk length in characters (>= 1).
        min_chars: merge threshold for short chunks (>= 0).

    Returns:
        The chunks, in order; ``[]`` when the text has nothing speakable.

    Raises:
        TypeError: ``text`` is not a ``str``.
        ValueError: ``max_chars < 1`` or ``min_chars < 0``.
    """
    return list(iter_chunks(text, max_chars, min_chars))


def iter_chunks(
    text: str, max_chars: int = DEFAULT_MAX_CHARS, min_chars: int = DEFAULT_MIN_CHARS
) -> Iterator[str]:
    """Yield the chunks of :func:`split_text` lazily, line by line.

    Arguments are checked eagerly, when the generator is created.

    Raises:
        TypeError: ``text`` is not a ``str``.
        ValueError: ``max_chars < 1`` or ``min_chars < 0``.
    """
    cleaned = _clean_checked(text, max_chars, min_chars)
    return (cleaned[s:e] for s, e in _iter_spans(cleaned, max_chars, min_chars))


def _clean_checked(text: str, max_chars: int, min_chars: int) -> str:
    if not isinstance(text, str):
        raise TypeError(f"text must be str, not {type(text).__name__}")
    if max_chars < 1:
        raise ValueError(f"max_chars must be >= 1, got {max_chars}")
    if min_chars < 0:
        raise ValueError(f"min_chars must be >= 0, got {min_chars}")
    return clean_text(text)


def _iter_spans(cleaned: str, max_chars: int, min_chars: int) -> Iterator[Span]:
    """Yield the final spans of every line of ``cleaned`` (no newline in a span)."""
    start = 0
    while start <= len(cleaned):
        end = cleaned.find("\n", start)
        if end < 0:
            end = len(cleaned)
        if end > start:
            pieces = _split_line(cleaned, start, end, max_chars)
            yield from _merge(cleaned, pieces, max_chars, min_chars)
        start = end + 1


def _split_line(text: str, start: int, end: int, max_chars: int) -> Iterator[Span]:
    """Split one line into trimmed pieces: one per sentence, long ones further."""
    for s, e in _segments(text, start, end, _SENTENCE_END_RE):
        if e - s <= max_chars:
            yield s, e
        else:
            yield from _split_long(text, s, e, max_chars, level=0)


_LEVELS = (_CLAUSE_END_RE, _SPACE_RE)
"""Cut patterns tried, in order, inside a sentence longer than ``max_chars``."""


def _split_long(text: str, start: int, end: int, max_chars: int, level: int) -> Iterator[Span]:
    """Split ``text[start:end]`` into pieces <= ``max_chars``, packed greedily."""
    if level >= len(_LEVELS):
        yield from _hard_split(text, start, end, max_chars)
        return
    current: Span | None = None
    for s, e in _segments(text, start, end, _LEVELS[level]):
        if e - s > max_chars:
            if current is not None:
                yield current
                current = None
            yield from _split_long(text, s, e, max_chars, level + 1)
        elif current is None:
            current = (s, e)
        elif e - current[0] <= max_chars:
            current = (current[0], e)
        else:
            yield current
            current = (s, e)
    if current is not None:
        yield current


def _segments(text: str, start: int, end: int, cut_re: re.Pattern[str]) -> Iterator[Span]:
    """Cut ``text[start:end]`` after every match of ``cut_re``; yield non-empty trimmed parts."""
    pos = start
    for m in cut_re.finditer(text, start, end):
        if m.end() > pos:
            yield from _trimmed(text, pos, m.end())
            pos = m.end()
    yield from _trimmed(text, pos, end)


def _trimmed(text: str, start: int, end: int) -> Iterator[Span]:
    """Yield ``(start, end)`` without surrounding spaces, or nothing if blank."""
    while start < end and text[start] == " ":
        start += 1
    while end > start and text[end - 1] == " ":
        end -= 1
    if end > start:
        yield start, end


def _hard_split(text: str, start: int, end: int, max_chars: int) -> Iterator[Span]:
    """Cut a space-free run every ``max_chars`` characters, moving cuts out of atoms."""
    atoms = [m.span() for m in _ATOM_RE.finditer(text, start, end)]
    atom_starts = [a for a, _ in atoms]
    pos = start
    while end - pos > max_chars:
        cut = pos + max_chars
        i = bisect_right(atom_starts, cut) - 1
        if i >= 0 and atoms[i][0] < cut < atoms[i][1] and atoms[i][0] > pos:
            cut = atoms[i][0]  # keep the number or word whole in the next piece
        yield from _trimmed(text, pos, cut)
        pos = cut
    yield from _trimmed(text, pos, end)


def _merge(text: str, pieces: Iterator[Span], max_chars: int, min_chars: int) -> list[Span]:
    """Attach silent pieces and merge short ones, within one line.

    A silent piece (no alphanumeric character) joins the previous chunk, or
    else the next one; if neither fits in ``max_chars`` it is dropped. A
    piece or chunk shorter than ``min_chars`` merges with its neighbour when
    the merged span fits.
    """
    out: list[Span] = []
    silent: Span | None = None
    for s, e in pieces:
        if _ALNUM_RE.search(text, s, e) is None:
            if out and e - out[-1][0] <= max_chars and silent is None:
                out[-1] = (out[-1][0], e)
            else:
                silent = (silent[0] if silent else s, e)
            continue
        if silent is not None and e - silent[0] <= max_chars:
            s = silent[0]
        silent = None
        short = out and (out[-1][1] - out[-1][0] < min_chars or e - s < min_chars)
        if short and e - out[-1][0] <= max_chars:
            out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out
