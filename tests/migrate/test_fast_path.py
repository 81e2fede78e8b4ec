"""The fast pipeline (prefilter, statement skipping, no re-render of untouched files,
positions per statement) gives exactly what the plain pipeline gives."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migrate.rewrite.context import Options
from migrate.rewrite.engine import RewriteError, rewrite_python
from migrate.rewrite.prefilter import may_need_rewrite
from tests.migrate.test_properties import IMPORTS, K_CALLS, NAMES, STATEMENTS, snippets

PROGRAMS = Path(__file__).resolve().parents[1] / "fixtures" / "programs"


def _both(source: bytes, **options: object) -> tuple:
    opts = Options(**options)  # type: ignore[arg-type]
    fast = rewrite_python(source, "t.py", opts, fast=True)
    slow = rewrite_python(source, "t.py", opts, fast=False)
    return fast, slow


def assert_same(src: str, **options: object) -> tuple[bytes, list]:
    source = textwrap.dedent(src).lstrip("\n").encode("utf-8")
    fast, slow = _both(source, **options)
    assert fast[0] == slow[0], f"fast:\n{fast[0].decode()}\nslow:\n{slow[0].decode()}"
    assert [f.format() for f in fast[1]] == [f.format() for f in slow[1]]
    assert fast[2] == slow[2]
    return fast[0], fast[1]


# The seed-style legacy programs: the codemod fixtures and the bundled example's.
LEGACY_PROGRAMS = sorted(PROGRAMS.glob("*.py")) + sorted((PROGRAMS.parents[2] / "examples" / "legacy").glob("*.py"))


@pytest.mark.parametrize("path", LEGACY_PROGRAMS, ids=lambda p: f"{p.parent.name}/{p.name}")
@pytest.mark.parametrize("todo", [False, True])
def test_fixture_programs(path: Path, todo: bool) -> None:
    assert_same(path.read_text(encoding="utf-8"), todo_comments=todo)


LAYOUT = '''
"""Module docstring mentioning keras."""
import os, re  # a comment
from keras import backend as K
from keras.engine.topology import Layer

PATTERN = re.compile(r"\\d+")


def plain(a, b):
    # nothing to do here
    total = 0
    for i in range(a):
        total += i
    else:
        total -= 1
    return total


@staticmethod
@some.decorator(
    K.epsilon(),
)
def decorated(x):
    return K.sum(x, axis=1)


class Attention(Layer):
    """Docstring."""

    def __init__(self, units, **kwargs):
        super(Attention, self).__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight('w', (input_shape[-1], self.units))
        if input_shape[-1] > 3:
            n = t.shape[1].value
        elif input_shape[-1] > 2:
            pass
        else:
            n = x._keras_shape[1]
        try:
            y = K.concatenate([a, b])
        except ValueError:
            y = K.argmax(p)
        finally:
            z = 1; w = K.cumsum(x)
        while False: q = K.exp(x)
        with open(os.devnull) as fh:
            fh.write("x")

    def call(self, x, mask=None):
        if mask is not None: x = x * K.cast(mask, K.floatx())
        return K.dot(x, self.w)


def g(x):
    x = K.reshape(x, (2, 3, 4))
    y = K.reshape(y0, (2, 4, 5))
    x = other(x)
    return K.batch_dot(x, y)


def h(model, opt):
    opt.lr = 0.5
    model.fit_generator(gen, 10, 2, workers=4)
    model.save_weights("w.h5")


if __name__ == "__main__":
    match os.name:
        case "posix":
            v = K.sum(x)
        case _:
            pass
'''


@pytest.mark.parametrize("todo", [False, True])
def test_layout_kinds(todo: bool) -> None:
    code, findings = assert_same(LAYOUT, todo_comments=todo)
    text = code.decode()
    assert "compat.batch_dot_keras22(x, y)" in text  # `x` was rebound by a statement with no trigger word
    assert "n = t.shape[1]\n" in text and "n = x.shape[1]" in text
    assert {f.rule for f in findings} >= {"KM201", "KM202", "KM208", "KM302", "KM402", "KM403", "KM501"}


def test_crlf_and_tabs() -> None:
    src = "from keras import backend as K\r\nclass A:\r\n\tdef f(self):\r\n\t\treturn K.sum(x)\r\n"
    assert_same(src)


def test_untouched_file_is_not_rendered_and_same_bytes() -> None:
    src = b"import os\n\n\ndef f(x):\n    return x + 1  # nothing legacy\n"
    assert not may_need_rewrite(src)
    assert rewrite_python(src, "t.py", Options()) == (src, [], 5)
    assert rewrite_python(src, "t.py", Options(), fast=False) == (src, [], 5)


def test_trigger_words_in_odd_places() -> None:
    assert may_need_rewrite(b"x = obj.  \\\n  fit_generator(g)\n")
    assert may_need_rewrite(b"x = (obj.  # note\n  lr)\n")
    assert may_need_rewrite(b"n = t.shape[1].value\n")
    assert not may_need_rewrite(b"n = t.value\nfit = 3\n")
    assert not may_need_rewrite(b"model.fit(x, y)\npat = re.compile('a+')\nclass A:\n    def __call__(self): ...\n")
    assert may_need_rewrite(b"model.fit(x, y,\n          workers=2)\n")
    assert_same("x = (obj.  # note\n  lr)\nm = (model.\n  fit_generator(g, 2))\n")


def test_broken_file_still_reported() -> None:
    for src in (b"def f(:\n", b"import keras\ndef f(:\n"):
        with pytest.raises(RewriteError, match="does not parse"):
            rewrite_python(src, "t.py", Options())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snippets(), st.booleans())
def test_generated_snippets(src: str, todo: bool) -> None:
    assert_same(src, todo_comments=todo)


PLAIN = ["total = compute(a, b)", "x = other(x)", "names = [n.strip() for n in text.split(',')]",
         "log.info('saving %s', path)", "y = a if b else c", "# just a comment", "pass"]
WRAPPERS = ["def f{n}(self, x):\n{body}", "class C{n}(Layer):\n{body}", "if cond:\n{body}\nelse:\n    pass",
            "for i in range(3):\n{body}", "try:\n{body}\nexcept Exception:\n    pass", "with ctx() as c:\n{body}"]


@st.composite
def statement(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        return draw(st.sampled_from(PLAIN))
    a, b = draw(st.sampled_from(NAMES)), draw(st.sampled_from(NAMES))
    e = draw(st.sampled_from(K_CALLS)).format(a=a, b=b)
    return draw(st.sampled_from(STATEMENTS)).format(e=e, a=a, b=b, p="q")


@st.composite
def nested(draw: st.DrawFn) -> str:
    out = draw(st.lists(st.sampled_from(IMPORTS), min_size=1, max_size=4))
    for n in range(draw(st.integers(1, 4))):
        chunk = draw(st.lists(statement(), min_size=1, max_size=5)) + ["pass"]
        block = textwrap.indent("\n".join(chunk), "    ")
        wrapper = draw(st.sampled_from(WRAPPERS + ["{flat}"]))
        out.append(wrapper.format(n=n, body=block, flat="\n".join(chunk)))
    return "\n".join(out) + "\n"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nested(), st.booleans())
def test_generated_nested_snippets(src: str, todo: bool) -> None:
    assert_same(src, todo_comments=todo)


def test_benchmark_tree_parses_and_fast_equals_plain(tmp_path: Path) -> None:
    """The generated benchmark tree: as its docstring says, and the fast path changes nothing on it."""
    import importlib.util

    bench_file = PROGRAMS.parents[2] / "benchmarks" / "bench_rewrite.py"
    spec = importlib.util.spec_from_file_location("_bench_rewrite", bench_file)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    stats = bench.generate_tree(tmp_path, 20)
    assert {k: v[0] for k, v in stats.items()} == {"ordinary": 12, "mixed": 5, "legacy": 3}
    for path in sorted(tmp_path.rglob("*.py")):
        source = path.read_bytes()
        compile(source, str(path), "exec")
        if b"SEQ_LEN_" in source or b"D_MODEL_" in source:
            continue  # the fixture programs are compared above
        fast = rewrite_python(source, str(path), Options(), fast=True)
        slow = rewrite_python(source, str(path), Options(), fast=False)
        assert fast[0] == slow[0] and [f.format() for f in fast[1]] == [f.format() for f in slow[1]], path


def test_output_that_does_not_parse_is_never_returned(monkeypatch: pytest.MonkeyPatch) -> None:
    import migrate.rewrite.render as render_module

    monkeypatch.setattr(render_module, "render", lambda node, module=None, verbatim=None: "y = (\n")
    with pytest.raises(RewriteError, match="internal error: rewritten code does not parse at line 1"):
        rewrite_python(b"from keras import backend as K\ny = K.sum(x)\n", "t.py", Options())


def test_other_line_ends() -> None:
    want = {(f.rule, f.line, f.column) for f in assert_same(LAYOUT)[1]}
    for newline in ("\r\n", "\r"):  # a lone CR (old Mac) ends a line for Python too
        code, findings = assert_same(LAYOUT.lstrip("\n").replace("\n", newline))
        assert newline in code.decode()
        assert {(f.rule, f.line, f.column) for f in findings} == want


# Lines whose source text cannot be cut out from Python's line numbers alone (grouping
# parentheses, a closing parenthesis on a later line, semicolons, comments, non-ASCII),
# each next to a line the rules change.
SPLICE = '''
from keras import backend as K
import numpy as np

x = 1; y = 2
z = 3;  # trailing semicolon
(
    a
) = K.sum(x)
(
 b) = 4
c = (
    1 +
    2
)
d = K.mean(x)
label = "naïve ünïcode"  # ümlaut
e = (f
     (g))
h = K.max(x)
s = ("implicit"
     "concatenation")
t = x if y else (
    z)


class Layer2(object):
    def f(self, v):
        w = v \\
            + 1
        q = K.exp(w)
        return q  # last in block
    @staticmethod
    def g():
        return K.abs(1)

    # comment before a decorated method
    @property
    def p(self):
        return 1


for i in range(2):
    k = K.sqrt(i)
    m = i
else:
    n = K.sign(i)
    o = 1
try:
    r = K.log(x)
    r2 = 2
except ValueError:
    r3 = 3
    r4 = K.tanh(x)
'''


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_splicing_unchanged_lines(newline: str) -> None:
    code, _ = assert_same(SPLICE.lstrip("\n").replace("\n", newline))
    assert "naïve ünïcode" in code.decode()


def test_splicing_is_used_and_exact() -> None:
    """Every line can be spliced, and the spliced render equals libcst's own."""
    import libcst as cst

    from migrate.rewrite.prefilter import Relevance, parse_ast, statement_spans
    from migrate.rewrite.render import render

    for path in LEGACY_PROGRAMS:
        text = path.read_text(encoding="utf-8")
        module = cst.parse_module(text)
        relevance = Relevance(text, ["K"], statement_spans(module, parse_ast(text)))
        verbatim = relevance.verbatim(module)
        lines = _all_lines(module)
        assert len(verbatim) == len(lines), path
        assert render(module, module, verbatim) == module.code == text
    text = SPLICE.lstrip("\n")
    module = cst.parse_module(text)
    verbatim = Relevance(text, ["K"], statement_spans(module, parse_ast(text))).verbatim(module)
    spliced = {v.split("\n")[0] for v in verbatim.values()}
    assert {"x = 1; y = 2", "z = 3;  ", 'label = "naïve ünïcode"', "(", "c = (", "e = (f"} <= spliced
    assert {"q = K.exp(w)", "return q", "o = 1", "r4 = K.tanh(x)"} <= spliced
    assert render(module, module, verbatim) == text


def _all_lines(module: object) -> list:
    import libcst as cst

    from migrate.rewrite.walk import iter_nodes

    return [n for n in iter_nodes(module) if type(n) is cst.SimpleStatementLine]  # type: ignore[arg-type]


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_finding_positions_are_libcsts(newline: str) -> None:
    """The cheap position render agrees with libcst's PositionProvider on every node findings
    can be on (all but blocks, which libcst places at their first statement), whole module or
    cut short after the last wanted node."""
    import libcst as cst
    from libcst.metadata import MetadataWrapper, PositionProvider

    from migrate.rewrite.transform import _PositionState
    from migrate.rewrite.walk import iter_nodes

    text = (LEGACY_PROGRAMS[0].read_text(encoding="utf-8") + LAYOUT).replace("\n", newline)
    module = cst.parse_module(text)
    want = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    nodes = [n for n in iter_nodes(module) if n in want and not isinstance(n, (cst.Module, cst.IndentedBlock))]
    assert len(nodes) > 2000
    state = _PositionState(module, {id(n) for n in nodes})
    state.render(module)
    got = state.positions()
    for n in nodes:
        assert got[id(n)] == (want[n].start.line, want[n].start.column), n
    few = sorted(nodes, key=lambda n: (want[n].start.line, want[n].start.column))[100:103]
    state = _PositionState(module, {id(n) for n in few})
    state.render(module)
    assert len("".join(state.tokens)) < len(text) // 2  # stopped early
    assert state.positions() == {id(n): (want[n].start.line, want[n].start.column) for n in few}
