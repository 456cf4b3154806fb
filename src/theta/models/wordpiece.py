"""BERT's uncased WordPiece tokenizer, in plain Python, token for token as the ``tokenizers``
library runs ``bert-base-uncased``-style ``tokenizer.json`` files.

Text becomes ids in four steps (the order is the Rust library's, which differs from Google's
original Python in one place: accents are stripped *before* lowercasing):

1. special tokens written in the text (``[CLS]``, ``[MASK]``, ...) are cut out first, verbatim;
2. normalise each remaining piece: drop NUL, U+FFFD and control characters, turn whitespace into
   spaces, put spaces around CJK ideographs, decompose (NFD) and drop non-spacing marks
   (accents), lowercase character by character;
3. pre-tokenize: split on whitespace, and make every punctuation character (Unicode ``P*`` or
   any ASCII symbol, so ``$`` and ``^`` count) a word of its own;
4. WordPiece: split each word greedily into the longest vocabulary entries, later pieces
   written with a ``##`` prefix; a word with no such split, or longer than 100 characters,
   becomes ``[UNK]``.

Then ``[CLS] ... [SEP]`` go around the ids, sequences longer than ``max_length`` (counting
both) are cut at the end, and a batch is padded with ``[PAD]`` to its longest member.

Plain ASCII text, the common case, takes a fast path (one ``translate``, one ``lower``, one
regular expression) that gives the same words as the general path; words already seen are
looked up in a cache instead of being split again.

Checked against ``tokenizers`` 0.23 on every Unicode code point: the two agree except on about
500 characters that Unicode assigned or re-classified after the tables compiled into the Rust
library (new punctuation and combining marks of rarer scripts, added in Unicode 10 to 14),
which theta classifies by Python's newer ``unicodedata``.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["WordPieceTokenizer"]

_SPECIAL = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
_MAX_WORD_CHARS = 100  # tokenizers' max_input_chars_per_word: longer words are [UNK]
_CACHE_LIMIT = 200_000  # words remembered; beyond it new words are split every time

# Control, format, private-use and surrogate characters are deleted. Unassigned ones (Cn) are
# kept, as tokenizers keeps them (they become [UNK]).
_DROPPED = frozenset({"Cc", "Cf", "Co", "Cs"})
# ASCII punctuation by BERT's definition: every printable symbol that is not a letter or digit.
_ASCII_PUNCT = r"!-/:-@\[-`{-~"
_ASCII_WORD = re.compile(rf"[^ {_ASCII_PUNCT}]+|[{_ASCII_PUNCT}]")
# ASCII control characters are deleted (not split on); tab, newline, return become spaces.
_ASCII_CLEAN = str.maketrans(
    {**{chr(c): None for c in [*range(32), 127]}, "\t": " ", "\n": " ", "\r": " "}
)


def _is_cjk(cp: int) -> bool:
    """CJK Unified Ideographs (and extensions, compatibility forms): one token per character."""
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B81F
        or 0x2B920 <= cp <= 0x2CEAF  # 0x2B820-0x2B91F left out, as in tokenizers
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


def _is_punctuation(c: str) -> bool:
    return (c.isascii() and not c.isalnum() and c.isprintable() and c != " ") or (
        unicodedata.category(c)[0] == "P"
    )


def _lower(text: str) -> str:
    # str.lower applies the context rule for a final capital sigma (Σ -> ς at a word's end);
    # the Rust library lowercases one character at a time, giving σ everywhere.
    if "Σ" in text:
        return "".join(c.lower() for c in text)
    return text.lower()


def _words_general(text: str, lowercase: bool) -> list[str]:
    """Steps 2 and 3 for any Unicode text."""
    cleaned = []
    for c in text:
        if c == "\x00" or c == "\ufffd":
            continue
        if unicodedata.category(c) in _DROPPED and c not in "\t\n\r":
            continue
        if c.isspace():  # after the controls are gone this is exactly Unicode White_Space
            cleaned.append(" ")
        elif _is_cjk(ord(c)):
            cleaned.append(f" {c} ")
        else:
            cleaned.append(c)
    text = "".join(cleaned)
    if lowercase:  # strip_accents follows lowercase in an uncased model
        text = unicodedata.normalize("NFD", text)
        text = _lower("".join(c for c in text if unicodedata.category(c) != "Mn"))
    words = []
    for chunk in text.split():
        start = 0
        for i, c in enumerate(chunk):
            if _is_punctuation(c):
                if i > start:
                    words.append(chunk[start:i])
                words.append(c)
                start = i + 1
        if start < len(chunk):
            words.append(chunk[start:])
    return words


def _words(text: str, lowercase: bool) -> list[str]:
    """Steps 2 and 3: normalised words, with every punctuation mark a word of its own."""
    if text.isascii():
        text = text.translate(_ASCII_CLEAN)
        return _ASCII_WORD.findall(text.lower() if lowercase else text)
    return _words_general(text, lowercase)


class WordPieceTokenizer:
    """BERT's WordPiece tokenizer: text → ``[CLS] pieces [SEP]`` ids, batched with padding.

    Parameters
    ----------
    vocab : mapping of str to int, or sequence of str
        Vocabulary pieces and their ids (a sequence gives ids 0, 1, 2, ... in order); it must
        hold ``[PAD]``, ``[UNK]``, ``[CLS]`` and ``[SEP]``.
    lowercase : bool, default=True
        Lowercase and strip accents (an *uncased* model).
    max_length : int, default=256
        Longest id sequence, ``[CLS]`` and ``[SEP]`` included; longer texts are cut at the end.
        256 is all-MiniLM-L6-v2's limit (its ``tokenizer.json`` says 128, which is wrong).

    Examples
    --------
    >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "!", "the"]
    >>> tok = WordPieceTokenizer(vocab, max_length=8)
    >>> tok.tokenize("The unaffable!")
    ['the', 'un', '##aff', '##able', '!']
    >>> tok.tokenize("Ünaffable? x")
    ['un', '##aff', '##able', '[UNK]', '[UNK]']
    >>> ids, mask = tok(["the", "unaffable !"])
    >>> ids
    array([[2, 8, 3, 0, 0, 0],
           [2, 4, 5, 6, 7, 3]])
    >>> mask
    array([[1, 1, 1, 0, 0, 0],
           [1, 1, 1, 1, 1, 1]])
    """

    def __init__(
        self,
        vocab: Mapping[str, int] | Sequence[str],
        *,
        lowercase: bool = True,
        max_length: int = 256,
    ) -> None:
        if not isinstance(vocab, Mapping):
            vocab = {piece: i for i, piece in enumerate(vocab)}
        missing = [t for t in _SPECIAL[:4] if t not in vocab]
        if missing:
            raise ValueError(f"WordPieceTokenizer: the vocabulary lacks {', '.join(missing)}.")
        if not isinstance(max_length, int) or isinstance(max_length, bool) or max_length < 2:
            raise ValueError(
                f"WordPieceTokenizer: max_length must be an int >= 2, room for [CLS] and [SEP] "
                f"(got {max_length!r})."
            )
        self.vocab = dict(vocab)
        self.lowercase = lowercase
        self.max_length = max_length
        self.pad_id, self.unk_id = self.vocab["[PAD]"], self.vocab["[UNK]"]
        self.cls_id, self.sep_id = self.vocab["[CLS]"], self.vocab["[SEP]"]
        specials = [t for t in _SPECIAL if t in self.vocab]
        self._special = re.compile("(" + "|".join(re.escape(t) for t in specials) + ")")
        self._pieces = {i: piece for piece, i in self.vocab.items()}
        self._cache: dict[str, list[int]] = {}

    @classmethod
    def from_file(cls, path: str | os.PathLike, **kwargs: object) -> WordPieceTokenizer:
        """Read a ``vocab.txt``: one piece per line, the id being the line number from 0."""
        with open(path, encoding="utf-8") as f:
            pieces = f.read().split("\n")
        if pieces and pieces[-1] == "":
            pieces.pop()  # the final newline ends the last line; it is not an empty piece
        return cls([p.rstrip() for p in pieces], **kwargs)  # type: ignore[arg-type]

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def _wordpiece(self, word: str) -> list[int]:
        """Greedy longest-match-first split of one word into piece ids (step 4)."""
        if len(word) > _MAX_WORD_CHARS:
            return [self.unk_id]
        ids, start, vocab = [], 0, self.vocab
        while start < len(word):
            for end in range(len(word), start, -1):
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in vocab:
                    ids.append(vocab[piece])
                    start = end
                    break
            else:
                return [self.unk_id]  # one unmatched remainder makes the whole word unknown
        return ids

    def _text_ids(self, text: str) -> list[int]:
        """Ids of a text's pieces, without [CLS]/[SEP] and before truncation."""
        if not isinstance(text, str):
            raise TypeError(f"WordPieceTokenizer: expected a str, got {type(text).__name__}.")
        segments = self._special.split(text) if "[" in text else [text]
        ids: list[int] = []
        cache = self._cache
        for i, segment in enumerate(segments):
            if i % 2:  # a special token, written out in the text
                ids.append(self.vocab[segment])
                continue
            for word in _words(segment, self.lowercase):
                word_ids = cache.get(word)
                if word_ids is None:
                    word_ids = self._wordpiece(word)
                    if len(cache) < _CACHE_LIMIT:
                        cache[word] = word_ids
                ids.extend(word_ids)
        return ids

    def tokenize(self, text: str) -> list[str]:
        """The text's word pieces as strings (no [CLS]/[SEP], no truncation)."""
        return [self._pieces[i] for i in self._text_ids(text)]

    def encode(self, text: str) -> list[int]:
        """``[CLS] ids [SEP]``, cut to ``max_length`` ids in all."""
        body = self._text_ids(text)[: self.max_length - 2]
        return [self.cls_id, *body, self.sep_id]

    def pad(self, sequences: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
        """Pad id lists to the longest: ``(input_ids, attention_mask)``, both int64 (B, T)."""
        T = max((len(s) for s in sequences), default=0)
        ids = np.full((len(sequences), T), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(sequences), T), dtype=np.int64)
        for row, seq in enumerate(sequences):
            ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1
        return ids, mask

    def __call__(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Encode and pad a batch of texts.

        Returns
        -------
        input_ids : ndarray of shape (n_texts, T), int64
            T is the longest encoded text; shorter rows end in ``[PAD]`` ids.
        attention_mask : ndarray of shape (n_texts, T), int64
            1 at real tokens, 0 at padding.
        """
        if isinstance(texts, str):
            raise TypeError(
                "WordPieceTokenizer: expected a sequence of str, got one str; wrap it: "
                "tokenizer([text])."
            )
        return self.pad([self.encode(t) for t in texts])

    def __repr__(self) -> str:
        return (
            f"WordPieceTokenizer(vocab_size={self.vocab_size}, lowercase={self.lowercase}, "
            f"max_length={self.max_length})"
        )
