"""Renderers: each formats a ``Solution`` (symgrad.solve) in one format: text, JSON, LaTeX, Markdown, pictures.

``text``, ``json``, ``latex``, ``markdown`` and ``picture`` are the entry points, one per format.
The LaTeX and Markdown documents are built once as blocks (``blocks``): ``solution_blocks`` (with
``matrix_blocks``) builds a worked solution's, ``chain_rule`` a ``Derivation``'s symbolic chain rule
(no numbers); ``latex_writer`` and ``markdown_writer`` write blocks; ``notation`` prints lecture
names and derivatives; ``node_text`` tokenises a node's definition as written. These builders and
writers read the object they are given and import neither chain.py nor solution.py, so that
``Derivation.latex()`` and ``Solution.latex()`` can call them.
"""
