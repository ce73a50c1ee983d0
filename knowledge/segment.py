"""Chinese word segmentation (jieba) and the synonym groups, shared by indexing and searching.

One segmenter per process, built on first use (about half a second: jieba's dictionary), with the
synonym words added to its dictionary so each stays one token. A word is indexed with every
dictionary word inside it (城乡居民基本医疗保险 → … 医疗 保险 医疗保险 …), so a query for a
part, or for a synonym of a part, finds it.
"""

from __future__ import annotations

import logging
import threading
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

SYNONYMS_FILE = Path(__file__).with_name("synonyms.toml")
# Question words and particles: in nearly every question, they would only slow the search down.
STOPWORDS = frozenset(
    [
        "的",
        "了",
        "吗",
        "呢",
        "吧",
        "啊",
        "呀",
        "么",
        "是",
        "在",
        "和",
        "与",
        "及",
        "或",
        "我",
        "你",
        "他",
        "她",
        "它",
        "我们",
        "你们",
        "请问",
        "如何",
        "怎么",
        "怎样",
        "怎么样",
        "怎么办",
        "什么",
        "哪里",
        "哪儿",
        "哪些",
        "哪个",
        "为什么",
        "能否",
        "能不能",
        "可以",
        "可不可以",
        "是否",
        "有没有",
        "需要",
        "要",
        "想",
        "一下",
        "这个",
        "那个",
        "这",
        "那",
        "吧",
        "嘛",
        "还",
        "就",
        "都",
        "也",
        "有",
        "去",
        "到",
        "个",
        "把",
        "被",
        "对",
        "从",
        "给",
        "多少",
        "几",
        "该",
    ]
)
MAX_SUBWORD = 8
# Characters in most questions: as single-character terms they only cost time.
STOP_CHARS = frozenset("办理如何怎么什么可以的是在有人个一不了吗")


class SynonymFileError(ValueError):
    pass


def load_synonyms(path: Path = SYNONYMS_FILE) -> list[tuple[str, ...]]:
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SynonymFileError(f"{path}: {exc}") from None
    groups = doc.get("groups")
    if not isinstance(groups, list):
        raise SynonymFileError(f"{path}: `groups` must be a list of lists of words")
    out = []
    for i, group in enumerate(groups, 1):
        if not isinstance(group, list) or len(group) < 2 or not all(isinstance(w, str) and w.strip() for w in group):
            raise SynonymFileError(f"{path}: group {i} must list at least two words")
        out.append(tuple(dict.fromkeys(w.strip().lower() for w in group)))
    return out


def synonym_map(groups: list[tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """word → every word of its groups (a word in two groups gets both)."""
    out: dict[str, dict[str, None]] = {}
    for group in groups:
        for word in group:
            out.setdefault(word, {}).update(dict.fromkeys(group))
    return {w: tuple(g) for w, g in out.items()}


@dataclass
class Segmenter:
    groups: list[tuple[str, ...]]

    def __post_init__(self) -> None:
        import jieba

        jieba.setLogLevel(logging.WARNING)
        self._tk = jieba.Tokenizer()
        self._tk.initialize()
        for group in self.groups:
            for word in group:
                self._tk.add_word(word, freq=max(self._tk.suggest_freq(word, tune=False), 1000))
        self._freq = self._tk.FREQ
        self.synonyms = synonym_map(self.groups)

    def tokens(self, text: str) -> Iterator[str]:
        """Each word of ``text`` (lower-cased, no stopwords, no punctuation), then the dictionary
        words inside it."""
        freq = self._freq
        for raw in self._tk.cut(text, HMM=True):
            word = raw.strip().lower()
            if not word or word in STOPWORDS or not word.isalnum():
                continue
            yield word
            n = len(word)
            if n > 1 and not word.isascii():
                for ch in word:
                    if ch not in STOPWORDS and ch not in STOP_CHARS:
                        yield ch
            if n > 2 and not word.isascii():
                for size in range(2, min(n - 1, MAX_SUBWORD) + 1):
                    for i in range(n - size + 1):
                        part = word[i : i + size]
                        if freq.get(part) and part not in STOPWORDS:
                            yield part

    def index_text(self, text: str) -> str:
        """Space-joined tokens, as stored in the full-text index."""
        return " ".join(self.tokens(text))


_lock = threading.Lock()
_segmenter: Segmenter | None = None


def segmenter() -> Segmenter:
    global _segmenter
    with _lock:
        if _segmenter is None:
            _segmenter = Segmenter(load_synonyms())
            logger.info("knowledge segmenter ready", extra={"synonym_groups": len(_segmenter.groups)})
        return _segmenter
