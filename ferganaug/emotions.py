"""Canonical emotion names and mappings from other label sets.

Everything in the toolkit uses FER2013's order (0..6). Other datasets map onto *names*,
never onto bare indices, so a mapping bug cannot silently permute classes.
"""

from __future__ import annotations

EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
NUM_EMOTIONS = len(EMOTIONS)
EMOTION_INDEX: dict[str, int] = {name: i for i, name in enumerate(EMOTIONS)}

# Label orders of other datasets, by index. FER+ adds contempt; AffectNet-8 orders differently.
FERPLUS_ORDER: tuple[str, ...] = (
    "neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt",
)
AFFECTNET_ORDER: tuple[str, ...] = (
    "neutral", "happy", "sad", "surprise", "fear", "disgust", "anger", "contempt",
)
CKPLUS_ORDER: tuple[str, ...] = (
    "neutral", "anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise",
)

# Names outside the canonical seven that we recognise but cannot represent.
UNREPRESENTABLE: frozenset[str] = frozenset({"contempt"})

_ALIASES: dict[str, str] = {
    "anger": "angry", "angry": "angry", "mad": "angry",
    "disgust": "disgust", "disgusted": "disgust", "disgusting": "disgust",
    "fear": "fear", "fearful": "fear", "afraid": "fear", "scared": "fear",
    "happy": "happy", "happiness": "happy", "joy": "happy",
    "sad": "sad", "sadness": "sad",
    "surprise": "surprise", "surprised": "surprise",
    "neutral": "neutral", "calm": "neutral",
}


class UnknownEmotionError(ValueError):
    """A label name that maps onto none of the canonical emotions."""


def canonical_name(name: str) -> str:
    """Map a label name from any supported label set onto a canonical emotion name.

    Raises UnknownEmotionError listing the accepted names; contempt gets its own message
    because it is a real emotion that the seven-class scheme cannot hold.
    """
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    if key in _ALIASES:
        return _ALIASES[key]
    if key in UNREPRESENTABLE:
        raise UnknownEmotionError(
            f"'{name}' is not one of the seven FER2013 emotions ({', '.join(EMOTIONS)})"
        )
    raise UnknownEmotionError(
        f"unknown emotion '{name}'; expected one of {', '.join(EMOTIONS)} "
        f"(aliases: {', '.join(sorted(set(_ALIASES) - set(EMOTIONS)))})"
    )


def emotion_index(name: str) -> int:
    """Canonical index (FER2013 order) of a label name from any supported label set."""
    return EMOTION_INDEX[canonical_name(name)]


def index_from_order(order: tuple[str, ...], index: int) -> int | None:
    """Translate an index in another dataset's label order; None for unrepresentable classes."""
    name = order[index]
    if name in UNREPRESENTABLE:
        return None
    return emotion_index(name)


def parse_emotions(text: str) -> list[str]:
    """Parse 'disgust', 'fear,disgust' or 'all' into canonical names, in canonical order."""
    if text.strip().lower() == "all":
        return list(EMOTIONS)
    names = {canonical_name(part) for part in text.split(",") if part.strip()}
    if not names:
        raise UnknownEmotionError(f"no emotion given; expected one of {', '.join(EMOTIONS)} or 'all'")
    return [e for e in EMOTIONS if e in names]
