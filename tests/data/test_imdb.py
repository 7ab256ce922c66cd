"""IMDB loader on a tiny archive with the official layout (nothing is downloaded)."""

from __future__ import annotations

import hashlib
import io
import tarfile

import numpy as np
import pytest

from common.data import download
from common.data.download import DataIntegrityError, DataUnavailableError, Resource
from common.data.imdb import (
    IMDB,
    bag_of_words,
    build_vocabulary,
    load_imdb,
    read_reviews,
    tokenize,
)

# (split, class, id, rating, text): a few reviews per split and class, with the archive's markup
REVIEWS = [
    ("train", "pos", 0, 9, "A great film.<br /><br />Great acting, great story!"),
    ("train", "pos", 1, 8, "I loved it; the director's best film."),
    ("train", "neg", 0, 2, "Bad film. Bad acting. I didn't like it."),
    ("train", "neg", 1, 1, "Boring story, bad ending"),
    ("test", "pos", 0, 10, "Great great GREAT, loved the acting"),
    ("test", "neg", 0, 3, "A terrible, boring film; zzz unseen words"),
]


def _archive_bytes(reviews=REVIEWS, extra_unsup=True) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        members = [(f"aclImdb/{s}/{c}/{i}_{r}.txt", t) for s, c, i, r, t in reviews]
        if extra_unsup:  # the real archive also holds unlabelled reviews and other files
            members += [("aclImdb/train/unsup/0_0.txt", "unlabelled great review"),
                        ("aclImdb/imdb.vocab", "great\nfilm\n")]
        for name, text in reversed(members):  # order in the tar must not matter
            data = text.encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture
def tiny_imdb(tmp_path, monkeypatch):
    """The tiny archive under ``$REPRO_DATA_DIR/imdb/`` and its Resource (sha256 passed
    explicitly); downloads are disabled, so a wrong lookup fails instead of going online."""
    payload = _archive_bytes()
    data = tmp_path / "data"
    (data / "imdb").mkdir(parents=True)
    (data / "imdb" / IMDB.filename).write_bytes(payload)
    monkeypatch.setenv("REPRO_DATA_DIR", str(data))
    monkeypatch.setenv("REPRO_OFFLINE", "1")
    download._verified.clear()
    res = Resource("imdb", IMDB.filename, hashlib.sha256(payload).hexdigest(), len(payload),
                   IMDB.urls)
    return res, data / "imdb" / IMDB.filename, tmp_path / "cache"


def test_tokenizer_lowercases_strips_breaks_and_keeps_inner_apostrophes():
    assert tokenize("Great<br />film, the DIRECTOR'S cut; isn't it 10/10?") == [
        "great", "film", "the", "director's", "cut", "isn't", "it", "10", "10"]
    assert tokenize("'quoted' -- café") == ["quoted", "caf"]  # accents separate tokens


def test_vocabulary_is_by_count_with_alphabetical_ties():
    docs = [["b", "a", "c"], ["b", "c"], ["d"]]
    assert build_vocabulary(docs, 3) == ("b", "c", "a")  # b:2, c:2 (b < c), then a:1 < d:1
    with pytest.raises(ValueError, match="size"):
        build_vocabulary(docs, 0)


def test_bag_of_words_binary_and_counts():
    vocab = ("great", "film", "bad")
    docs = [["great", "great", "film", "zzz"], [], ["bad"]]
    np.testing.assert_array_equal(bag_of_words(docs, vocab), [[1, 1, 0], [0, 0, 0], [0, 0, 1]])
    counts = bag_of_words(docs, vocab, "counts")
    assert counts.dtype == np.uint16
    np.testing.assert_array_equal(counts, [[2, 1, 0], [0, 0, 0], [0, 0, 1]])
    with pytest.raises(ValueError, match="mode"):
        bag_of_words(docs, vocab, "tfidf")


def test_reviews_are_read_in_sorted_order_without_unsup(tiny_imdb):
    _, archive, _ = tiny_imdb
    reviews = read_reviews(archive)
    texts, labels = reviews["train"]
    assert labels.tolist() == [0, 0, 1, 1]  # negatives first, each class by review id
    assert texts[0].startswith("Bad film") and texts[2].startswith("A great film")
    assert reviews["test"][1].tolist() == [0, 1]


def test_load_imdb_features_labels_and_train_only_vocabulary(tiny_imdb):
    res, _, cache = tiny_imdb
    X, y, vocab = load_imdb("train", vocab_size=5, resource=res, cache_dir=cache)
    # training counts: film 3, great 3, bad 3, acting 2, story 2, i 2, it 2, ... (ties a-z)
    assert vocab == ("bad", "film", "great", "acting", "i")
    assert X.shape == (4, 5) and X.dtype == np.uint8
    np.testing.assert_array_equal(y, [0, 0, 1, 1])
    # row 0 "Bad film. Bad acting. I didn't like it." -> bad, film, acting, i (binary: bad once)
    np.testing.assert_array_equal(X[0], [1, 1, 0, 1, 1])
    # row 2 "A great film.<br /><br />Great acting, great story!"
    np.testing.assert_array_equal(X[2], [0, 1, 1, 1, 0])
    Xt, yt, vt = load_imdb("test", vocab_size=5, resource=res, cache_dir=cache)
    assert vt == vocab  # the test split is featurised with the training vocabulary
    np.testing.assert_array_equal(yt, [0, 1])
    np.testing.assert_array_equal(Xt, [[0, 1, 0, 0, 0], [0, 0, 1, 1, 0]])  # "zzz", "unseen" out
    Xc, _, _ = load_imdb("train", vocab_size=5, mode="counts", resource=res, cache_dir=cache)
    assert Xc[2].tolist() == [0, 1, 3, 1, 0]


def test_load_imdb_is_deterministic_and_cached_atomically(tiny_imdb):
    res, _, cache = tiny_imdb
    a = load_imdb("train", vocab_size=8, resource=res, cache_dir=cache)
    files = sorted(p.name for p in cache.iterdir())
    assert len(files) == 1 and files[0].endswith(".npz")  # no temporary file left behind
    b = load_imdb("train", vocab_size=8, resource=res, cache_dir=cache)  # from the cache
    c = load_imdb("train", vocab_size=8, resource=res, use_cache=False)  # recomputed
    for other in (b, c):
        np.testing.assert_array_equal(a[0], other[0])
        np.testing.assert_array_equal(a[1], other[1])
        assert a[2] == other[2]
    # a different archive order gives the same arrays: rebuild with the reviews shuffled
    shuffled = _archive_bytes(list(reversed(REVIEWS)), extra_unsup=False)
    p = cache.parent / "data" / "imdb" / res.filename
    p.write_bytes(shuffled)
    download._verified.clear()
    res2 = Resource("imdb", res.filename, hashlib.sha256(shuffled).hexdigest(), len(shuffled),
                    res.urls)
    d = load_imdb("train", vocab_size=8, resource=res2, use_cache=False)
    np.testing.assert_array_equal(a[0], d[0])
    assert a[2] == d[2]


def test_a_corrupted_archive_raises_data_integrity_error(tiny_imdb):
    res, archive, cache = tiny_imdb
    raw = bytearray(archive.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # same size, different sha256
    archive.write_bytes(bytes(raw))
    download._verified.clear()
    with pytest.raises(DataIntegrityError, match="sha256"):
        load_imdb("train", resource=res, cache_dir=cache)
    archive.write_bytes(bytes(raw[:100]))  # truncated
    with pytest.raises(DataIntegrityError, match="bytes"):
        load_imdb("train", resource=res, cache_dir=cache)


def test_an_archive_that_is_not_aclimdb_raises(tmp_path):
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"not a gzip stream at all")
    with pytest.raises(DataIntegrityError, match="cannot be read"):
        read_reviews(bad)


def test_offline_without_the_archive_says_what_to_download(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("REPRO_OFFLINE", "1")
    missing = Resource("imdb-missing-test", IMDB.filename, IMDB.sha256, IMDB.size, IMDB.urls)
    with pytest.raises(DataUnavailableError, match="aclImdb_v1.tar.gz"):
        load_imdb("train", resource=missing, cache_dir=tmp_path / "cache")


def test_argument_validation():
    with pytest.raises(ValueError, match="split"):
        load_imdb("validation")
    with pytest.raises(ValueError, match="mode"):
        load_imdb("train", mode="tfidf")
    with pytest.raises(ValueError, match="vocab_size"):
        load_imdb("train", vocab_size=0)


def test_the_official_resource_record():
    assert IMDB.size == 84125825
    assert IMDB.sha256 == "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"
    assert IMDB.urls[0] == "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
