"""``migrate rewrite``: the libcst codemod from legacy Keras to Keras 3.

``engine`` runs files (and notebooks, via ``notebook``) through the single-pass
rule pipeline in ``transform``, which applies the hooks the rule registry
(``registry``) finds in ``rules/`` (one module per rule, each declaring what it
hooks). Catalog, tables, templating and name resolution are core modules beside
them; see CONTRIBUTING.md ("Rewrite rules").
"""
