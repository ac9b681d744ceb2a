"""Chinese text front end: clean-up, speakable normalisation and sentence chunking."""

from common.text.chunk import iter_chunks, split_spans, split_text
from common.text.normalize import clean_text, normalize_text, preview

__all__ = ["clean_text", "iter_chunks", "normalize_text", "preview", "split_spans", "split_text"]
