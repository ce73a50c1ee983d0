"""Key phrases of a demand's title by Chinese word segmentation (jieba).

The knowledge base's segmenter (``knowledge/segment.py``, with its synonyms) is not part of its
public face, so this uses jieba directly with a short list of words too common to name a topic.
"""

from __future__ import annotations

import functools
import logging
import re

logger = logging.getLogger(__name__)

# Words in nearly every demand: they would top every list and name no topic.
STOPWORDS = frozenset(
    [
        "反映",
        "咨询",
        "投诉",
        "举报",
        "建议",
        "求助",
        "问题",
        "情况",
        "要求",
        "希望",
        "处理",
        "解决",
        "市民",
        "来电",
        "来电人",
        "我们",
        "你们",
        "他们",
        "没有",
        "一个",
        "这个",
        "那个",
        "什么",
        "怎么",
        "如何",
        "是否",
        "可以",
        "已经",
        "目前",
        "现在",
        "附近",
        "相关",
        "进行",
        "部门",
        "请求",
        "请问",
        "这里",
        "那里",
        "一直",
        "还是",
        "今天",
        "昨天",
        "小区",
        "门口",
        "街道",
        "社区",
        "三天",
        "两天",
        "多次",
    ]
)
_WORD = re.compile(r"^[\u4e00-\u9fff]{2,8}$")


@functools.cache
def _jieba():  # type: ignore[no-untyped-def]
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def phrases(text: str) -> list[str]:
    """The distinct key phrases of ``text``, in order of first appearance."""
    if not text:
        return []
    seen: dict[str, None] = {}
    for word in _jieba().lcut(text[:200]):
        if _WORD.match(word) and word not in STOPWORDS:
            seen.setdefault(word, None)
    return list(seen)
