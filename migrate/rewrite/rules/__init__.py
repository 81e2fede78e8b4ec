"""Rules of the codemod: data tables (``tables``, ``catalog``) and one module per structural rule."""
