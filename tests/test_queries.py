import json
import time
import warnings

import pytest

from optional import missing, require_spacy_model
from paths import GAIC_TEXT_DIR
from promptcrop import queries as Q
from promptcrop.errors import ModelUnavailableError

GAIC_TEXT = GAIC_TEXT_DIR
GAIC_SPLITS = ("train", "valid", "test")


@pytest.fixture(scope="module")
def spacy_ready():
    require_spacy_model()


@pytest.fixture
def no_spacy_model(monkeypatch):
    """Pretend no spaCy model is installed; restore the real pipeline cache afterwards."""
    monkeypatch.setattr(Q, "SPACY_MODELS", ("promptcrop_no_such_model",))
    Q.load_spacy_pipeline.cache_clear()
    Q._warn_rules_fallback.cache_clear()
    yield
    Q.load_spacy_pipeline.cache_clear()
    Q._warn_rules_fallback.cache_clear()


def gaic_captions() -> list[str]:
    if not GAIC_TEXT.is_dir():
        pytest.skip(f"{GAIC_TEXT} not available")
    captions: list[str] = []
    for split in GAIC_SPLITS:
        captions += json.loads((GAIC_TEXT / f"{split}.json").read_text(encoding="utf-8")).values()
    return captions


def clip_tokenizer():
    from transformers import CLIPTokenizer

    from promptcrop.testing import PAD_TOKEN, clip_vocab

    try:
        vocab, merges = clip_vocab()
    except RuntimeError as exc:  # open_clip_torch's vocabulary file (`make install` installs it)
        missing(str(exc))
    return CLIPTokenizer(vocab=vocab, merges=merges, pad_token=PAD_TOKEN)


# --------------------------------------------------------------------------- parsing


def test_fixed_caption_keywords(spacy_ready):
    parsed = Q.parse_query("  the woman and three dogs   on the boat ")
    assert parsed.text == "the woman and three dogs on the boat"
    assert parsed.keywords == ("the woman", "three dogs", "the boat", "woman", "dogs", "boat")
    assert parsed.phrases == (parsed.text, *parsed.keywords)


@pytest.mark.parametrize(
    "text, absent",
    [
        ("it is on the table", {"it"}),
        ("a man riding a bike with them", {"them"}),
        ("two dogs in front of a red door", {"front"}),
        ("this is a dog on a sofa", {"this"}),
    ],
)
def test_pronouns_determiners_and_places_skipped(spacy_ready, text, absent):
    keywords = {k.lower() for k in Q.parse_query(text).keywords}
    assert keywords and not keywords & absent


def test_bare_determiner_chunk_skipped(spacy_ready):
    # a real GAIC caption; spaCy makes "the" a noun chunk of its own
    assert Q.parse_query("wild in the").keywords == ()


def test_keyword_equal_to_text_and_case_duplicates_dropped(spacy_ready):
    assert Q.parse_query("Dog").keywords == ()
    assert Q.parse_query("Dog").phrases == ("Dog",)
    parsed = Q.parse_query("the dog and the Dog")
    lowered = [p.lower() for p in parsed.phrases]
    assert len(lowered) == len(set(lowered)) and "dog" in lowered


def test_none_empty_and_whitespace():
    assert Q.parse_query(None) is None
    for bad in ("", "   ", "\n\t"):
        with pytest.raises(ValueError, match="empty query"):
            Q.parse_query(bad)
    with pytest.raises(TypeError):
        Q.parse_queries([None])
    with pytest.raises(ValueError, match="backend"):
        Q.parse_query("a dog", backend="bert")
    with pytest.raises(ValueError):
        Q.ParsedQuery("  ")
    with pytest.raises(ValueError):
        Q.ParsedQuery("a dog", ("",))


@pytest.mark.parametrize(
    ("query_parts", "expected"),
    [
        ("both", ("the red circle", "red circle", "circle")),
        ("text", ("the red circle",)),
        ("keywords", ("red circle", "circle")),
    ],
)
def test_query_phrases_follow_the_choice(query_parts, expected):
    parsed = Q.ParsedQuery("the red circle", ("red circle", "circle"))
    assert Q.query_phrases(parsed, query_parts) == expected
    assert query_parts in Q.QUERY_PARTS


def test_query_phrases_default_and_keywordless_queries():
    parsed = Q.ParsedQuery("dog")
    assert Q.DEFAULT_QUERY_PARTS == "both"
    assert Q.query_phrases(Q.ParsedQuery("a b", ("b",))) == ("a b", "b")
    # a query without keywords is its own keyword: "keywords" must never embed nothing
    assert Q.query_phrases(parsed, "keywords") == ("dog",) == Q.query_phrases(parsed, "text")


@pytest.mark.parametrize("bad", ["title", "", None, "Both"])
def test_query_phrases_refuses_unknown_choices(bad):
    with pytest.raises(ValueError, match="query_parts must be one of both, text, keywords"):
        Q.query_phrases(Q.ParsedQuery("dog"), bad)


def test_rules_backend_keywords():
    parsed = Q.parse_query("The woman and three dogs on the boat.", backend="rules")
    assert parsed.keywords == ("woman", "three dogs", "boat", "dogs")
    keywords = Q.rule_keywords("a lonely tree in the middle of a field")
    assert keywords == ("lonely tree", "field", "tree")
    assert Q.rule_keywords("it") == ()


def test_auto_falls_back_to_rules_and_warns_once(no_spacy_model):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = Q.parse_query("a cat on a sofa")
        second = Q.parse_queries(["two birds in the sky", "a red car"])
    fallback = [w for w in caught if "spaCy" in str(w.message)]
    assert len(fallback) == 1 and issubclass(fallback[0].category, RuntimeWarning)
    assert first.keywords == ("cat", "sofa")
    assert all(p.keywords for p in second)
    with pytest.raises(ModelUnavailableError, match="spaCy"):
        Q.parse_query("a cat", backend="spacy")


def test_batch_equals_single(spacy_ready):
    texts = ["a bus on the main road", "honeybee on a yellow flower", "sunset"]
    assert Q.parse_queries(texts) == [Q.parse_query(t) for t in texts]


def test_pipeline_loaded_once_without_unneeded_components(spacy_ready):
    nlp = Q.load_spacy_pipeline()
    assert Q.load_spacy_pipeline() is nlp
    assert "ner" not in nlp.pipe_names and "lemmatizer" not in nlp.pipe_names
    assert "parser" in nlp.pipe_names


def test_all_gaic_captions_parse(spacy_ready):
    captions = gaic_captions()
    assert len(captions) == 3336
    start = time.perf_counter()
    parsed = Q.parse_queries(captions)
    elapsed = time.perf_counter() - start
    assert elapsed < 60, f"parsing {len(captions)} captions took {elapsed:.1f} s"
    with_keywords = sum(bool(p.keywords) for p in parsed)
    # measured: 3326 of 3336 (99.7 %); the rest are fragments such as "sitting on the"
    assert with_keywords / len(parsed) > 0.98
    for p in parsed:
        lowered = [k.lower() for k in p.phrases]
        assert len(lowered) == len(set(lowered))
        assert p.text.lower() not in [k.lower() for k in p.keywords]


def test_gaic_captions_with_rules_backend():
    parsed = Q.parse_queries(gaic_captions(), backend="rules")
    assert sum(bool(p.keywords) for p in parsed) / len(parsed) > 0.9


# --------------------------------------------------------------------------- truncation


class CountingTokenizer:
    """One id per word plus start/end ids."""

    def encode(self, text: str) -> list[int]:
        return [0] + [1] * len(text.split()) + [2]


def test_truncation_report_counts_start_and_end():
    phrases = ["one two three", "w " * 14, "w " * 15]
    assert Q.text_positions(phrases, CountingTokenizer()) == [5, 16, 17]
    assert Q.truncation_report(phrases, CountingTokenizer()) == ["w " * 15]
    assert Q.truncation_report(phrases, CountingTokenizer(), max_positions=5) == phrases[1:]
    for bad in (2, 0, 16.0, True):
        with pytest.raises(ValueError):
            Q.truncation_report(phrases, CountingTokenizer(), max_positions=bad)


def test_gaic_captions_over_owlvit_positions_with_real_clip_vocab():
    tokenizer = clip_tokenizer()
    assert tokenizer.encode("a photo of a cat") == [49406, 320, 1125, 539, 320, 2368, 49407]
    captions = gaic_captions()
    too_long = Q.truncation_report(captions, tokenizer)
    assert len(too_long) == 51  # docs/METHOD.md, "Encoder: OWL-ViT": 51 captions are too long
    assert all(len(tokenizer.encode(c)) > 16 for c in too_long)
