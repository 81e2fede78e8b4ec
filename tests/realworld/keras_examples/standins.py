"""Tiny seeded stand-ins for what the Keras 2.2.4 examples download or read from disk.

The examples train on MNIST, CIFAR-10, IMDB, Reuters, bAbI, Nietzsche's text, ... The
harness replaces each download with a small random data set of the same structure
(shapes, dtypes, value ranges, vocabulary) so that a script runs in seconds, offline, and
identically on both sides: every stand-in is drawn from its own ``RandomState`` seeded by
its name, so the legacy and the Keras 3 process see the same numbers.

What is replaced, on both sides alike (the script text is never edited):

* ``keras.datasets.{mnist,fashion_mnist,cifar10,cifar100,imdb,reuters}.load_data`` (and
  ``get_word_index``);
* ``keras.utils.get_file`` for the files the examples fetch (``babi-tasks-v1-2.tar.gz``,
  ``nietzsche.txt``); any other download fails with its name;
* files the examples read from their working directory (``fra-eng/fra.txt``, GloVe
  vectors and the 20 Newsgroups tree);
* the Python and NumPy of Keras 2.2.4's time, while a script runs (:func:`python36_era`);
* ``plot_model`` (pydot and graphviz are not installed; it only draws a picture);
* ``matplotlib``/``pylab``/``PIL`` where not installed: inert modules, since the examples plot
  only after training, where the harness has already stopped them.
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
import tarfile
import types
import zlib
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

TRAIN, TEST = 64, 32
# Examples that hard-code the real data set's size (``x_train.reshape(60000, 784)``) get
# stand-ins of that size (random uint8 images: cheap; training is capped anyway).
FULL_SIZE = {"mnist_mlp": (60000, 10000), "antirectifier": (60000, 10000)}
_size = [(TRAIN, TEST)]


def for_example(name: str) -> None:
    """Size the data-set stand-ins for the example about to run."""
    _size[0] = FULL_SIZE.get(name, (TRAIN, TEST))


def _rng(name: str) -> np.random.RandomState:
    return np.random.RandomState(zlib.crc32(name.encode()))


def _images(name: str, shape: tuple[int, ...], classes: int, label_shape: str) -> Callable[..., Any]:
    def load_data(*args: Any, **kwargs: Any) -> Any:
        rng = _rng(name)
        out = []
        for n in _size[0]:
            x = rng.randint(0, 256, size=(n, *shape)).astype("uint8")
            y = rng.permutation(np.arange(n) % classes).astype("uint8")  # every class, twice at least
            out.append((x, y.reshape(-1, 1) if label_shape == "column" else y))
        return tuple(out)

    return load_data


def _sequences(name: str, classes: int, vocabulary: int = 300) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """``load_data`` with Keras's index conventions (start 1, out-of-vocabulary 2, words
    from ``index_from``) and ``get_word_index`` for the same vocabulary."""

    def load_data(path: str = "", num_words: int | None = None, skip_top: int = 0, maxlen: int | None = None,
                  seed: int = 113, start_char: int = 1, oov_char: int = 2, index_from: int = 3,
                  test_split: float = 0.2, **kwargs: Any) -> Any:
        rng = _rng(name)
        top = min(num_words or vocabulary, vocabulary)
        out = []
        for n in (TRAIN, TEST):
            xs = []
            for _ in range(n):
                length = rng.randint(8, 48)
                words = rng.randint(index_from, max(top, index_from + 1), size=length).tolist()
                xs.append([start_char] + [w if w >= skip_top else oov_char for w in words])
            if maxlen:
                xs = [x[:maxlen] for x in xs]
            x = np.empty(n, dtype=object)
            x[:] = xs
            y = rng.permutation(np.arange(n) % classes).astype("int64")
            out.append((x, y))
        return tuple(out)

    def get_word_index(*args: Any, **kwargs: Any) -> dict[str, int]:
        return {f"word{i}": i for i in range(1, vocabulary)}

    return load_data, get_word_index


def datasets() -> dict[str, dict[str, Callable[..., Any]]]:
    imdb, imdb_index = _sequences("imdb", 2)
    reuters, reuters_index = _sequences("reuters", 46)
    return {
        "mnist": {"load_data": _images("mnist", (28, 28), 10, "flat")},
        "fashion_mnist": {"load_data": _images("fashion_mnist", (28, 28), 10, "flat")},
        "cifar10": {"load_data": _images("cifar10", (32, 32, 3), 10, "column")},
        "cifar100": {"load_data": _images("cifar100", (32, 32, 3), 100, "column")},
        "imdb": {"load_data": imdb, "get_word_index": imdb_index},
        "reuters": {"load_data": reuters, "get_word_index": reuters_index},
    }


_NAMES = ["Mary", "John", "Sandra", "Daniel"]
_PLACES = ["bathroom", "hallway", "kitchen", "garden", "office", "bedroom"]
_VERBS = ["moved to", "went to", "journeyed to", "travelled to"]


def _babi_task(rng: np.random.RandomState, stories: int) -> bytes:
    """bAbI's format: numbered sentences, questions as ``text\\tanswer\\tsupporting ids``."""
    lines = []
    for _ in range(stories):
        where: dict[str, tuple[str, int]] = {}
        nid = 0
        for _ in range(2):
            for _ in range(2):
                nid += 1
                who, place = rng.choice(_NAMES), rng.choice(_PLACES)
                where[who] = (place, nid)
                lines.append(f"{nid} {who} {rng.choice(_VERBS)} the {place}.")
            nid += 1
            who = rng.choice(sorted(where))
            lines.append(f"{nid} Where is {who}? \t{where[who][0]}\t{where[who][1]}")
    return ("\n".join(lines) + "\n").encode()


def _babi(path: Path) -> None:
    rng = _rng("babi")
    tasks = ["qa1_single-supporting-fact", "qa2_two-supporting-facts"]
    with tarfile.open(path, "w:gz") as tar:
        for variant in ("en", "en-10k"):
            for task in tasks:
                for split, stories in (("train", 24), ("test", 8)):
                    data = _babi_task(rng, stories)
                    info = tarfile.TarInfo(f"tasks_1-20_v1-2/{variant}/{task}_{split}.txt")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))


def _words(name: str, count: int) -> str:
    rng = _rng(name)
    vocabulary = ["the", "will", "to", "power", "is", "truth", "a", "woman", "what", "of", "and", "supposing"]
    return " ".join(rng.choice(vocabulary, size=count)) + "\n"


def _text(path: Path) -> None:
    path.write_text(_words("nietzsche", 180), encoding="utf-8")


DOWNLOADS: dict[str, Callable[[Path], None]] = {
    "babi-tasks-v1-2.tar.gz": _babi,
    "nietzsche.txt": _text,
}


def _fra(root: Path) -> None:
    """``lstm_seq2seq``'s English-French pairs, one ``english\\tfrench`` a line."""
    rng = _rng("fra-eng")
    english, french = ["go", "run", "hi", "wait", "stop"], ["va", "cours", "salut", "attends", "stop"]
    lines = []
    for _ in range(24):
        i = rng.randint(len(english), size=2)
        lines.append(f"{english[i[0]]} {english[i[1]]}.\t{french[i[0]]} {french[i[1]]} !")
    (root / "fra-eng").mkdir(exist_ok=True)
    (root / "fra-eng" / "fra.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _glove_and_newsgroups(root: Path) -> None:
    """pretrained_word_embeddings' GloVe file (``word v1 ... v100`` lines) and its
    20 Newsgroups tree (a directory per group, numbered files with a header)."""
    rng = _rng("glove")
    words = ["the", "will", "to", "power", "is", "truth", "a", "woman", "what", "of", "and"]
    (root / "glove.6B").mkdir(exist_ok=True)
    lines = [" ".join([word, *(f"{v:.5f}" for v in rng.uniform(-1, 1, 100))]) for word in words[:-2]]
    (root / "glove.6B" / "glove.6B.100d.txt").write_text("\n".join(lines) + "\n")
    for group in ("alt.atheism", "comp.graphics", "sci.space"):
        (root / "20_newsgroup" / group).mkdir(parents=True, exist_ok=True)
        for number in range(5):
            body = _words(f"{group}{number}", 40)
            (root / "20_newsgroup" / group / str(49960 + number)).write_text(f"From: someone\nSubject: x\n\n{body}")


LOCAL_FILES: dict[str, Callable[[Path], None]] = {"lstm_seq2seq": _fra,
                                                  "pretrained_word_embeddings": _glove_and_newsgroups}


def get_file_in(cache: Path) -> Callable[..., str]:
    """A ``get_file`` that makes the stand-in of a known download in ``cache``."""

    def get_file(fname: str, origin: str | None = None, *args: Any, **kwargs: Any) -> str:
        make = DOWNLOADS.get(fname)
        if make is None:
            raise FileNotFoundError(f"get_file({fname!r}): a download with no stand-in ({origin})")
        path = cache / fname
        if not path.exists():
            make(path)
        return str(path)

    return get_file


def plot_model(*args: Any, **kwargs: Any) -> None:
    return None


class _Inert(types.ModuleType):
    """An importable placeholder whose every name is another placeholder and whose use
    (a call) fails, saying so: the examples import these at the top and use them only
    after training, where the harness has stopped them."""

    def __getattr__(self, item: str) -> Any:
        if item.startswith("__"):
            raise AttributeError(item)
        return _Inert(f"{self.__name__}.{item}")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"{self.__name__} is not installed (inert stand-in of the examples harness)")


INERT = ("matplotlib", "matplotlib.pyplot", "pylab", "PIL", "PIL.Image")


def inert_modules() -> None:
    """Plotting and image-saving packages, where absent, as :class:`_Inert` modules."""
    for name in INERT:
        try:
            __import__(name)
        except ImportError:
            module = _Inert(name)
            module.__path__ = []  # type: ignore[attr-defined]
            sys.modules[name] = module


def install(dataset_modules: Callable[[str], Any], utils_modules: list[Any], cache: Path) -> None:
    """Patch the data sets, ``get_file`` and ``plot_model`` of one Keras (``dataset_modules``
    maps a data set name to the modules that export its ``load_data``)."""
    for name, functions in datasets().items():
        for module in dataset_modules(name):
            for attr, function in functions.items():
                setattr(module, attr, function)
    get_file = get_file_in(cache)
    for module in utils_modules:
        module.get_file = get_file
        module.plot_model = plot_model
    inert_modules()


def _split36(pattern: Any, string: str, maxsplit: int = 0, flags: int = 0) -> list[Any]:
    """``re.split`` as Python 3.6 ran it: empty matches never split (3.7 splits at them,
    and the bAbI examples' ``re.split('(\\W+)?', sentence)`` then yields ``None`` pieces)."""
    out: list[Any] = []
    pos = done = 0
    for match in re.finditer(pattern, string, flags):
        if match.start() == match.end():
            continue
        if maxsplit and done >= maxsplit:
            break
        out.append(string[pos:match.start()])
        out.extend(match.groups())
        pos, done = match.end(), done + 1
    out.append(string[pos:])
    return out


@contextlib.contextmanager
def python36_era() -> Iterator[None]:
    """While an example runs: ``re.split`` with Python 3.6's meaning and NumPy's old
    aliases (``np.float``, ``np.int``, ``np.bool``; removed in NumPy 1.24, used by
    conv_lstm). The examples were written for them; both sides get the same."""
    split = re.split
    aliases = {"float": float, "int": int, "bool": bool, "object": object}
    added = [name for name in aliases if name not in np.__dict__]
    re.split = _split36  # type: ignore[assignment]
    for name in added:
        setattr(np, name, aliases[name])
    try:
        yield
    finally:
        re.split = split  # type: ignore[assignment]
        for name in added:
            delattr(np, name)
