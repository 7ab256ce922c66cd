"""The book's Sphinx extension (``book/_config.yml``: ``sphinx.extra_extensions``).

- **Claims.** A notebook's claims cell is shown without its ``# NBVAL_CHECK_OUTPUT`` marker, and
  its output as the compact claims table (:func:`common.project.claims.format_markdown`) built from
  the claim records the cell stored in its output metadata, whatever table the committed output
  carries. In a chapter's claims table (written by ``make sync``), links to ``*.ipynb`` become
  links to the notebooks' pages.
- **Citations.** Bibliography labels are author-year (``Islamov et al., 2025``), like the citations
  in the text (``bibtex_reference_style: author_year``); entries are sorted by author and year.
- **MathJax.** The build stops unless ``mathjax_path`` is the pinned copy that
  :mod:`common.project.mathjax` unpacked (no CDN: the book's math renders offline).
- **API reference.** ``api-modules`` lists every module of a package, each with its docstring and
  members (autodoc), so a new module appears without editing the page; a public object without a
  docstring is a warning, which ``-W`` turns into a failed build.
"""

from __future__ import annotations

import codecs
import importlib
import inspect
import pkgutil
import re
from collections import Counter
from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.errors import ExtensionError
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

from common.project.notebooks import NBVAL_MARKER

__all__ = ["setup", "claims_records", "author_year_label"]

logger = logging.getLogger(__name__)


# ---- claims ----

def claims_records(cell: dict) -> list[dict] | None:
    """The claim records a claims cell stored in its outputs' metadata, or None."""
    for out in cell.get("outputs", []):
        records = out.get("metadata", {}).get("lucchi_repro", {}).get("claims")
        if records:
            return records
    return None


def _notebook_cells(app, docname: str) -> list | None:
    path = Path(app.env.doc2path(docname))
    if path.suffix != ".ipynb":
        return None
    import nbformat

    return nbformat.read(str(path), as_version=4).cells


def _rewrite_claims_cells(app, doctree) -> None:
    from common.project.claims import format_markdown

    cells = None
    for cell_node in list(doctree.findall(nodes.container)):
        if cell_node.get("nb_element") != "cell_code":
            continue
        source = [n for n in cell_node.children if n.get("nb_element") == "cell_code_source"]
        literal = next(iter(source[0].findall(nodes.literal_block)), None) if source else None
        if literal is None or not literal.astext().startswith(NBVAL_MARKER):
            continue
        text = literal.astext().split("\n", 1)[1] if "\n" in literal.astext() else ""
        new = nodes.literal_block(text, text, **{k: v for k, v in literal.attributes.items()
                                                 if k in ("language", "classes", "xml:space")})
        literal.replace_self(new)
        cells = cells if cells is not None else _notebook_cells(app, app.env.docname)
        index = cell_node.get("cell_index")
        if cells is None or index is None or index >= len(cells):
            continue
        records = claims_records(cells[index])
        if not records:
            continue
        r0 = records[0]
        title = f"Claims: {r0.get('paper', '')} / {r0.get('notebook', '')} " \
                f"(scale={r0.get('scale', 'cpu')})"
        html = format_markdown(records, title=title)
        for out in cell_node.children:
            if out.get("nb_element") != "cell_code_output":
                continue
            for bundle in list(out.children):
                if bundle.get("nb_element") == "mime_bundle":
                    bundle.replace_self(nodes.raw("", html, format="html"))


_IPYNB_HREF = re.compile(r'href="([^"/:]+)\.ipynb"')


def _chapter_links(app, doctree, docname) -> None:
    for raw in doctree.findall(nodes.raw):
        if 'class="claims"' in raw.astext() and ".ipynb" in raw.astext():
            text = _IPYNB_HREF.sub(r'href="\1.html"', raw.astext())
            raw.replace_self(nodes.raw("", text, format=raw.get("format", "html")))


def _page_context(app, pagename, templatename, context, doctree) -> None:
    """Two fixes for errors a browser reports on every page: Jupyter Book's extensions register
    some inline scripts twice (sphinx-thebe's ``const THEBE_JS_URL``: a SyntaxError), keep the
    first of each; pydata-sphinx-theme logs a console error on a first visit when the page names
    no colour mode, name the default one (the reader's toggle still works)."""
    if not context.get("default_mode"):
        context["default_mode"] = "auto"
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for js in scripts:
        key = (getattr(js, "filename", str(js)) or "",  # inline scripts: None or ""
               tuple(sorted((k, str(v)) for k, v in getattr(js, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(js)
    context["script_files"] = unique


# ---- author-year bibliography labels ----

def _plain(latex: str) -> str:
    import latexcodec  # noqa: F401 - registers the "ulatex" codec (a dependency of pybtex)

    return codecs.decode(latex, "ulatex").replace("{", "").replace("}", "").strip()


def author_year_label(entry) -> str:
    """``Smith, 2024``, ``Smith and Jones, 2024`` or ``Smith et al., 2024``."""
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    last = [_plain(" ".join(p.prelast_names + p.last_names)) for p in people]
    if not last:
        who = _plain(entry.fields.get("key", entry.key))
    elif len(last) == 1:
        who = last[0]
    elif len(last) == 2:
        who = f"{last[0]} and {last[1]}"
    else:
        who = f"{last[0]} et al."
    return f"{who}, {_plain(entry.fields.get('year', 'n.d.'))}"


def _register_pybtex_styles() -> None:
    from pybtex.plugin import find_plugin, register_plugin
    from pybtex.style.labels import BaseLabelStyle

    class AuthorYearLabels(BaseLabelStyle):
        def format_labels(self, sorted_entries):
            entries = list(sorted_entries)
            labels = [author_year_label(e) for e in entries]
            repeated = Counter(labels)
            seen: Counter = Counter()
            for label in labels:
                if repeated[label] > 1:  # Smith et al., 2024a / 2024b
                    seen[label] += 1
                    yield label + "abcdefghijklmnopqrstuvwxyz"[seen[label] - 1]
                else:
                    yield label

    base = find_plugin("pybtex.style.formatting", "unsrt")

    class AuthorYearStyle(base):
        default_label_style = "authoryear"
        default_sorting_style = "author_year_title"

    register_plugin("pybtex.style.labels", "authoryear", AuthorYearLabels, force=True)
    register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle, force=True)


# ---- MathJax ----

def _check_mathjax(app) -> None:
    from common.project import mathjax

    if app.builder.format != "html":
        return
    if app.config.mathjax_path != mathjax.ENTRY:
        raise ExtensionError(f"mathjax_path is {app.config.mathjax_path!r}; the book uses the "
                             f"pinned copy {mathjax.ENTRY!r} (book/_config.yml)")
    problem = mathjax.installed_problem()
    if problem:
        raise ExtensionError(problem)


# ---- API reference ----

class ApiModules(SphinxDirective):
    """``.. api-modules:: common.optim``: one section per module of the package (sorted), each
    the module's docstring and its public members (``__all__``). ``:modules-only:`` leaves out
    subpackages (they have pages of their own)."""

    required_arguments = 1
    option_spec = {"modules-only": lambda arg: True}

    def run(self):
        package = importlib.import_module(self.arguments[0])
        names = sorted(m.name for m in pkgutil.iter_modules(package.__path__,
                                                            package.__name__ + ".")
                       if not m.name.rsplit(".", 1)[-1].startswith("_")
                       and not (m.ispkg and "modules-only" in self.options))
        lines = []
        for name in names:
            lines += [name, "-" * len(name), "", f".. automodule:: {name}", "   :members:",
                      "   :undoc-members:", "   :show-inheritance:", ""]
        container = nodes.Element()
        nested_parse_with_titles(self.state, StringList(lines, source=self.arguments[0]),
                                 container)
        return container.children


def _import_object(path: str):
    """The object at a dotted ``path`` (a module, then attributes), or None."""
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for attr in parts[i:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj
    return None


def _resolve_reexport(app, env, node, contnode):
    """Resolve a reference to a name that a package re-exports (``:func:`clipped_sum``` in
    ``common.kernels``' docstring) to the place where the object is documented (its module).
    Other unresolved references are left to Sphinx, which warns (an error under ``-W``)."""
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "").lstrip("~.")
    context = [node.get("py:module"), node.get("py:class")]
    candidates = [target]
    if context[0]:
        candidates.append(f"{context[0]}.{target}")
        if context[1]:
            candidates.append(f"{context[0]}.{context[1]}.{target}")
    domain = env.get_domain("py")

    def resolve(name: str):
        found = domain.resolve_any_xref(env, node.get("refdoc", ""), app.builder, name, node,
                                        contnode)
        return found[0][1] if found else None

    for candidate in candidates:
        if not candidate.startswith("common."):
            continue
        obj = _import_object(candidate)
        if obj is None:
            continue
        if inspect.ismodule(obj):
            return resolve(obj.__name__)
        module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
        if not (inspect.isclass(obj) or inspect.isroutine(obj)):
            # a constant: link to the module that defines it (constants without a ``#:``
            # comment are not listed)
            return resolve(candidate.rsplit(".", 1)[0])
        if not (isinstance(module, str) and isinstance(qualname, str)):
            continue
        if not module.startswith("common"):
            return contnode  # defined in another library: shown as text, like torch's types
        # documented where it is defined; a helper left out of ``__all__``: its module
        return resolve(f"{module}.{qualname}") or resolve(module)
    return None


_DOC_KINDS = ("module", "class", "function", "exception")


def _require_docstring(app, what, name, obj, options, lines) -> None:
    if what not in _DOC_KINDS or any(line.strip() for line in lines):
        return
    if name.rsplit(".", 1)[-1].startswith("_"):
        return
    logger.warning(f"{what} {name} has no docstring (the API reference documents every public "
                   "module, class and function)", type="lucchi-repro", subtype="docstring")


def _napoleon_skips_data(app) -> None:
    """Napoleon reads ``#: Kinds of claims: ...`` above a constant as ``type: description`` and
    makes ``Kinds of claims`` a type reference. Constants and attributes keep their docstrings
    as written; napoleon still parses modules, classes and functions."""
    from sphinx.ext import napoleon

    for listener in list(app.events.listeners.get("autodoc-process-docstring", [])):
        if listener.handler is napoleon._process_docstring:
            app.disconnect(listener.id)

            def process(app, what, name, obj, options, lines):
                if what not in ("data", "attribute", "property"):
                    napoleon._process_docstring(app, what, name, obj, options, lines)

            app.connect("autodoc-process-docstring", process, priority=listener.priority)


def setup(app):
    """Register the extension with Sphinx (see the module docstring)."""
    _register_pybtex_styles()
    app.connect("builder-inited", _napoleon_skips_data)
    app.connect("builder-inited", _check_mathjax)
    app.connect("doctree-read", _rewrite_claims_cells)
    app.connect("doctree-resolved", _chapter_links)
    app.connect("html-page-context", _page_context, priority=900)
    app.add_directive("api-modules", ApiModules)
    app.connect("autodoc-process-docstring", _require_docstring)
    app.connect("missing-reference", _resolve_reexport)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
